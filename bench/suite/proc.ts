/** What the parent of a bench child reads about it from /proc (Linux). */
import { readFileSync } from 'node:fs';

/** The child's resident set size now, in MiB; 0 when it has exited or /proc is not there. */
export function vmRssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
