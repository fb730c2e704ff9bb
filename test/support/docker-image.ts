// What an image built from our Dockerfile contains, and what an npm script needs from it, read
// statically: the final stage's COPY/ADD sources minus .dockerignore, and the relative import graph
// of a script's entry file (import/export-from specifiers, `import()`, `new URL('…', import.meta.url)`).
// Used by test/e2e/docker-compose.test.ts; no Docker engine needed.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';

export interface ImageContents {
  /** Build-context paths the final stage copies, each to the same path under WORKDIR. */
  copied: string[];
  /** Whether the file (a path relative to the build context) is in the image at its own path. */
  has(file: string): boolean;
  /** npm installs without devDependencies (`npm ci --omit=dev` / `--production`). */
  omitsDevDependencies: boolean;
  /** npm scripts the Dockerfile itself runs (RUN/CMD/ENTRYPOINT `npm run X`, `npm start`, `npm test`). */
  npmScripts: string[];
}

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(dockerfile: string): { keyword: string; args: string }[] {
  const joined = readFileSync(dockerfile, 'utf8').replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Arguments of a shell-form or JSON-form instruction. */
function words(args: string): string[] {
  if (args.startsWith('[')) return JSON.parse(args) as string[];
  return args.split(/\s+/).filter(Boolean);
}

/** npm scripts a command line runs: `npm run X`, `npm run-script X`, `npm start`, `npm test`. */
export function npmScriptsIn(command: string): string[] {
  const scripts: string[] = [];
  for (const match of command.matchAll(/\bnpm\s+(?:--?\S+\s+)*(run|run-script|start|test)\b(?:\s+(?:--?\S+\s+)*([\w:.-]+))?/g)) {
    scripts.push(match[1] === 'start' || match[1] === 'test' ? match[1] : match[2]!);
  }
  return scripts.filter(Boolean);
}

export function readImage(root: string, dockerfile: string): ImageContents {
  const all = instructions(dockerfile);
  const finalStage = all.slice(all.map((i) => i.keyword).lastIndexOf('FROM') + 1);
  const copied: string[] = [];
  const misplaced: string[] = [];
  for (const { keyword, args } of finalStage) {
    if (keyword !== 'COPY' && keyword !== 'ADD') continue;
    const parts = words(args);
    if (parts.some((part) => part.startsWith('--from'))) continue; // from another stage, not the context
    const paths = parts.filter((part) => !part.startsWith('--'));
    const dest = paths.pop()!;
    for (const source of paths) {
      const from = normalize(source).replace(/\/$/, '');
      const isDir = isDirectory(join(root, from));
      const to = normalize(isDir || !(dest.endsWith('/') || paths.length > 1) ? dest : join(dest, from.split('/').pop()!)).replace(/\/$/, '');
      (to === from || (from === '.' && to === '.') ? copied : misplaced).push(from);
    }
  }
  const ignore = dockerIgnore(root);
  const has = (file: string) => {
    const path = normalize(file);
    return copied.some((dir) => dir === '.' || path === dir || path.startsWith(`${dir}/`)) && !ignore(path);
  };
  const runs = finalStage.filter((i) => ['RUN', 'CMD', 'ENTRYPOINT'].includes(i.keyword)).map((i) => words(i.args).join(' '));
  return {
    copied,
    has,
    omitsDevDependencies: runs.some((run) => /\bnpm\s+(ci|install)\b.*(--omit[= ]dev|--production|--only[= ]prod)/.test(run)),
    npmScripts: runs.filter((run) => !/\bnpm\s+(ci|install)\b/.test(run)).flatMap(npmScriptsIn),
  };
}

/**
 * .dockerignore as a predicate: Go filepath.Match patterns plus `**`, later lines win, `!` re-includes.
 * A pattern that matches a directory excludes everything below it.
 */
export function dockerIgnore(root: string): (path: string) => boolean {
  const file = join(root, '.dockerignore');
  const rules = (existsSync(file) ? readFileSync(file, 'utf8') : '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = normalize(line.slice(negate ? 1 : 0).trim().replace(/^\/+/, '')).replace(/\/$/, '');
      return { negate, regex: globRegex(pattern) };
    });
  return (path) => {
    const segments = normalize(path).split('/');
    const prefixes = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let ignored = false;
    for (const rule of rules) if (prefixes.some((prefix) => rule.regex.test(prefix))) ignored = !rule.negate;
    return ignored;
  };
}

function globRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** The file an npm script runs with tsx, node or bash (after npx and flags), and the npm package that runs it, if any. */
export function scriptCommand(command: string): { entry: string; runnerPackage?: string } | undefined {
  const parts = command.trim().split(/\s+/);
  if (parts[0] === 'npx') parts.shift();
  const runner = parts[0] ?? '';
  if (!['tsx', 'node', 'bash', 'sh'].includes(runner)) return undefined;
  if (parts.some((part) => ['-e', '--eval', '-p', '--print', '-c'].includes(part))) return undefined; // inline code, no file
  const entry = parts.slice(1).find((part) => !part.startsWith('-'));
  return entry === undefined ? undefined : { entry, ...(runner === 'tsx' ? { runnerPackage: 'tsx' } : {}) };
}

/** The file an npm script runs, or undefined when it runs no file of ours (tsc, vitest, `npm run` chains). */
export function scriptEntry(command: string): string | undefined {
  return scriptCommand(command)?.entry;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

const RESOLVE_SUFFIXES = ['', '.ts', '.tsx', '.mts', '.js', '.mjs', '.cjs', '.json', '/index.ts', '/index.js'];

/** A package's name from a bare specifier (`@scope/name/sub` → `@scope/name`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export interface ImportGraph {
  /** Every file reached, relative to root, the entry first. */
  files: string[];
  /** The import chain that first reached each file, e.g. ['scripts/demo.ts', 'dev/receivers.ts']. */
  chains: Map<string, string[]>;
  /** Relative specifiers that resolve to no file, as "file: specifier". */
  unresolved: string[];
  /** npm packages imported (bare specifiers that are not Node built-ins). */
  packages: Set<string>;
}

/** Follows relative imports from `entry` (a path relative to root) through every file they reach. */
export function importGraph(root: string, entry: string): ImportGraph {
  const chains = new Map<string, string[]>([[normalize(entry), [normalize(entry)]]]);
  const queue = [normalize(entry)];
  const unresolved: string[] = [];
  const packages = new Set<string>();
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (!/\.(ts|tsx|mts|js|mjs|cjs)$/.test(file)) continue; // a shell script, a JSON or data file: no imports to follow
    const text = readFileSync(join(root, file), 'utf8');
    const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
    for (const match of text.matchAll(/new URL\(\s*['"](\.{1,2}\/[^'"]*)['"]\s*,\s*import\.meta\.url\s*\)/g)) {
      // A file the code opens or hands to a tool (a workflow bundle's entry, a shell script); a directory (the project root) is no file.
      if (!isDirectory(join(root, dirname(file), match[1]!))) specifiers.push(match[1]!);
    }
    for (const specifier of specifiers) {
      if (!specifier.startsWith('.')) {
        const name = packageName(specifier.replace(/^node:/, ''));
        if (!specifier.startsWith('node:') && !builtinModules.includes(name)) packages.add(name);
        continue;
      }
      const base = join(dirname(file), specifier);
      const found = RESOLVE_SUFFIXES.map((suffix) => normalize(`${base}${suffix}`)).find((candidate) => existsSync(join(root, candidate)) && statSync(join(root, candidate)).isFile());
      if (!found) {
        unresolved.push(`${file}: ${specifier}`);
        continue;
      }
      const path = relative(root, join(root, found));
      if (!chains.has(path)) {
        chains.set(path, [...chains.get(file)!, path]);
        queue.push(path);
      }
    }
  }
  return { files: [...chains.keys()], chains, unresolved, packages };
}
