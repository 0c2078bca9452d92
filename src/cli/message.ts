/** The message of an error, or the text of any other thrown value, for one line of the CLI's stderr. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
