// The campaign CLI's program: `main(argv, io)` parses a command line, runs the command and returns its
// exit code (src/cli/main.ts is the process entry: `npm run campaign`, the `ppoppo-campaign` command).
// Exit codes: 0 ok, 1 campaign or validation failure, 2 usage error, 3 not found, 4 cannot connect,
// 5 already running (nothing started), 6 already finished (nothing started or changed).
import { Console } from 'node:console';
import { parseArgs } from 'node:util';
import { ConfigError } from '../api/config';
import { PpoppoApiError, UnavailableError } from '../api/errors';
import {
  AlertFailedError,
  CampaignFailedError,
  CampaignFinishedError,
  CampaignNotFoundError,
  CampaignStillRunningError,
  CampaignStuckError,
  ChunkUnreadableError,
  ControlRefusedError,
  InvalidScheduleError,
  InvalidSpecError,
  NoWorkerError,
  ScheduleExistsError,
  ScheduleNotFoundError,
  SpecMismatchError,
} from '../client/campaigns';
import * as commands from './commands';
import type { CliIo, CommandContext, Flags } from './commands';
import { CliError, EXIT } from './errors';
import type { ExitCode } from './errors';

type FlagName = keyof Flags;

interface CommandDef {
  usage: string;
  /** Number of positional arguments: exact, or [min, max]. */
  args: [number, number];
  flags: FlagName[];
  run(ctx: CommandContext): Promise<ExitCode>;
}

const QUEUES: FlagName[] = ['task-queue', 'send-task-queue'];

const COMMANDS: Record<string, CommandDef> = {
  start: {
    usage: 'start <spec.json|spec.yaml> [--recipients file.csv|file.ndjson] [--wait] [--force-new-run]',
    args: [1, 1],
    flags: ['recipients', 'wait', 'force-new-run', 'interval', ...QUEUES],
    run: commands.start,
  },
  validate: { usage: 'validate <spec.json|spec.yaml> [--recipients file]', args: [1, 1], flags: ['recipients'], run: commands.validate },
  preview: { usage: 'preview <spec.json|spec.yaml> [--row N] [--recipients file]', args: [1, 1], flags: ['row', 'recipients'], run: commands.preview },
  status: { usage: 'status <campaignId>', args: [1, 1], flags: QUEUES, run: commands.status },
  repair: { usage: 'repair <campaignId> [--dry-run]', args: [1, 1], flags: ['dry-run', ...QUEUES], run: commands.repair },
  watch: { usage: 'watch <campaignId> [--interval ms]', args: [1, 1], flags: ['interval', ...QUEUES], run: commands.watch },
  list: { usage: 'list [--status scheduled|running|parked|paused|completed|cancelled|failed|...]', args: [0, 0], flags: ['status', ...QUEUES], run: commands.list },
  pause: { usage: 'pause <campaignId>', args: [1, 1], flags: QUEUES, run: commands.control('pause') },
  resume: { usage: 'resume <campaignId>', args: [1, 1], flags: QUEUES, run: commands.control('resume') },
  cancel: { usage: 'cancel <campaignId>', args: [1, 1], flags: QUEUES, run: commands.control('cancel') },
  throttle: { usage: 'throttle <campaignId> <recipientsPerMinute|off>', args: [2, 2], flags: QUEUES, run: commands.throttle },
  retry: {
    usage: 'retry <campaignId> --outcome failed|expired|fallback-failed [--wait]',
    args: [1, 1],
    flags: ['outcome', 'wait', 'force-new-run', 'interval', ...QUEUES],
    run: commands.retry,
  },
  report: { usage: 'report <campaignId> [--format csv|json] [--out file] [--outcome delivered|failed|denied|...]', args: [1, 1], flags: ['format', 'out', 'outcome', ...QUEUES], run: commands.report },
  recipient: { usage: 'recipient <campaignId> <ppnum>', args: [2, 2], flags: QUEUES, run: commands.recipient },
  'schedule create': {
    usage: 'schedule create <spec.json|spec.yaml> --cron "0 9 * * MON" | --every 1h [--time-zone Asia/Seoul] [--overlap skip|buffer-one|allow-all]',
    args: [1, 1],
    flags: ['cron', 'every', 'time-zone', 'overlap', 'recipients', ...QUEUES],
    run: commands.scheduleCreate,
  },
  'schedule list': { usage: 'schedule list', args: [0, 0], flags: QUEUES, run: commands.scheduleList },
  'schedule pause': { usage: 'schedule pause <scheduleId>', args: [1, 1], flags: QUEUES, run: commands.scheduleControl('pause') },
  'schedule resume': { usage: 'schedule resume <scheduleId>', args: [1, 1], flags: QUEUES, run: commands.scheduleControl('resume') },
  'schedule delete': { usage: 'schedule delete <scheduleId>', args: [1, 1], flags: QUEUES, run: commands.scheduleControl('delete') },
  'template create': { usage: 'template create <template.json>', args: [1, 1], flags: [], run: commands.templateCreate },
  alert: { usage: 'alert <ppnum...> --text "message"', args: [1, Infinity], flags: ['text', ...QUEUES], run: commands.alert },
};

const FLAG_TYPES: Record<FlagName, 'string' | 'boolean'> = {
  json: 'boolean',
  wait: 'boolean',
  recipients: 'string',
  format: 'string',
  out: 'string',
  text: 'string',
  'task-queue': 'string',
  'send-task-queue': 'string',
  interval: 'string',
  'force-new-run': 'boolean',
  outcome: 'string',
  status: 'string',
  row: 'string',
  cron: 'string',
  every: 'string',
  'time-zone': 'string',
  overlap: 'string',
  'dry-run': 'boolean',
};

const HELP = [
  'usage: npm run campaign -- <command> [args] [--json]',
  '',
  'commands:',
  ...Object.values(COMMANDS).map((def) => `  ${def.usage}`),
  '',
  'every command accepts --json (machine-readable output).',
  'start/status/watch/... also accept --task-queue Q (env CAMPAIGN_TASK_QUEUE) and --send-task-queue Q (env CAMPAIGN_SEND_TASK_QUEUE).',
  'Temporal: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*; API: PCS_API_URL, PAS_TOKEN_URL, PAS_PCS_CLIENT_ID, PAS_PCS_CLIENT_SECRET.',
  'Payload encryption (the workers\' keys): PAYLOAD_KEY_FILE or PAYLOAD_KEYS (npm start prints them), or PAYLOAD_ENCRYPTION=off for local play.',
  'validate also applies the workers\' RECIPIENT_FILE_ROOTS and FALLBACK_ALLOWED_HOSTS when they are set.',
  'A .env file in the working directory (or ENV_FILE) is read; variables already set win.',
  'exit codes: 0 ok, 1 campaign or validation failure, 2 usage error (also: a different spec under a taken campaign id), 3 not found, 4 cannot connect,',
  '  5 already running (nothing started), 6 already finished (nothing started or changed).',
].join('\n');

const HELP_COMMAND: CommandDef = {
  usage: 'help',
  args: [0, 0],
  flags: [],
  run: (ctx) => {
    ctx.print(HELP);
    return Promise.resolve(EXIT.ok);
  },
};

function findCommand(argv: string[]): { name: string; def: CommandDef; rest: string[] } {
  const [first, second] = argv;
  if (first === undefined) throw new CliError(HELP, EXIT.usage);
  if (first === 'help' || first === '--help' || first === '-h') return { name: 'help', def: HELP_COMMAND, rest: [] };
  const two = `${first} ${second ?? ''}`;
  if (COMMANDS[two]) return { name: two, def: COMMANDS[two], rest: argv.slice(2) };
  if (first === 'template') throw new CliError(`unknown template command "${second ?? ''}"; use: template create <template.json>`, EXIT.usage);
  if (first === 'schedule') throw new CliError(`unknown schedule command "${second ?? ''}"; use: schedule create|list|pause|resume|delete`, EXIT.usage);
  const def = COMMANDS[first];
  if (!def) throw new CliError(`unknown command "${first}"; commands: ${Object.keys(COMMANDS).join(', ')} (run with --help)`, EXIT.usage);
  return { name: first, def, rest: argv.slice(1) };
}

function parseCommand(argv: string[]): { name: string; def: CommandDef; args: string[]; flags: Flags } {
  const { name, def, rest } = findCommand(argv);
  const options = Object.fromEntries(['json', ...def.flags].map((flag) => [flag, { type: FLAG_TYPES[flag as FlagName] }]));
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\nusage: npm run campaign -- ${def.usage} [--json]`, EXIT.usage);
  }
  const [min, max] = def.args;
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw new CliError(`${name}: expected ${min === max ? min : `${min} or more`} argument(s), got ${parsed.positionals.length}\nusage: npm run campaign -- ${def.usage} [--json]`, EXIT.usage);
  }
  return { name, def, args: parsed.positionals, flags: parsed.values as Flags };
}

const ALERT_EXIT: Record<AlertFailedError['kind'], ExitCode> = { invalid: EXIT.usage, noWorker: EXIT.cannotConnect, unreachable: EXIT.cannotConnect, refused: EXIT.failure, unknown: EXIT.failure };

/** Maps any error to a message and an exit code; never prints a stack for expected failures. */
function exitCodeFor(err: unknown): { message: string; code: ExitCode } {
  if (err instanceof CliError) return { message: err.message, code: err.code };
  if (err instanceof InvalidScheduleError) return { message: err.message, code: EXIT.usage };
  if (err instanceof ScheduleNotFoundError) return { message: `${err.message}; see \`npm run campaign -- schedule list\``, code: EXIT.notFound };
  if (err instanceof ScheduleExistsError) return { message: err.message, code: EXIT.alreadyRunning };
  if (err instanceof CampaignNotFoundError) return { message: `${err.message}; check the id with \`npm run campaign -- list\``, code: EXIT.notFound };
  if (err instanceof InvalidSpecError) return { message: `${err.message}\nfix the spec (see \`npm run campaign -- validate <spec>\`)`, code: EXIT.failure };
  if (err instanceof SpecMismatchError) return { message: err.message, code: EXIT.usage };
  if (err instanceof ControlRefusedError || err instanceof CampaignFailedError || err instanceof CampaignStuckError || err instanceof ChunkUnreadableError) return { message: err.message, code: EXIT.failure };
  if (err instanceof CampaignFinishedError) return { message: err.message, code: EXIT.finished };
  if (err instanceof AlertFailedError) return { message: `alert: ${err.message}`, code: ALERT_EXIT[err.kind] };
  if (err instanceof CampaignStillRunningError) return { message: err.message, code: EXIT.alreadyRunning };
  if (err instanceof NoWorkerError) return { message: err.message, code: EXIT.cannotConnect };
  if (err instanceof ConfigError) return { message: `configuration: ${err.message}`, code: EXIT.usage };
  if (err instanceof UnavailableError) return { message: `cannot reach the Ppoppo API: ${err.message}; check PCS_API_URL`, code: EXIT.cannotConnect };
  if (err instanceof PpoppoApiError) return { message: `the Ppoppo API refused: ${err.message}`, code: EXIT.failure };
  const code = (err as { code?: unknown }).code;
  if (code === 14) return { message: `cannot connect: ${(err as Error).message}; check TEMPORAL_ADDRESS`, code: EXIT.cannotConnect };
  return { message: err instanceof Error ? `${err.name}: ${err.message}` : String(err), code: EXIT.failure };
}

/**
 * Runs one command line and returns its exit code. `io` is where it writes and the environment it
 * reads (default: this process's stdout, stderr and environment, as the `ppoppo-campaign` command).
 */
export async function main(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<ExitCode> {
  const output = new Console({ stdout: io.stdout, stderr: io.stderr });
  const temporal = { connector: undefined as ReturnType<typeof commands.temporalConnector> | undefined };
  try {
    const { def, args, flags } = parseCommand(argv);
    temporal.connector = commands.temporalConnector(flags, io.env);
    const connector = temporal.connector;
    return await def.run({ ...io, args, flags, print: (text) => output.log(text), campaigns: () => connector.get() });
  } catch (err) {
    const { message, code } = exitCodeFor(err);
    output.error(message);
    return code;
  } finally {
    await temporal.connector?.close().catch(() => undefined);
  }
}
