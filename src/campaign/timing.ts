// Start time, deadline and throttle as people read them (status, watch, list, the Web UI's details).
// PURE: workflow code imports this module.
import type { CampaignProgress } from '../contracts/campaign';
import { thousands } from '../text';
import { localTime, windowAt } from './send-window';
import type { SendWindow } from './send-window';

/** What the campaign's clock holds it to: "scheduled for …", "send window opens 09:00 Asia/Seoul …", "deadline … (passed)", "throttled to N/min". */
export function timingText(progress: CampaignProgress, now = Date.now()): string {
  const parts: string[] = [];
  const window = progress.sendWindow;
  if (window && progress.status !== 'scheduled') parts.push(progress.pendingTimeZones ? zonesText(window, progress.pendingTimeZones, now) : windowText(window, now));
  if (progress.status === 'scheduled' && progress.scheduledFor) parts.push(`scheduled for ${progress.scheduledFor}`);
  if (progress.deadline) parts.push(`deadline ${progress.deadline}${progress.deadlinePassed ? ' (passed: nothing more is sent)' : ''}`);
  if (progress.throttle !== undefined) parts.push(`throttled to ${thousands(progress.throttle)} recipients/min`);
  return parts.join(' · ');
}

function windowText(window: SendWindow, now: number): string {
  const state = windowAt(window, now);
  const hours = `${window.from}–${window.until} ${window.timeZone}`;
  return state.open ? `send window open (${hours}) until ${new Date(state.changesAt).toISOString()}` : `send window opens ${new Date(state.changesAt).toISOString()} (${hours})`;
}

/** Recipients in their own zones: where the window is open now, and the earliest opening among the zones still waiting. */
function zonesText(window: SendWindow, zones: string[], now: number): string {
  const states = zones.map((timeZone) => ({ timeZone, ...windowAt({ ...window, timeZone }, now) }));
  const open = states.filter((state) => state.open).map((state) => state.timeZone);
  const waiting = states.filter((state) => !state.open).sort((a, b) => a.changesAt - b.changesAt);
  const hours = `${window.from}–${window.until} local`;
  const openText = open.length === 0 ? '' : `open in ${open.slice(0, 3).join(', ')}${open.length > 3 ? ` and ${open.length - 3} more zones` : ''}`;
  const first = waiting[0];
  if (!first) return `send window (${hours}) ${openText}`;
  const opens = `send window opens ${localTime(first.changesAt, first.timeZone)} ${first.timeZone} (${new Date(first.changesAt).toISOString()}; ${hours}${waiting.length > 1 ? `, ${waiting.length - 1} more zones later` : ''})`;
  return openText ? `${opens}; ${openText}` : opens;
}
