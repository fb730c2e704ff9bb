// `npm run sandbox` options: command-line flags win over SANDBOX_* environment variables, which
// win over the defaults (ports 3203/3100 as in Ppoppo's local docs, DB .data/sandbox.sqlite; the
// rest as in options.ts: consent first, rate limit and quota on).
import { parseArgs } from 'node:util';
import { DEFAULT_APP, parseDurationMs, toMix, type SandboxOptions } from '../../src/sandbox/options';

const FLAGS = {
  host: 'SANDBOX_HOST',
  'grpc-port': 'SANDBOX_GRPC_PORT',
  'http-port': 'SANDBOX_HTTP_PORT',
  db: 'SANDBOX_DB',
  'client-id': 'SANDBOX_CLIENT_ID',
  'client-secret': 'SANDBOX_CLIENT_SECRET',
  'inspect-token': 'SANDBOX_INSPECT_TOKEN',
  'token-ttl': 'SANDBOX_TOKEN_TTL',
  'delivery-delay': 'SANDBOX_DELIVERY_DELAY',
  'consent-decision-delay': 'SANDBOX_CONSENT_DECISION_DELAY',
  'consent-decision-spread': 'SANDBOX_CONSENT_DECISION_SPREAD',
  'consent-window': 'SANDBOX_CONSENT_WINDOW',
  'poll-response-delay': 'SANDBOX_POLL_RESPONSE_DELAY',
  'outcome-mix': 'SANDBOX_OUTCOME_MIX',
  'rate-limit-rps': 'SANDBOX_RATE_LIMIT_RPS',
  'rate-limit-burst': 'SANDBOX_RATE_LIMIT_BURST',
  'monthly-quota': 'SANDBOX_MONTHLY_QUOTA',
  'stream-max-events': 'SANDBOX_STREAM_MAX_EVENTS',
  'stream-max': 'SANDBOX_STREAM_MAX',
} as const;

type Flag = keyof typeof FLAGS;

export const USAGE = `npm run sandbox -- [--flag value]  (or the SANDBOX_* variable)\n${Object.entries(FLAGS)
  .map(([flag, env]) => `  --${flag.padEnd(24)} ${env}`)
  .join('\n')}
Durations: 1500ms, 30s, 5m, 24h. Rate limit (default 10 requests/s) and monthly quota (default 1000000): "off" turns them off.
Outcome mix: delivered/granted/denied/failed/expired/grantedThenFailed weights, default 0/70/15/0/10/5 (delivered and
failed: consent already on file). Decision spread: median/latest as fractions of the consent window, default 0.0833/0.95.`;

function integer(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${text}"`);
  return n;
}

export function sandboxOptionsFrom(argv: string[], env: NodeJS.ProcessEnv): SandboxOptions & { dbPath: string } {
  const { values } = parseArgs({ args: argv, options: Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' }])), strict: true });
  const get = (flag: Flag): string | undefined => (values[flag] as string | undefined) ?? (env[FLAGS[flag]] || undefined);
  const duration = (flag: Flag) => (get(flag) === undefined ? undefined : parseDurationMs(get(flag)!));
  const int = (flag: Flag) => (get(flag) === undefined ? undefined : integer(`--${flag}`, get(flag)!));

  const options: SandboxOptions & { dbPath: string } = {
    host: get('host') ?? '127.0.0.1',
    grpcPort: int('grpc-port') ?? 3203,
    httpPort: int('http-port') ?? 3100,
    dbPath: get('db') ?? '.data/sandbox.sqlite',
    apps: [{ ...DEFAULT_APP, clientId: get('client-id') ?? DEFAULT_APP.clientId, clientSecret: get('client-secret') ?? DEFAULT_APP.clientSecret }],
    inspectToken: get('inspect-token'),
    tokenTtlSeconds: int('token-ttl'),
    deliveryDelayMs: duration('delivery-delay'),
    consentDecisionDelayMs: duration('consent-decision-delay'),
    consentWindowMs: duration('consent-window'),
    pollResponseDelayMs: duration('poll-response-delay'),
    monthlyQuota: get('monthly-quota') === 'off' ? null : int('monthly-quota'),
    streamMaxEvents: int('stream-max-events'),
    streamMaxMs: duration('stream-max'),
  };
  const rps = get('rate-limit-rps');
  if (rps === 'off') options.rateLimit = null;
  else if (rps !== undefined) {
    const requestsPerSecond = Number(rps);
    if (!(requestsPerSecond > 0)) throw new Error(`--rate-limit-rps must be a positive number or "off", got "${rps}"`);
    options.rateLimit = { requestsPerSecond, burst: int('rate-limit-burst') };
  }
  const mix = get('outcome-mix');
  if (mix !== undefined) {
    const parts = mix.split('/').map(Number);
    if ((parts.length !== 5 && parts.length !== 6) || parts.some((n) => !(n >= 0))) throw new Error(`--outcome-mix must be five or six numbers like 0/70/15/0/10/5, got "${mix}"`);
    const [delivered, consentGranted, consentDenied, failed, consentExpired, grantedThenFailed = 0] = parts as number[];
    options.outcomeMix = toMix({ delivered, consentGranted, consentDenied, failed, consentExpired, grantedThenFailed });
  }
  const spread = get('consent-decision-spread');
  if (spread !== undefined) {
    const [median, latest] = spread.split('/').map(Number);
    if (!(median! > 0 && latest! > 0)) throw new Error(`--consent-decision-spread must be median/latest fractions of the window, like 0.0833/0.95, got "${spread}"`);
    options.consentDecisionSpread = { median: median!, latest: latest! };
  }
  return options;
}
