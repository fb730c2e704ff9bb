// The chunk's "Current Details" in the Web UI: phase, send request, recipients per state.
// PURE: no Temporal imports.
import { consentLine } from '../../src/campaign/consent';
import { PARK_REASON_TEXT } from '../../src/contracts/campaign';
import type { ChunkProgress } from '../../src/contracts/chunk';
import { table, thousands } from '../markdown';

export function chunkDetails(progress: ChunkProgress): string {
  const requests = progress.sendRequests;
  const sentAs = requests ? ` · ${requests.sent} of ${requests.total} send requests accepted, the first \`${progress.sendRequestId ?? '–'}\`` : progress.sendRequestId ? ` · send request \`${progress.sendRequestId}\`` : '';
  const heading = `**chunk ${progress.chunkIndex} · ${progress.phase.replaceAll('_', ' ')}**${sentAs}`;
  const flags = [
    progress.paused && (!progress.sendRequestId || (requests !== undefined && requests.sent < requests.total)) ? 'paused' : '',
    progress.unread ? `${thousands(progress.recipients)} recipients, read at the send` : '',
    progress.cancelled ? 'cancelled' : '',
    progress.blocked ? `held since ${progress.blocked.since}: ${PARK_REASON_TEXT[progress.blocked.reason]} (${progress.blocked.message}); next try at ${progress.blocked.retryAt}` : '',
    progress.retryAt ? `next attempt at ${progress.retryAt}` : '',
    progress.sendAttempts > 1 ? `${progress.sendAttempts} send attempts` : '',
    progress.run > 1 ? `run ${progress.run}` : '',
  ].filter(Boolean);
  const rows = Object.entries(progress.states).map(([state, n]): [string, string] => [state.replaceAll('_', ' '), thousands(n ?? 0)]);
  const consent = consentLine(progress.consent);
  return [heading, flags.join(' · '), rows.length > 0 ? table(['state', 'recipients'], rows) : '', consent ? `consent: ${consent}` : ''].filter(Boolean).join('\n\n');
}
