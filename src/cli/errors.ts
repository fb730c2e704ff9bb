// Exit codes of the campaign CLI and the error that carries one.

export const EXIT = {
  ok: 0,
  /** The campaign failed or was cancelled, or validation found issues. */
  failure: 1,
  /** Unknown command or flag, missing argument, unreadable or unparseable file. */
  usage: 2,
  /** No campaign with that id. */
  notFound: 3,
  /** Temporal (or the Ppoppo API) could not be reached, or no worker polls the campaign's task queue. */
  cannotConnect: 4,
  /** Nothing started: the campaign (same spec) is already running, or a retry asked for a running one. */
  alreadyRunning: 5,
  /** Nothing started or changed: the campaign has finished (start of a finished one, or pause/resume/cancel). */
  finished: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI prints as is (no stack) before exiting with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
