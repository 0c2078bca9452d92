/** What the CLI's commands get from the process, so they run in-process in tests. */

export interface CliIo {
  /**
   * Text to standard output, ended with a newline here: one line, or several joined by `\n` (the
   * outcome lines of `sluice run` come a batch per call). A throw (the output cannot be written)
   * ends the run that wrote it.
   */
  out(lines: string): void;
  /** One line to standard error. */
  err(line: string): void;
  /** The environment (for SLUICE_* variables). @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The directory relative paths are resolved from. @default process.cwd() */
  readonly cwd?: string;
  /** Standard error as a stream, for a live progress display when it is a terminal. */
  readonly stderr?: NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };
  /** Subscribes to SIGINT/SIGTERM; returns the function that unsubscribes. */
  readonly onSignal?: (listener: (signal: string) => void) => () => void;
  /**
   * Sends everything else that writes to the process's standard output (the job's `console.log`,
   * worker threads' output, which Node pipes into `process.stdout`) to standard error, while `out`
   * still writes to standard output; returns the function that undoes it. `sluice run` calls it
   * while stdout carries outcome lines, so that they stay JSON Lines.
   */
  readonly redirectStdout?: () => () => void;
}
