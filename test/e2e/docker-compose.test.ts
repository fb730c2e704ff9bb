// docker-compose.yml without a Docker engine: Debian's docker-compose (1.29, see .ci/run
// REQUIRED_DEBS) parses and resolves it with `config`, and the checks below tie it to the project:
// the worker and listener run the built commands from the Dockerfile's production stage (dist/ from
// the build stage, production dependencies only), the sandbox an npm script from the build stage;
// every ${VARIABLE} is documented in .env.example, every variable our services get is one our code
// reads, and `cp .env.example .env` does not point a container at its own loopback address.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';

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
    const { stdout, stderr } = await promisify(execFile)('docker-compose', ['-f', COMPOSE_FILE, '--env-file', envFile, 'config', ...(quiet ? ['-q'] : [])], { cwd: ROOT });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failure = err as { code?: number | string; stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new Error('docker-compose not found: apt-get install docker-compose (see .ci/run)');
    return { code: Number(failure.code ?? 1), stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' };
  }
}

const raw = parse(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const packageScripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
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

interface Stage {
  name: string;
  /** Instructions after FROM, continuation lines joined. */
  lines: string[];
}

/** The Dockerfile's stages (FROM <image> AS <name>), in order. */
function stages(dockerfile: string): Stage[] {
  const result: Stage[] = [];
  for (const line of readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ').split('\n')) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) result.push({ name: from[1] ?? String(result.length), lines: [] });
    else if (line.trim() && !line.startsWith('#')) result.at(-1)?.lines.push(line.trim());
  }
  return result;
}

/** Paths a stage copies from the build context (COPY <src...> <dest>, not --from another stage). */
function copiedPaths(stage: Stage): string[] {
  return stage.lines.flatMap((line) => {
    const copy = /^COPY\s+(.+)$/.exec(line);
    if (!copy || copy[1]!.startsWith('--from')) return [];
    return copy[1]!.trim().split(/\s+/).slice(0, -1);
  });
}

const inStage = (stage: Stage, file: string) => copiedPaths(stage).some((path) => file === path || file.startsWith(`${path.replace(/\/$/, '')}/`));

/** The built file a production command runs: `node [--flag ...] dist/bin/<name>.js [args]`. */
function builtCommand(words: string[]): string | undefined {
  if (words[0] !== 'node') return undefined;
  return words.slice(1).find((word) => !word.startsWith('-'));
}

const packageBins = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;

/** Source text of our runtime code, to check that a variable is read somewhere. */
function runtimeSource(): string {
  const texts: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) texts.push(readFileSync(path, 'utf8'));
    }
  };
  for (const dir of ['src', 'activities', 'workflows', 'scripts']) walk(join(ROOT, dir));
  return texts.join('\n');
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
        expect(String(value ?? ''), `${name}.environment.${key}`).not.toMatch(/127\.0\.0\.1|localhost/);
      }
    }
    for (const name of ['worker', 'listener']) {
      expect(services[name]?.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', PCS_API_URL: 'http://sandbox:3203', PAS_TOKEN_URL: 'http://sandbox:3100/oauth/token' });
    }
  });

  it('builds the worker and listener into a production image, and runs the sandbox from the build stage', () => {
    expect(ourServices.map(([name]) => name).sort()).toEqual(['listener', 'sandbox', 'worker']);
    const dockerfile = join(ROOT, 'Dockerfile');
    for (const [name, service] of ourServices) expect(join(ROOT, service.build!.context, service.build!.dockerfile ?? 'Dockerfile'), name).toBe(dockerfile);
    const byName = new Map(stages(dockerfile).map((stage) => [stage.name, stage]));
    const build = byName.get('build')!;
    const runtime = byName.get('runtime')!;
    expect(build, 'a build stage').toBeDefined();
    expect(runtime, 'a runtime stage').toBeDefined();
    for (const stage of [build, runtime]) for (const path of copiedPaths(stage)) expect(existsSync(join(ROOT, path)), `${stage.name}: COPY ${path}`).toBe(true);
    // The build stage builds dist/ with every dependency; the runtime stage takes dist/ and installs production dependencies only.
    expect(build.lines).toContain('RUN npm run build');
    expect(runtime.lines.some((line) => /^RUN npm ci --omit=dev\b/.test(line))).toBe(true);
    expect(runtime.lines).toContain('COPY --from=build /app/dist ./dist');
    expect(runtime.lines.some((line) => /\b(tsx|npm run)\b/.test(line))).toBe(false);

    const sandbox = raw.services.sandbox!;
    expect(sandbox.build?.target).toBe('build');
    expect(sandbox.command).toEqual(['npm', 'run', expect.any(String)]);
    const script = (sandbox.command as string[])[2]!;
    const entry = /^tsx (?:--\S+ )*(\S+)/.exec(packageScripts[script] ?? '')?.[1];
    expect(entry, `npm script "${script}" runs a file with tsx`).toBeDefined();
    expect(inStage(build, entry!), `${entry} is copied into the build stage`).toBe(true);

    for (const name of ['worker', 'listener']) {
      const service = raw.services[name]!;
      expect(service.build?.target, name).toBe('runtime');
      // Every file our code runs in the container (the command, the health check) is a built command of the package.
      for (const words of [service.command as string[], strings(service.healthcheck?.test).slice(1)]) {
        const file = builtCommand(words);
        expect(file, `${name}: ${words.join(' ')} runs a built file with node`).toBeDefined();
        expect(Object.values(packageBins), `${name}: ${file} is a bin of package.json`).toContain(file);
      }
    }
    const workerCommand = (raw.services.worker!.command as string[]).join(' ');
    expect(workerCommand).toContain(packageBins['ppoppo-worker']);
    expect((raw.services.listener!.command as string[]).join(' ')).toContain(packageBins['ppoppo-listener']);
    // The heap cap the worker runs with everywhere (npm run worker, the test harness).
    expect(packageScripts.worker).toContain('--max-old-space-size=256');
    expect(workerCommand).toContain('--max-old-space-size=256');
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

  it('gives our services only variables our code reads', () => {
    const source = runtimeSource();
    for (const [name, service] of ourServices) {
      const unread = Object.keys(service.environment ?? {}).filter((key) => !source.includes(key));
      expect(unread, `${name}.environment`).toEqual([]);
    }
  });

  it('registers exactly our search attributes in temporal-setup', () => {
    const script = strings(raw.services['temporal-setup']?.command).join('\n');
    const names = /for name in ([^;]+);/.exec(script)?.[1]?.trim().split(/\s+/);
    expect(names?.sort()).toEqual(Object.keys(SEARCH_ATTRIBUTES).sort());
    expect(script).toContain('--type Keyword');
    expect(Object.values(SEARCH_ATTRIBUTES).every((type) => type === 'Keyword')).toBe(true);
  });
});
