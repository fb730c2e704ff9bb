// Start time, deadline and throttle as people read them (status, watch, list, the Web UI's details).
// PURE: workflow code imports this module.
import type { CampaignProgress } from '../contracts/campaign';
import { thousands } from '../text';

/** What the campaign's clock holds it to: "scheduled for …", "deadline … (passed)", "throttled to N/min". */
export function timingText(progress: CampaignProgress): string {
  const parts: string[] = [];
  if (progress.status === 'scheduled' && progress.scheduledFor) parts.push(`scheduled for ${progress.scheduledFor}`);
  if (progress.deadline) parts.push(`deadline ${progress.deadline}${progress.deadlinePassed ? ' (passed: nothing more is sent)' : ''}`);
  if (progress.throttle !== undefined) parts.push(`throttled to ${thousands(progress.throttle)} recipients/min`);
  return parts.join(' · ');
}
