// Prebuilt workflow bundles: `npm run build` writes them into dist/workflows/, and a test run (or a
// chaos run) writes them once into a scratch directory named by WORKFLOW_BUNDLE_DIR, so each worker
// and listener it starts from the TypeScript sources loads them instead of bundling again.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WORKFLOW_BUNDLES, WORKFLOW_BUNDLE_DIR_ENV, bundleFromSources } from '../../src/temporal/workflow-code';

/** Writes <outDir>/<name>.js for every bundle in WORKFLOW_BUNDLES; returns the files. */
export async function writeWorkflowBundles(outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const name of Object.keys(WORKFLOW_BUNDLES) as (keyof typeof WORKFLOW_BUNDLES)[]) {
    const { code } = await bundleFromSources(name);
    const file = join(outDir, `${name}.js`);
    writeFileSync(file, code);
    files.push(file);
  }
  return files;
}

/** Bundles into `dir` and points this process (and every process it starts) at them. */
export async function shareWorkflowBundles(dir: string): Promise<void> {
  await writeWorkflowBundles(dir);
  process.env[WORKFLOW_BUNDLE_DIR_ENV] = dir;
}
