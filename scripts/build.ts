// `npm run build` (and `npm pack`, through prepack): the production build in dist/, run with plain
// `node` and only the package's dependencies.
//
//   dist/bin/ppoppo-{campaign,worker,listener}.js   the processes (the package's `bin` entries)
//   dist/index.js                                    the client library (the package's main export)
//   dist/chunks/*.js                                 code the entry points share
//   dist/workflows/{worker,listener}.js              the prebuilt workflow bundles the workers load
//   dist/types/**/*.d.ts                             the library's types
//
// esbuild bundles each entry point (scripts/package-commands.ts says why), and tsc emits only the
// declarations, whose relative imports get their .js added here.
// bin/ and chunks/ sit one level below dist/: src/temporal/workflow-code.ts finds the bundles from there.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKFLOW_BUNDLES } from '../src/temporal/workflow-code';
import { writeWorkflowBundles } from '../dev/temporal/workflow-bundles';
import { PACKAGE_COMMANDS, buildCommands } from './package-commands';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');

async function main(): Promise<void> {
  const started = Date.now();
  rmSync(DIST, { recursive: true, force: true });

  await buildCommands(DIST, { library: true });
  await writeWorkflowBundles(join(DIST, 'workflows'));

  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  for (const file of filesUnder(join(DIST, 'types'))) writeFileSync(file, withJsExtensions(file, readFileSync(file, 'utf8')));
  const declarations = keepReachable(join(DIST, 'types/src/index.d.ts'));

  const size = filesUnder(DIST).reduce((sum, file) => sum + statSync(file).size, 0);
  console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.keys(PACKAGE_COMMANDS).length} commands, the client library, ${Object.keys(WORKFLOW_BUNDLES).length} workflow bundles, ${declarations.length} declaration files; ${(size / 1024 / 1024).toFixed(1)} MB`);
}

/** Relative specifiers in a declaration file, with the .js Node's ESM resolution needs. */
function withJsExtensions(file: string, text: string): string {
  return text.replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\2/g, (whole, lead: string, quote: string, specifier: string) => {
    const base = join(dirname(file), specifier);
    if (existsSync(`${base}.d.ts`)) return `${lead}${quote}${specifier}.js${quote}`;
    if (existsSync(join(base, 'index.d.ts'))) return `${lead}${quote}${specifier}/index.js${quote}`;
    throw new Error(`${relative(ROOT, file)}: cannot resolve ${specifier}`);
  });
}

/** Deletes the declaration files the library's entry does not reach (tsc emits one per source file it read); returns those kept. */
function keepReachable(entry: string): string[] {
  const reached = new Set([entry]);
  for (const file of reached) {
    for (const match of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()['"](\.{1,2}\/[^'"]+)\.js['"]/g)) reached.add(join(dirname(file), `${match[1]}.d.ts`));
  }
  const root = dirname(dirname(entry));
  for (const file of filesUnder(root)) if (!reached.has(file)) rmSync(file);
  removeEmptyDirectories(root);
  return [...reached];
}

function removeEmptyDirectories(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeEmptyDirectories(join(dir, entry.name));
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));
}

main().catch((err: unknown) => {
  console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
