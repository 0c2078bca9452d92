/**
 * The child's side of the harness's line protocol (bench/harness/child.ts): `TAG payload` lines
 * on stdout, command lines on stdin. Payloads are JSON, or plain text where the tag says so
 * (`URL http://…`).
 */

/** Prints `TAG json` (or `TAG` alone); resolves once the line is handed to the OS. */
export function emit(tag: string, value?: unknown): Promise<void> {
  const line = value === undefined ? `${tag}\n` : `${tag} ${typeof value === 'string' ? value : JSON.stringify(value)}\n`;
  return new Promise((resolve) => process.stdout.write(line, () => resolve()));
}

/**
 * Calls `onLine` with every command line on stdin, and `onEnd` once stdin ends (the parent
 * stopped the child, or died). Returns a function that stops listening and lets stdin go, so the
 * process can exit on its own.
 */
export function commands(onLine: (line: string) => void, onEnd?: () => void): () => void {
  let pending = '';
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    onEnd?.();
  };
  const data = (d: Buffer): void => {
    const lines = (pending + d.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') onLine(line.trim());
  };
  process.stdin.on('data', data).on('end', end).on('close', end);
  return () => {
    ended = true;
    process.stdin.off('data', data);
    process.stdin.destroy();
  };
}
