// Exit codes of the remote commands (README, "Transformations in git").
export const EXIT = { ok: 0, failed: 1, usage: 2, connection: 3, input: 4 } as const;

/** An error that ends the command with one line on stderr and the given exit code. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);
export const inputError = (message: string) => new CliError(EXIT.input, message);
export const connectionError = (message: string) => new CliError(EXIT.connection, message);
