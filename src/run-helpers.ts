// Small helpers shared by the worker and listener processes.
import { pathToFileURL } from 'node:url';

/** True when the module with this import.meta.url is the script node/tsx was started with. */
export function isMainModule(metaUrl: string): boolean {
  return process.argv[1] !== undefined && metaUrl === pathToFileURL(process.argv[1]).href;
}
