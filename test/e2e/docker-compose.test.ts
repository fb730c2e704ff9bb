// docker-compose.yml without a Docker engine: Debian's docker-compose (1.29, see .ci/run
// REQUIRED_DEBS) parses and resolves it with `config`, and the checks below tie it to the project:
// every command of our services is an npm script whose file exists and is in the image, every
// ${VARIABLE} is documented in .env.example, every variable our services get is one our code reads,
// and `cp .env.example .env` does not point a container at its own loopback address.
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
  build?: { context: string; dockerfile?: string };
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

/** Paths a Dockerfile copies into the image (COPY <src...> <dest>). */
function copiedPaths(dockerfile: string): string[] {
  return [...readFileSync(dockerfile, 'utf8').matchAll(/^COPY\s+(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
}

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
        if (key === 'CODEC_CORS_ORIGINS') continue; // the browser's origin (the Web UI as the host sees it), not an address a container connects to
        expect(String(value ?? ''), `${name}.environment.${key}`).not.toMatch(/127\.0\.0\.1|localhost/);
      }
    }
    for (const name of ['worker', 'listener']) {
      expect(services[name]?.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', PCS_API_URL: 'http://sandbox:3203', PAS_TOKEN_URL: 'http://sandbox:3100/oauth/token' });
    }
  });

  it('runs the sandbox, worker and listener from npm scripts whose files exist and are in the image', () => {
    expect(ourServices.map(([name]) => name).sort()).toEqual(['codec-server', 'keys', 'listener', 'sandbox', 'worker']);
    for (const [name, service] of ourServices) {
      const dockerfile = join(ROOT, service.build!.context, service.build!.dockerfile ?? 'Dockerfile');
      expect(existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      const copied = copiedPaths(dockerfile);
      for (const path of copied) expect(existsSync(join(ROOT, path)), `${dockerfile}: COPY ${path}`).toBe(true);
      const inImage = (file: string) => copied.some((path) => file === path || file.startsWith(`${path.replace(/\/$/, '')}/`));

      expect(service.command, `${name}.command`).toEqual(['npm', 'run', expect.any(String)]);
      const script = (service.command as string[])[2]!;
      expect(packageScripts[script], `${name}: npm script "${script}"`).toBeDefined();
      const file = /^tsx (?:--\S+ )*(\S+)/.exec(packageScripts[script]!)?.[1];
      expect(file, `${name}: npm script "${script}" runs a file with tsx`).toBeDefined();
      expect(existsSync(join(ROOT, file!)), `${name}: ${file}`).toBe(true);
      expect(inImage(file!), `${name}: ${file} is copied into the image`).toBe(true);

      // Health checks that run our code name files that exist in the image too.
      for (const word of strings(service.healthcheck?.test).filter((w) => /\.(ts|js|mjs)$/.test(w))) {
        expect(existsSync(join(ROOT, word)), `${name} healthcheck: ${word}`).toBe(true);
        expect(inImage(word), `${name} healthcheck: ${word} is copied into the image`).toBe(true);
      }
    }
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
