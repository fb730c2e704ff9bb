// `npm run sandbox` options: command-line flags win over SANDBOX_* environment variables, which
// win over the defaults (ports 3203/3100 as in Ppoppo's local docs, DB .data/sandbox.sqlite).
import { parseArgs } from 'node:util';
import { DEFAULT_APP, parseDurationMs, type SandboxOptions } from '../../src/sandbox/options';

const FLAGS = {
  host: 'SANDBOX_HOST',
  'grpc-port': 'SANDBOX_GRPC_PORT',
  'http-port': 'SANDBOX_HTTP_PORT',
  db: 'SANDBOX_DB',
  'client-id': 'SANDBOX_CLIENT_ID',
  'client-secret': 'SANDBOX_CLIENT_SECRET',
  'token-ttl': 'SANDBOX_TOKEN_TTL',
  'delivery-delay': 'SANDBOX_DELIVERY_DELAY',
  'consent-decision-delay': 'SANDBOX_CONSENT_DECISION_DELAY',
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
  .join('\n')}\nDurations: 1500ms, 30s, 5m, 24h. Outcome mix: delivered/granted/denied/failed/expired, e.g. 80/8/5/5/2.`;

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
    tokenTtlSeconds: int('token-ttl'),
    deliveryDelayMs: duration('delivery-delay'),
    consentDecisionDelayMs: duration('consent-decision-delay'),
    consentWindowMs: duration('consent-window'),
    pollResponseDelayMs: duration('poll-response-delay'),
    monthlyQuota: int('monthly-quota') ?? null,
    streamMaxEvents: int('stream-max-events'),
    streamMaxMs: duration('stream-max'),
  };
  const rps = get('rate-limit-rps');
  if (rps !== undefined) {
    const requestsPerSecond = Number(rps);
    if (!(requestsPerSecond > 0)) throw new Error(`--rate-limit-rps must be a positive number, got "${rps}"`);
    options.rateLimit = { requestsPerSecond, burst: int('rate-limit-burst') };
  }
  const mix = get('outcome-mix');
  if (mix !== undefined) {
    const parts = mix.split('/').map(Number);
    if (parts.length !== 5 || parts.some((n) => !(n >= 0))) throw new Error(`--outcome-mix must be five numbers like 80/8/5/5/2, got "${mix}"`);
    const [delivered, consentGranted, consentDenied, failed, consentExpired] = parts as [number, number, number, number, number];
    options.outcomeMix = { delivered, consentGranted, consentDenied, failed, consentExpired };
  }
  return options;
}
