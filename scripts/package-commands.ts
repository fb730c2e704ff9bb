// The commands the package ships (its `bin`, dist/bin/<name>.js), the source each is built from, and
// the esbuild step that builds them: used by scripts/build.ts (dist/), by the test setup (a build per
// test pass, so tests run the commands as installed), and by the tests that check package.json and
// the Docker image.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FAILURE_CONVERTER_PATH } from '../src/temporal/data-converter';

export const PACKAGE_COMMANDS = {
  'ppoppo-campaign': 'src/cli/main.ts',
  'ppoppo-worker': 'src/worker.ts',
  'ppoppo-listener': 'src/listener.ts',
  'ppoppo-task-queue-health': 'scripts/task-queue-health.ts',
  'ppoppo-codec-server': 'src/temporal/codec-server.ts',
  'ppoppo-payload-key': 'scripts/payload-key.ts',
} as const;

export type PackageCommand = keyof typeof PACKAGE_COMMANDS;

/** Where `npm run build` writes a command (`outDir`'s layout is the same). */
export function builtCommandPath(name: PackageCommand, outDir = 'dist'): string {
  return `${outDir}/bin/${name}.js`;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles every command into `<outDir>/bin/<name>.js` (executable), code they share into
 * `<outDir>/chunks/`, and `library` (the client library) into `<outDir>/index.js`. Our sources import
 * each other without file extensions, which Node's ESM loader cannot resolve, so esbuild bundles each
 * entry point; npm packages stay imports, resolved from node_modules at run time. The built code
 * loads workflow bundles from `<outDir>/workflows/` (src/temporal/workflow-code.ts).
 */
export async function buildCommands(outDir: string, options: { library?: boolean } = {}): Promise<void> {
  await build({
    absWorkingDir: ROOT,
    entryPoints: [...(options.library ? [{ in: 'src/index.ts', out: 'index' }] : []), ...Object.entries(PACKAGE_COMMANDS).map(([name, source]) => ({ in: source, out: `bin/${name}` }))],
    outdir: outDir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
  for (const name of Object.keys(PACKAGE_COMMANDS) as PackageCommand[]) {
    const file = builtCommandPath(name, outDir);
    writeFileSync(file, `#!/usr/bin/env node\n${readFileSync(file, 'utf8')}`);
    chmodSync(file, 0o755);
  }
  // data-converter.ts finds failure-converter.cjs beside itself, i.e. beside whichever built file holds it.
  for (const dir of ['.', 'bin', 'chunks']) mkdirSync(join(outDir, dir), { recursive: true });
  for (const dir of ['.', 'bin', 'chunks']) copyFileSync(FAILURE_CONVERTER_PATH, join(outDir, dir, basename(FAILURE_CONVERTER_PATH)));
}

/** Env: a build of the commands (buildCommands' layout, with its workflows/) to run instead of dist/; the test setup makes one per pass. */
export const BUILD_DIR_ENV = 'PPOPPO_BUILD_DIR';

/** Absolute path of a built command: in the build BUILD_DIR_ENV names, otherwise in dist/. */
export function builtCommand(name: PackageCommand): string {
  return builtCommandPath(name, process.env[BUILD_DIR_ENV] ?? join(ROOT, 'dist'));
}

/** The built command made from a source file (e.g. src/worker.ts), by builtCommand. */
export function builtCommandOf(source: string): string {
  const name = (Object.keys(PACKAGE_COMMANDS) as PackageCommand[]).find((command) => PACKAGE_COMMANDS[command] === source);
  if (!name) throw new Error(`${source} is not the source of a package command`);
  return builtCommand(name);
}
