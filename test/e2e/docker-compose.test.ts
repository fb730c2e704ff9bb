// docker-compose.yml and the Dockerfile without a Docker engine: Debian's docker-compose (1.29, see
// scripts/system-deps.sh) parses and resolves the file with `config`, and the checks below tie it to
// the project: every npm script a service or the Dockerfile runs, and every npm script whose entry
// file the image holds, finds its entry and every file it imports in the image (test/support/docker-image.ts);
// every ${VARIABLE} is documented in .env.example; every variable our services get is one their code
// reads; and `cp .env.example .env` does not point a container at its own loopback address.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/temporal/names';
import { importGraph, npmScriptsIn, readImage, scriptCommand, scriptEntry, type ImageContents } from '../support/docker-image';

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
const packageJson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };
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

/** Files our code runs in a container: the graphs of every service's npm script and health check. */
function serviceFiles(): string[] {
  const files = new Set<string>();
  for (const [, service] of ourServices) {
    const entries = [...npmScriptsIn(strings(service.command).join(' ')).map((script) => scriptEntry(packageScripts[script] ?? '')), healthCheckCommand(service)?.entry];
    for (const entry of entries) if (entry && existsSync(join(ROOT, entry))) for (const file of importGraph(ROOT, entry).files) files.add(file);
  }
  return [...files];
}

/** The file of ours a health check runs (e.g. `npx tsx scripts/task-queue-health.ts`), if any. */
function healthCheckCommand(service: Service): ReturnType<typeof scriptCommand> {
  const words = strings(service.healthcheck?.test);
  return scriptCommand(words.filter((word) => !['CMD', 'CMD-SHELL', 'NONE'].includes(word)).join(' '));
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
        expect(String(value ?? ''), `${name}.environment.${key}`).not.toMatch(/127\.0\.0\.1|localhost/);
      }
    }
    for (const name of ['worker', 'listener']) {
      expect(services[name]?.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233', PCS_API_URL: 'http://sandbox:3203', PAS_TOKEN_URL: 'http://sandbox:3100/oauth/token' });
    }
  });

  it('runs the sandbox, worker and listener from npm scripts the image holds with every file they import', () => {
    expect(ourServices.map(([name]) => name).sort()).toEqual(['listener', 'sandbox', 'worker']);
    for (const [name, service] of ourServices) {
      const dockerfile = dockerfileOf(service);
      expect(existsSync(dockerfile), `${name}: ${dockerfile}`).toBe(true);
      const image = readImage(ROOT, dockerfile);
      for (const path of image.copied) expect(existsSync(join(ROOT, path)), `${dockerfile}: COPY ${path}`).toBe(true);

      expect(service.command, `${name}.command`).toEqual(['npm', 'run', expect.any(String)]);
      const script = (service.command as string[])[2]!;
      expect(scriptEntry(packageScripts[script] ?? ''), `${name}: npm script "${script}" runs a file`).toBeDefined();
      expect(missingForScript(image, script), name).toEqual([]);
      // A health check that runs our code needs its files in the image too.
      const check = healthCheckCommand(service);
      if (check) expect(missingForFile(image, check.entry, `${name} healthcheck`, check.runnerPackage), name).toEqual([]);
    }
  });

  it('builds an image that can run every npm script it names and every npm script whose entry file it holds', () => {
    const dockerfiles = new Set(ourServices.map(([, service]) => dockerfileOf(service)));
    for (const dockerfile of dockerfiles) {
      const image = readImage(ROOT, dockerfile);
      const named = image.npmScripts;
      const held = Object.keys(packageScripts).filter((script) => {
        const entry = scriptEntry(packageScripts[script]!);
        return entry !== undefined && image.has(entry);
      });
      expect(held.length, `${dockerfile} holds the entry of some npm script`).toBeGreaterThan(0);
      const problems = [...new Set([...named, ...held])].flatMap((script) => missingForScript(image, script));
      expect(problems, dockerfile).toEqual([]);
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

  it('gives our services only variables their code reads', () => {
    const source = serviceFiles().map((file) => readFileSync(join(ROOT, file), 'utf8')).join('\n');
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
