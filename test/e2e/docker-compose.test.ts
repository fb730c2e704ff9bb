// docker-compose.yml and the Dockerfile without a Docker engine: Debian's docker-compose (1.29, see
// scripts/system-deps.sh) parses and resolves the file with `config`, and the checks below tie it to
// the project: the worker and listener run the package's built commands from the Dockerfile's
// production stage (dist/ from the build stage, production dependencies only); every npm script the
// build stage runs or holds the entry of (the sandbox's) finds its entry and every file it imports
// there (test/support/docker-image.ts); every ${VARIABLE} is documented in .env.example; every
// variable our services get is one their code reads; both processes drain on SIGTERM and serve
// /metrics where deploy/prometheus/prometheus.yml scrapes; and `cp .env.example .env` does not point a
// container at its own loopback address.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';
import { PACKAGE_COMMANDS, builtCommandPath, type PackageCommand } from '../../scripts/package-commands';
import { importGraph, npmScriptsIn, readImage, scriptCommand, scriptEntry, type ImageContents } from '../support/docker-image';

const ROOT = new URL('../../', import.meta.url).pathname;
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const ENV_EXAMPLE = join(ROOT, '.env.example');

interface Service {
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] | string };
  restart?: string;
}

/** Runs `docker-compose -f docker-compose.yml --env-file <envFile> config [-q]` in the project. */
async function composeConfig(envFile: string, quiet = false): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('docker-compose', ['-f', COMPOSE_FILE, '--env-file', envFile, 'config', ...(quiet ? ['-q'] : [])], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME } }); // only .env decides, not this test process's variables
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failure = err as { code?: number | string; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new Error('docker-compose not found: apt-get install docker-compose (see .ci/run)');
    return { code: Number(failure.code ?? 1), stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

const raw = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string>; bin: Record<string, string> };
const packageScripts = packageJson.scripts;
const documented = new Set([...readFileSync(ENV_EXAMPLE, 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!));

/** Services built from this repository (the others are upstream images). */
const ourServices = Object.entries(raw.services).filter(([, service]) => service.build !== undefined);

/** Every string in a parsed YAML value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** The Dockerfile a service is built from. */
function dockerfileOf(service: Service): string {
  return join(ROOT, service.build!.context, service.build!.dockerfile ?? 'Dockerfile');
}

/** The package command a production container runs (`node [--flag ...] dist/bin/<name>.js [args]`), if it runs one. */
function packageCommandIn(words: string[]): PackageCommand | undefined {
  const file = words[0] === 'node' ? words.slice(1).find((word) => !word.startsWith('-')) : undefined;
  return (Object.keys(PACKAGE_COMMANDS) as PackageCommand[]).find((name) => builtCommandPath(name) === file);
}

/** Words of a health check's command (without CMD / CMD-SHELL). */
const healthCheckWords = (service: Service) => strings(service.healthcheck?.test).filter((word) => !['CMD', 'CMD-SHELL', 'NONE'].includes(word));

/** Files our code runs in a container: the graphs of every service's npm script, built command and health check. */
function serviceFiles(): string[] {
  const files = new Set<string>();
  for (const [, service] of ourServices) {
    const built = [packageCommandIn(strings(service.command)), packageCommandIn(healthCheckWords(service))].flatMap((name) => (name ? [PACKAGE_COMMANDS[name]] : []));
    const entries = [...npmScriptsIn(strings(service.command).join(' ')).map((script) => scriptEntry(packageScripts[script] ?? '')), healthCheckCommand(service)?.entry, ...built];
    for (const entry of entries) if (entry && existsSync(join(ROOT, entry))) for (const file of importGraph(ROOT, entry).files) files.add(file);
  }
  return [...files];
}

/** The file of ours a health check runs (e.g. `npx tsx scripts/task-queue-health.ts`), if any. */
function healthCheckCommand(service: Service): ReturnType<typeof scriptCommand> {
  return scriptCommand(healthCheckWords(service).join(' '));
}

/**
 * What keeps `npm run <script>` from running in the image, in plain words (empty when it can run):
 * its entry file, every file the entry imports (transitively), and the npm packages they import.
 */
function missingForScript(image: ImageContents, script: string): string[] {
  const command = packageScripts[script];
  if (command === undefined) return [`npm script "${script}" is not in package.json`];
  const run = scriptCommand(command);
  if (run === undefined) return []; // not a file run by tsx/node/bash (e.g. tsc, vitest): nothing to resolve
  return missingForFile(image, run.entry, `npm run ${script}`, run.runnerPackage);
}

/** `runnerPackage`: the npm package that runs the file (tsx), which must be installed too. */
function missingForFile(image: ImageContents, entry: string, what: string, runnerPackage?: string): string[] {
  if (!existsSync(join(ROOT, entry))) return [`${what}: ${entry} does not exist`];
  const graph = importGraph(ROOT, entry);
  const problems = graph.unresolved.map((unresolved) => `${what}: import ${unresolved} resolves to no file`);
  for (const file of graph.files) {
    if (!image.has(file)) problems.push(`${what}: ${graph.chains.get(file)!.join(' → ')} is not in the image (the Dockerfile copies ${image.copied.join(', ')}; see also .dockerignore)`);
  }
  const installed = image.omitsDevDependencies ? packageJson.dependencies : { ...packageJson.dependencies, ...packageJson.devDependencies };
  for (const name of [...graph.packages, ...(runnerPackage ? [runnerPackage] : [])]) if (!(name in installed)) problems.push(`${what}: package ${name} is not installed in the image`);
  return problems;
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose with no .env (defaults only) and with .env.example as .env', async () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'compose-')), 'empty.env');
    writeFileSync(empty, '');
    const bare = await composeConfig(empty, true);
    expect(bare.code, bare.stderr).toBe(0);
    const withExample = await composeConfig(ENV_EXAMPLE, true);
    expect(withExample.code, withExample.stderr).toBe(0);
  });

  it('with .env.example, our containers reach Temporal and the sandbox by service name, never loopback', async () => {
    const resolved = await composeConfig(ENV_EXAMPLE);
    expect(resolved.code, resolved.stderr).toBe(0);
    const services = (parse(resolved.stdout) as { services: Record<string, Service> }).services;
    for (const [name] of ourServices) {
      const environment = services[name]?.environment ?? {};
      for (const [key, value] of Object.entries(environment)) {
        if (key === 'CODEC_CORS_ORIGINS') continue; // the browser's origin (the Web UI as the host sees it), not an address a container connects to
        expect(String(value ?? ''), `${name}.environment.${key}`).not.toMatch(/127\.0\.0\.1|localhost/);
      }
    }
    for (const name of ['worker', 'listener']) {
      expect(services[name]?.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', PCS_API_URL: 'http://sandbox:3203', PAS_TOKEN_URL: 'http://sandbox:3100/oauth/token' });
    }
  });

  it('runs the sandbox from an npm script the build stage holds with every file it imports', () => {
    expect(ourServices.map(([name]) => name).sort()).toEqual(['codec-server', 'keys', 'listener', 'sandbox', 'worker']);
    const sandbox = raw.services.sandbox!;
    expect(sandbox.build?.target).toBe('build');
    const image = readImage(ROOT, dockerfileOf(sandbox), sandbox.build!.target);
    for (const path of image.copied) expect(existsSync(join(ROOT, path)), `COPY ${path}`).toBe(true);
    expect(sandbox.command, 'sandbox.command').toEqual(['npm', 'run', expect.any(String)]);
    const script = (sandbox.command as string[])[2]!;
    expect(scriptEntry(packageScripts[script] ?? ''), `sandbox: npm script "${script}" runs a file`).toBeDefined();
    expect(missingForScript(image, script), 'sandbox').toEqual([]);
  });

  it('runs the worker and listener as built commands of the package, from a production stage with dist/ and production dependencies only', () => {
    for (const name of ['worker', 'listener']) {
      const service = raw.services[name]!;
      expect(service.build?.target, `${name}.build.target`).toBe('runtime');
      const runtime = readImage(ROOT, dockerfileOf(service), 'runtime');
      // dist/ comes from a stage that builds it with every dependency; this one installs production dependencies only.
      const dist = runtime.fromStages.find((copy) => copy.to.replace(/^\.\//, '') === 'dist');
      expect(dist, `${name}: the runtime stage copies dist/ from the build stage`).toBeDefined();
      expect(readImage(ROOT, dockerfileOf(service), dist!.stage).runs).toContain('npm run build');
      expect(runtime.omitsDevDependencies, `${name}: npm ci --omit=dev`).toBe(true);
      expect(runtime.npmScripts, `${name}: the runtime stage runs no npm script (no tsx)`).toEqual([]);
      // The command and the health check run built commands of the package (its `bin`).
      for (const [what, words] of [['command', strings(service.command)], ['healthcheck', healthCheckWords(service)]] as const) {
        const command = packageCommandIn([...words]);
        expect(command, `${name}.${what} runs a built command with node: ${words.join(' ')}`).toBeDefined();
        expect(packageJson.bin[command!], `${name}.${what}: ${command} is a bin of package.json`).toBe(builtCommandPath(command!));
      }
    }
    // The key maker and the codec server run from the same production stage, as built commands.
    for (const [name, command] of [['keys', 'ppoppo-payload-key'], ['codec-server', 'ppoppo-codec-server']] as const) {
      const service = raw.services[name]!;
      expect(service.build?.target, `${name}.build.target`).toBe('runtime');
      expect(packageCommandIn(strings(service.command)), `${name}.command`).toBe(command);
    }
    expect(packageCommandIn(strings(raw.services.worker!.command))).toBe('ppoppo-worker');
    expect(packageCommandIn(strings(raw.services.listener!.command))).toBe('ppoppo-listener');
    // The heap cap the worker runs with everywhere (npm run worker, the dev stack).
    expect(packageScripts.worker).toContain('--max-old-space-size=256');
    expect(strings(raw.services.worker!.command)).toContain('--max-old-space-size=256');
  });

  it('ships every built command of the package as its bin', () => {
    expect(packageJson.bin).toEqual(Object.fromEntries((Object.keys(PACKAGE_COMMANDS) as PackageCommand[]).map((name) => [name, builtCommandPath(name)])));
  });

  it('builds a stage that can run every npm script it names and every npm script whose entry file it holds', () => {
    const image = readImage(ROOT, dockerfileOf(raw.services.sandbox!), 'build');
    const held = Object.keys(packageScripts).filter((script) => {
      const entry = scriptEntry(packageScripts[script]!);
      return entry !== undefined && image.has(entry);
    });
    expect(held.length, 'the build stage holds the entry of some npm script').toBeGreaterThan(0);
    const problems = [...new Set([...image.npmScripts, ...held])].flatMap((script) => missingForScript(image, script));
    expect(problems).toEqual([]);
  });

  it('shuts the worker and listener down gracefully, and lets Prometheus scrape both on METRICS_PORT', () => {
    for (const name of ['worker', 'listener'] as const) {
      const service = raw.services[name]! as Service & { stop_grace_period?: string };
      const environment = service.environment ?? {};
      const prefix = name.toUpperCase();
      const grace = /:-(\d+)\}/.exec(String(environment[`${prefix}_SHUTDOWN_GRACE_MS`]))?.[1];
      expect(grace, `${name}: ${prefix}_SHUTDOWN_GRACE_MS`).toBeDefined();
      expect(environment[`${prefix}_MAX_CACHED_WORKFLOWS`], `${name}: ${prefix}_MAX_CACHED_WORKFLOWS`).toBeDefined();
      // Docker waits stop_grace_period after SIGTERM before SIGKILL: longer than the drain and its forced end (+5 s).
      expect(parseInt(service.stop_grace_period ?? '10s', 10) * 1000, `${name}.stop_grace_period`).toBeGreaterThan(Number(grace) + 5_000);
      expect(environment.METRICS_PORT, `${name}.environment.METRICS_PORT`).toBe(9464);
    }
    const prometheus = parse(readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    expect(prometheus.scrape_configs.flatMap((job) => job.static_configs.flatMap((c) => c.targets)).sort()).toEqual(['listener:9464', 'worker:9464']);
  });

  it('has a health check on every long-running service', () => {
    for (const [name, service] of Object.entries(raw.services)) {
      if (service.restart === 'no') continue; // one-shot (temporal-setup)
      expect(service.healthcheck, `${name}.healthcheck`).toBeDefined();
    }
  });

  it('documents every ${VARIABLE} it uses in .env.example', () => {
    const used = new Set<string>();
    for (const text of strings(raw)) {
      // ${NAME}, ${NAME:-default}, $NAME; `$$` escapes a dollar for the container's shell.
      for (const match of text.matchAll(/(?<!\$)\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) used.add(match[1]!);
    }
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !documented.has(name))).toEqual([]);
  });

  it('gives our services only variables their code reads', () => {
    const source = serviceFiles().map((file) => readFileSync(join(ROOT, file), 'utf8')).join('\n');
    for (const [name, service] of ourServices) {
      const unread = Object.keys(service.environment ?? {}).filter((key) => !source.includes(key));
      expect(unread, `${name}.environment`).toEqual([]);
    }
  });

  it('publishes the sandbox (with /inspect) and the codec server on the host\'s loopback only, and encrypts with the keys volume', async () => {
    const resolved = await composeConfig(ENV_EXAMPLE);
    const services = (parse(resolved.stdout) as { services: Record<string, { ports?: { host_ip?: string; published?: string | number }[] | string[]; volumes?: unknown; environment?: Record<string, string> }> }).services;
    for (const name of ['sandbox', 'codec-server']) {
      const ports = services[name]?.ports ?? [];
      expect(ports.length, name).toBeGreaterThan(0);
      for (const port of ports) expect(typeof port === 'string' ? port : port.host_ip, `${name} ${JSON.stringify(port)}`).toMatch(/^127\.0\.0\.1/);
    }
    for (const name of ['worker', 'listener', 'codec-server']) {
      expect(services[name]?.environment?.PAYLOAD_KEY_FILE, name).toBe('/keys/payload-keys');
      expect(JSON.stringify(services[name]?.volumes), name).toContain('/keys');
    }
    expect(services['temporal-ui']?.environment?.TEMPORAL_CODEC_ENDPOINT).toBe('http://localhost:8888');
    expect(raw.services.keys?.restart).toBe('no');
  });

  it('registers exactly our search attributes in temporal-setup', () => {
    const script = strings(raw.services['temporal-setup']?.command).join('\n');
    const names = /for name in ([^;]+);/.exec(script)?.[1]?.trim().split(/\s+/);
    expect(names?.sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
    expect(script).toContain('--type Keyword');
    expect(Object.values(SEARCH_ATTRIBUTES).every((type) => type === 'Keyword')).toBe(true);
  });
});
