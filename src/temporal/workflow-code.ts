// Where a Worker gets its workflow code. Built (`npm run build`), our code runs as .js from dist/
// and loads the bundle the build made, so a production worker starts without bundling anything and
// without the dev dependencies; from the TypeScript sources (tsx, tests) the worker bundles at start,
// unless WORKFLOW_BUNDLE_DIR names bundles made once for many workers (a test run, a chaos run).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerOptions } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from './data-converter';

/** The workflow bundles `npm run build` writes to dist/workflows/<name>.js, by their source file. */
export const WORKFLOW_BUNDLES = {
  worker: 'workflows/index.ts',
  listener: 'workflows/listener/workflow.ts',
} as const;

/** Env: a directory of <name>.js bundles built from these very sources (dev/temporal/workflow-bundles.ts). */
export const WORKFLOW_BUNDLE_DIR_ENV = 'WORKFLOW_BUNDLE_DIR';

/** True when this module runs from dist/ (compiled JavaScript), false from the TypeScript sources. */
const BUILT = import.meta.url.endsWith('.js');

export function workflowCode(name: keyof typeof WORKFLOW_BUNDLES): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  // Built code lives in dist/bin/ or dist/chunks/ (scripts/build.ts), one level below dist/.
  if (BUILT) return { workflowBundle: { codePath: fileURLToPath(new URL(`../workflows/${name}.js`, import.meta.url)) } };
  const shared = process.env[WORKFLOW_BUNDLE_DIR_ENV];
  if (shared && existsSync(join(shared, `${name}.js`))) return { workflowBundle: { codePath: join(shared, `${name}.js`) } };
  return { workflowsPath: fileURLToPath(new URL(`../../${WORKFLOW_BUNDLES[name]}`, import.meta.url)) };
}

/** Bundling logs a summary per bundle at INFO; only problems are worth showing. */
const quietBundler = { trace() {}, debug() {}, info() {}, log() {}, warn: (message: string) => console.warn(message), error: (message: string) => console.error(message) };

/**
 * The workflow code as one bundle: the prebuilt file when there is one, else bundled now (seconds),
 * with the failure converter inside (it must be: FAILURE_CONVERTER_PATH).
 */
export async function loadWorkflowBundle(name: keyof typeof WORKFLOW_BUNDLES): Promise<{ code: string }> {
  const code = workflowCode(name);
  if (code.workflowBundle && 'codePath' in code.workflowBundle) return { code: readFileSync(code.workflowBundle.codePath, 'utf8') };
  return bundleFromSources(name);
}

/** Bundles the TypeScript sources of `name` (what `npm run build` and WORKFLOW_BUNDLE_DIR hold prebuilt). */
export function bundleFromSources(name: keyof typeof WORKFLOW_BUNDLES): Promise<{ code: string }> {
  return bundleWorkflowsAt(fileURLToPath(new URL(`../../${WORKFLOW_BUNDLES[name]}`, import.meta.url)));
}

/** Bundles the workflows module at `workflowsPath` (ours, or a probe's), failure converter inside. */
export async function bundleWorkflowsAt(workflowsPath: string): Promise<{ code: string }> {
  const { bundleWorkflowCode } = await import('@temporalio/worker');
  return bundleWorkflowCode({ workflowsPath, failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietBundler });
}
