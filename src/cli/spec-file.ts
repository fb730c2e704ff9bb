// Reads a campaign spec from a .json, .yaml or .yml file. Recipient file paths are made absolute
// (relative to the spec file, or to the working directory for --recipients) because the worker,
// not the CLI, reads them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CliError, EXIT } from './errors';

/** The spec as parsed (not yet validated), with recipients.file absolute. */
export function readSpecFile(path: string, recipientsOverride?: string): unknown {
  const text = readTextFile(path, 'spec file');
  let spec: unknown;
  try {
    spec = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new CliError(`cannot parse spec file ${path}: ${(err as Error).message.split('\n')[0]}; fix its ${extname(path) === '.json' ? 'JSON' : 'YAML'} syntax`, EXIT.usage);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) return spec; // parseCampaignSpec explains
  const object = spec as Record<string, unknown>;
  if (recipientsOverride !== undefined) {
    const file = resolve(recipientsOverride);
    if (!existsSync(file)) throw new CliError(`recipients file not found: ${recipientsOverride} (from --recipients)`, EXIT.usage);
    object.recipients = { file };
  } else if (isFileSource(object.recipients) && !isAbsolute(object.recipients.file)) {
    object.recipients = { ...object.recipients, file: resolve(dirname(path), object.recipients.file) };
  }
  if (isFileSource(object.recipients) && !existsSync(object.recipients.file)) {
    throw new CliError(`recipients file not found: ${object.recipients.file} (from recipients.file in ${path})`, EXIT.usage);
  }
  return object;
}

export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new CliError(`${what} ${path}: ${reason}`, EXIT.usage);
  }
}

function isFileSource(value: unknown): value is { file: string; format?: string } {
  return typeof value === 'object' && value !== null && typeof (value as { file?: unknown }).file === 'string';
}
