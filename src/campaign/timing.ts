// Start time, deadline and throttle as people read them (status, watch, list, the Web UI's details).
// PURE: workflow code imports this module.
import type { CampaignProgress } from '../contracts/campaign';
import { thousands } from '../text';
import { windowAt } from './send-window';

/** What the campaign's clock holds it to: "scheduled for …", "deadline … (passed)", "throttled to N/min". */
export function timingText(progress: CampaignProgress, now = Date.now()): string {
  const parts: string[] = [];
  const window = progress.sendWindow;
  if (window && progress.status !== 'scheduled') {
    const state = windowAt(window, now);
    const hours = `${window.from}–${window.until} ${window.timeZone}`;
    parts.push(state.open ? `send window open (${hours}) until ${new Date(state.changesAt).toISOString()}` : `send window opens ${new Date(state.changesAt).toISOString()} (${hours})`);
  }
  if (progress.status === 'scheduled' && progress.scheduledFor) parts.push(`scheduled for ${progress.scheduledFor}`);
  if (progress.deadline) parts.push(`deadline ${progress.deadline}${progress.deadlinePassed ? ' (passed: nothing more is sent)' : ''}`);
  if (progress.throttle !== undefined) parts.push(`throttled to ${thousands(progress.throttle)} recipients/min`);
  return parts.join(' · ');
}
