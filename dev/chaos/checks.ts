// The promises, checked after a campaign against the parties that saw it happen: the sandbox's
// delivery ledger (who was messaged, and how it ended), the fallback receiver (who got a fallback),
// and the campaign's own per-recipient report.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FallbackTrigger, RecipientOutcome } from '../../src/campaign/outcomes';
import { RECIPIENT_OUTCOMES, countRecipients } from '../../src/campaign/outcomes';
import type { LedgerEntry } from '../sandbox/inspector';
import type { CampaignResult } from '../../src/contracts/campaign';
import type { RecipientRecord } from '../../src/contracts/chunk';
import type { InjectedFault } from './faults';
import type { WebhookReceiver } from '../receivers';
import type { Stack } from '../stack/start-stack';

export interface Check {
  name: string;
  ok: boolean;
  detail?: string;
}

/** The outcome the API itself reports for a message, or undefined while it is not final. */
export function ledgerOutcome(entry: LedgerEntry): RecipientOutcome | undefined {
  if (entry.status === 'DELIVERED') return 'delivered';
  if (entry.status !== 'FAILED') return undefined;
  if (entry.errorCode === 'CONSENT_DENIED') return 'denied';
  if (entry.errorCode === 'CONSENT_EXPIRED') return 'expired';
  return 'failed';
}

export interface CampaignEvidence {
  stack: Stack;
  campaignId: string;
  /** Every valid recipient of the campaign's input. */
  ppnums: string[];
  fallbackOn: FallbackTrigger[];
  receiver: WebhookReceiver;
  result: CampaignResult;
  faults?: InjectedFault[];
  /** The app's rate limit as the sandbox enforces it. */
  rateLimit?: { requestsPerSecond: number; burst: number };
  /** Each recipient's variables in the source: a fallback must carry them. */
  vars?: Map<string, Record<string, string>>;
}

const sample = (items: string[]) => (items.length > 5 ? `${items.slice(0, 5).join(', ')} … (${items.length})` : items.join(', '));

export async function checkCampaign(evidence: CampaignEvidence): Promise<Check[]> {
  const { stack, campaignId, ppnums, result, receiver } = evidence;
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail?: string) => checks.push({ name, ok, ...(detail ? { detail } : {}) });

  check('campaign completed', result.status === 'completed', `status ${result.status}`);
  check('summary counts add up to the recipients', countRecipients(result.counts) === ppnums.length && result.total === ppnums.length, `${countRecipients(result.counts)} outcomes, total ${result.total}, input ${ppnums.length}`);

  const records: RecipientRecord[] = [];
  for await (const record of stack.campaigns.recipients(campaignId)) records.push(record);
  const byPpnum = new Map<string, RecipientRecord>();
  const reportedTwice: string[] = [];
  for (const record of records) {
    if (byPpnum.has(record.ppnum)) reportedTwice.push(record.ppnum);
    byPpnum.set(record.ppnum, record);
  }
  const withoutOutcome = records.filter((r) => r.outcome === undefined).map((r) => r.ppnum);
  const missingFromReport = ppnums.filter((p) => !byPpnum.has(p));
  check('every recipient has exactly one final outcome', reportedTwice.length === 0 && withoutOutcome.length === 0 && missingFromReport.length === 0,
    `${records.length} reported; twice: ${reportedTwice.length}; no outcome: ${sample(withoutOutcome)}; missing: ${sample(missingFromReport)}`);
  const reportCounts = Object.fromEntries(RECIPIENT_OUTCOMES.map((o) => [o, records.filter((r) => r.outcome === o).length]));
  check('report agrees with the summary', RECIPIENT_OUTCOMES.every((o) => reportCounts[o] === result.counts[o]), JSON.stringify(reportCounts));

  const ledger = await stack.inspector.messages();
  const messaged = new Map<string, LedgerEntry>();
  for (const entry of ledger) messaged.set(entry.ppnum, entry);
  const duplicates = await stack.inspector.duplicates();
  check('nobody messaged twice', duplicates.length === 0, `${ledger.length} messages in the ledger; duplicates: ${sample(duplicates.map((d) => `${d.ppnum}×${d.times}`))}`);
  const skipped = ppnums.filter((p) => !messaged.has(p));
  check('nobody skipped', skipped.length === 0, skipped.length ? `never messaged: ${sample(skipped)}` : `${messaged.size} recipients messaged`);

  const disagree: string[] = [];
  for (const ppnum of ppnums) {
    const entry = messaged.get(ppnum);
    const reported = byPpnum.get(ppnum)?.outcome;
    if (!entry) continue;
    const truth = ledgerOutcome(entry);
    if (truth !== reported) disagree.push(`${ppnum}: report ${reported ?? 'none'}, ledger ${entry.status}${entry.errorCode ? `/${entry.errorCode}` : ''}`);
  }
  check('every outcome matches the ledger', disagree.length === 0, disagree.length ? sample(disagree) : undefined);

  const policy = new Set<RecipientOutcome>(evidence.fallbackOn);
  const expected = new Set(records.filter((r) => r.outcome !== undefined && policy.has(r.outcome)).map((r) => r.ppnum));
  const bodies = receiver.requests.map((request) => JSON.parse(request.body) as { idempotencyKey: string; ppnum: string; campaignId: string });
  const keys = new Map<string, number>();
  for (const body of bodies) keys.set(body.idempotencyKey, (keys.get(body.idempotencyKey) ?? 0) + 1);
  const received = new Set(bodies.map((b) => b.ppnum));
  const unexpected = [...received].filter((p) => !expected.has(p));
  const notReceived = [...expected].filter((p) => !received.has(p));
  const repeatedKeys = [...keys.values()].filter((n) => n > 1).length;
  const oneKeyPerRecipient = new Set(bodies.map((b) => `${b.ppnum}|${b.idempotencyKey}`)).size === received.size;
  check('fallback reached exactly the recipients the policy names', unexpected.length === 0 && notReceived.length === 0,
    `${expected.size} expected, ${received.size} received; unexpected: ${sample(unexpected)}; missing: ${sample(notReceived)}`);
  // A webhook is at-least-once on the wire (a worker killed mid-batch retries what it had not yet
  // recorded); the idempotency key makes it once for the receiver. Repeats are reported, not hidden.
  check('fallback once per recipient (one idempotency key each)', oneKeyPerRecipient,
    `${bodies.length} webhook requests for ${received.size} recipients; ${repeatedKeys} keys repeated on the wire`);

  if (evidence.vars) {
    const wrong = bodies.filter((b) => JSON.stringify((b as { vars?: unknown }).vars) !== JSON.stringify(evidence.vars!.get(b.ppnum))).map((b) => b.ppnum);
    check("every fallback carries its recipient's variables from the source", wrong.length === 0, wrong.length ? `wrong or missing vars: ${sample(wrong)}` : `${bodies.length} checked`);
  }

  // The sandbox refuses what exceeds its token bucket, so "accepted" can never exceed the limit; what
  // tells whether WE kept to it is how many calls arrived per second, and how many were refused.
  const stats = await stack.inspector.stats();
  const lives = [...(evidence.faults ?? []).flatMap((f) => (f.sandboxBeforeRestart ? [f.sandboxBeforeRestart] : [])), { rateLimitRefusals: stats.rateLimitRefusals, maxCallsInAnySecond: stats.createSendRequest.maxCallsInAnySecond }];
  const refusals = lives.reduce((n, life) => n + life.rateLimitRefusals, 0);
  const maxCalls = Math.max(...lives.map((life) => life.maxCallsInAnySecond));
  const limit = evidence.rateLimit;
  if (limit) {
    check('rate limit never exceeded', maxCalls <= limit.requestsPerSecond + limit.burst,
      `at most ${maxCalls} CreateSendRequest calls in any second (the API's token bucket: ${limit.requestsPerSecond}/s with a burst of ${limit.burst}, so at most ${limit.requestsPerSecond + limit.burst}); ${refusals} refused by the rate limit and retried after retry-after-ms`);
  }
  return checks;
}

/**
 * Secrets must never reach a workflow payload, a history or a log, and recipients (`personal`, e.g.
 * ppnums) must not be in cleartext there (payloads are encrypted; logs redact). Scans every byte the
 * stack persisted (the dev server's SQLite file and its WAL, or the production server's databases
 * dumped to temporal.pgdump: where histories, inputs and memos live) and the logs of our processes
 * and the Temporal server. The canary is a string that IS in cleartext in the database (the campaign
 * id: workflow ids, search attributes), proving the scan reads it at all. `notLogged` are strings the
 * spec itself holds (so its history does too, encrypted, e.g. a presigned URL's signature) that must
 * still never reach a log.
 */
export function checkNoSecrets(dir: string, secrets: string[], personal: string[], canary: string, notLogged: string[] = []): Check {
  // The sandbox's own log is left out: it is the API's stand-in and prints its test credentials.
  const ours = (f: string) => f.startsWith('temporal.') || f.startsWith('worker-') || f.startsWith('listener');
  const files = readdirSync(dir).filter(ours).map((f) => join(dir, f)).filter((f) => statSync(f, { throwIfNoEntry: false })?.isFile());
  const leaks: string[] = [];
  let canarySeen = false;
  let scanned = 0;
  for (const file of files) {
    // A running server's SQLite journal comes and goes: one gone since the listing holds nothing now.
    const bytes = readIfPresent(file);
    if (!bytes) continue;
    scanned++;
    const persisted = /temporal\.(db|pgdump)/.test(file);
    if (persisted && bytes.includes(canary)) canarySeen = true;
    for (const secret of persisted ? secrets : [...secrets, ...notLogged]) if (bytes.includes(secret)) leaks.push(`${secret.slice(0, 3)}… in ${file}`);
    for (const value of personal) if (bytes.includes(value)) leaks.push(`recipient …${value.slice(-4)} in ${file}`);
  }
  return {
    name: 'no secret or recipient in cleartext in any history, payload or log',
    ok: canarySeen && leaks.length === 0,
    detail: `${scanned} files scanned for ${secrets.length + notLogged.length} secrets and ${personal.length} ppnums; ${canarySeen ? 'the database is readable to the scan' : 'CANARY NOT FOUND: the scan cannot read the database'}${leaks.length ? `; leaks: ${leaks.slice(0, 10).join(', ')}` : ''}`,
  };
}

function readIfPresent(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
