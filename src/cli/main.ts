/**
 * The `sluice` command: `main(argv, io)` returns the exit code, so it can be tested in-process;
 * only bin.ts touches the process. Commands: `demo` (the embedded demo job).
 */
import { readFileSync } from 'node:fs';
import { main as demo, type Io } from '../demo/main.js';

export type { Io };

const USAGE = `Usage: sluice <command> [options]

Commands:
  demo        run the demo job on an embedded document service (sluice demo --help)

Options:
  -h, --help     this text
  -v, --version  the version of sluice`;

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return demo(rest, io);
    case '-v':
    case '--version':
      io.out(version());
      return 0;
    case '-h':
    case '--help':
    case 'help':
      io.out(USAGE);
      return 0;
    case undefined:
      io.err(USAGE);
      return 2;
    default:
      io.err(`sluice: unknown command ${JSON.stringify(command)}; expected one of: demo`);
      io.err(USAGE);
      return 2;
  }
}

function version(): string {
  // From src/cli (sources) or dist/src/cli (built): the package root is two or three levels up.
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sluice' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this level
    }
  }
  return 'unknown';
}
