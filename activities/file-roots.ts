// Where a worker may read recipient files: only under RECIPIENT_FILE_ROOTS (directories separated
// by ":", default the local stack's data dir `.data`). A spec names any path it likes; the worker
// refuses one outside the roots, with "..", or leading out of a root through a symlink, before it
// opens the file, so a spec cannot make the worker read (and quote) /etc/passwd or a key file.
import { realpath } from 'node:fs/promises';
import { delimiter, isAbsolute, relative, resolve, sep } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { sourceUnreadable } from './sources/source';

export const RECIPIENT_FILE_REFUSED = 'RecipientFileRefused';
/** The data dir of `npm start` and the demo, relative to the worker's working directory. */
export const DEFAULT_DATA_DIR = '.data';

export function recipientFileRoots(env: Record<string, string | undefined> = process.env): string[] {
  const raw = env.RECIPIENT_FILE_ROOTS?.trim();
  const roots = raw ? raw.split(delimiter).map((root) => root.trim()).filter(Boolean) : [resolve(DEFAULT_DATA_DIR)];
  for (const root of roots) {
    if (!isAbsolute(root)) throw ApplicationFailure.nonRetryable(`RECIPIENT_FILE_ROOTS must list absolute directories, got "${root}"`, 'RecipientFileRootsInvalid');
  }
  return roots;
}

/**
 * The real path to open for `path`, or a non-retryable RecipientFileRefused naming the rule it
 * broke. Nothing outside the roots is touched, not even to see whether it exists.
 */
export async function confineRecipientFile(path: string, roots: readonly string[] = recipientFileRoots()): Promise<string> {
  const refuse = (reason: string) =>
    ApplicationFailure.nonRetryable(`recipient file ${path} is refused: ${reason}; workers read recipient files only under RECIPIENT_FILE_ROOTS (${roots.join(delimiter)})`, RECIPIENT_FILE_REFUSED);
  if (!isAbsolute(path)) throw refuse('it is not an absolute path');
  if (path.split(/[\\/]/).includes('..')) throw refuse('the path contains ".."');
  if (!roots.some((root) => isInside(resolve(path), resolve(root)))) throw refuse('it is outside the allowed directories');
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw sourceUnreadable(`cannot read recipient file ${path} (${code})`);
  }
  const realRoots = await Promise.all(roots.map((root) => realpath(root).catch(() => resolve(root))));
  if (!realRoots.some((root) => isInside(real, root))) throw refuse('it is a symbolic link (or inside one) that leads outside the allowed directories');
  return real;
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}
