// The campaign's texts for the Web UI: "Current Details" (status, counts per outcome, chunk phases)
// and the summary its chunks are started with. Counts and ids only, never a recipient's data.
// PURE: no Temporal imports.
import { consentLine } from '../../src/campaign/consent';
import { RECIPIENT_OUTCOMES, countRecipients } from '../../src/campaign/outcomes';
import type { ChunkSource } from '../../src/campaign/chunk-source';
import { PARK_REASON_TEXT } from '../../src/contracts/campaign';
import type { CampaignProgress } from '../../src/contracts/campaign';
import { timingText } from '../../src/campaign/timing';
import { table, thousands } from '../markdown';

export function campaignDetails(progress: CampaignProgress): string {
  const { counts } = progress;
  const done = countRecipients(counts);
  const heading = `**${progress.status}**${parkedText(progress)} · ${thousands(done)} of ${thousands(progress.total)} recipients done`;

  const outcomes: [string, string][] = [];
  if (progress.awaitingOutcome > 0) outcomes.push(['awaiting outcome', thousands(progress.awaitingOutcome)]);
  for (const outcome of RECIPIENT_OUTCOMES) if (counts[outcome] > 0) outcomes.push([outcome, thousands(counts[outcome])]);
  if (counts.fallbackSent > 0) outcomes.push(['fallback sent', thousands(counts.fallbackSent)]);
  if (counts.fallbackFailed > 0) outcomes.push(['fallback failed', thousands(counts.fallbackFailed)]);

  const chunks: [string, string][] = [
    ['planned', thousands(progress.chunksTotal)],
    ['started', thousands(progress.chunksStarted)],
    ['sent', thousands(progress.chunksSent)],
    ['finished', thousands(progress.chunksFinished)],
  ];
  const parts = [heading];
  const timing = timingText(progress);
  if (timing) parts.push(timing);
  if (progress.status === 'parked' && progress.parkedMessage) parts.push(`Waiting for: ${progress.parkedMessage}. Nobody's outcome changes meanwhile; it tries again by itself, or now on resume.`);
  if (progress.failure) parts.push(`Failed: ${progress.failure}`);
  if (progress.retryOf) parts.push(`Retries the ${progress.retryOf.outcome} recipients of campaign ${progress.retryOf.campaignId}.`);
  if (outcomes.length > 0) parts.push(table(['recipients', 'count'], outcomes));
  if (progress.chunksTotal > 0) parts.push(table(['chunks', 'count'], chunks));
  const consent = consentLine(progress.consent);
  if (consent) parts.push(`consent: ${consent}`);
  return parts.join('\n\n');
}

/** " until … (rate limit)" for a server's wait; " since … (API credentials refused)" for a configuration fault. */
export function parkedText(progress: CampaignProgress): string {
  if (progress.status !== 'parked' || !progress.parkedReason) return '';
  const reason = PARK_REASON_TEXT[progress.parkedReason];
  const configuration = progress.parkedReason !== 'rate' && progress.parkedReason !== 'quota';
  if (configuration) return ` since ${progress.parkedSince ?? progress.parkedUntil} (${reason})`;
  return progress.parkedUntil ? ` until ${progress.parkedUntil} (${reason})` : ` (${reason})`;
}

/** The static summary a chunk workflow is started with (the Web UI's Summary panel). */
export function chunkSummary(campaignId: string, chunkIndex: number, chunksTotal: number, source: ChunkSource['kind']): string {
  return `campaign ${campaignId} · chunk ${chunkIndex + 1} of ${thousands(chunksTotal)} · ${source === 'followUp' ? 'follow-up' : source} recipients`;
}
