// `.env` for our processes (worker, listener, campaign CLI): the file beside the working
// directory, or the one ENV_FILE names. Variables already set in the environment win, so a shell,
// docker-compose or a test harness can always override the file.
import { existsSync } from 'node:fs';

/** Loads the file into process.env if it exists; returns its path, or undefined when there is none. */
export function loadDotEnv(path = process.env.ENV_FILE || '.env'): string | undefined {
  if (!existsSync(path)) {
    if (process.env.ENV_FILE) throw new Error(`ENV_FILE names ${path}, which does not exist`);
    return undefined;
  }
  process.loadEnvFile(path);
  return path;
}
