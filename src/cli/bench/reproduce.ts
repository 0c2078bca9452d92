/** The `sluice run` command line that reproduces one bench run, quoted for a POSIX shell. */

/** Characters a shell word may hold unquoted. */
const PLAIN = /^[\w@%+=:,./-]+$/;

/** `arg` as one POSIX shell word: as it is when safe, else in single quotes (`'` as `'\''`). */
export function shellQuote(arg: string): string {
  if (PLAIN.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** `sluice run JOB ARGS...`, each part quoted as needed. */
export function runCommandLine(job: string, args: readonly string[]): string {
  return ['sluice', 'run', job, ...args].map(shellQuote).join(' ');
}
