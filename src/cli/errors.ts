// Exit codes of the campaign CLI and the error that carries one.

export const EXIT = {
  ok: 0,
  /** The campaign failed or was cancelled, or validation found issues. */
  failure: 1,
  /** Unknown command or flag, missing argument, unreadable or unparseable file. */
  usage: 2,
  /** No campaign with that id. */
  notFound: 3,
  /** Temporal (or the Ppoppo API) could not be reached. */
  cannotConnect: 4,
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
