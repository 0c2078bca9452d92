/**
 * The live progress display on a terminal, redrawn in place through log-update:
 *
 *   [#######.............] 4210/10000 42% 240/s ETA 24s │ docs 16/16 q3 │ store 4/8 │ buf 5 │ cpu 2/2 │ batch 64 │ main 57% │ failed 1
 *
 * `main` is the main thread's utilisation over the last few seconds (over the whole run on the
 * final line); `batch` the largest current batch size B of the cpu stages, shown when above 1.
 *
 * A run in lanes (`--lanes`) adds them before `main` (then only their dispatcher): how many, and
 * each one's utilisation, the same way (more than 8 lanes: the range, least to most busy):
 *
 *   ... │ buf 5 │ cpu 4/4 │ lanes 2 (busy 45% 51%) │ main 12% │ failed 1
 *
 * A queue worker (`sluice worker`, no total) adds the jobs it holds and the queue's waiting ones:
 *
 *   4210 done 240/s │ docs 16/16 q3 │ buf 5 │ held 18 │ queue 5790 waiting
 *
 * Fitted to the terminal's width: when the services do not fit on the first line they move to a
 * second one; then the bar narrows or goes, then the least useful figures go (cpu, batch, main
 * unless it is saturated, lanes unless every one is, then buffered), and a line that is still too
 * wide is cut. The final state stays on screen with a newline. Lines written while the bar is live
 * (`note`) go above it, so they are not drawn over.
 */
import { busyList, percent } from './ceiling-warning.js';
import { OBSERVE_DEFAULTS } from './defaults.js';
import type { Figures, FigureTracker, ServiceFigures } from './figures.js';
import { formatDuration, formatRate } from './format.js';
import type { RunSnapshot } from './snapshot.js';
import { createTicker, type Reporter } from './ticker.js';

export type TerminalStream = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number };

export interface ProgressBarOptions {
  readonly snapshot: () => RunSnapshot;
  readonly figures: FigureTracker;
  readonly intervalMs: number;
  readonly stream: TerminalStream;
  /** Runs after each frame (see `createTicker`). */
  readonly after?: (final: boolean) => void;
}

/** log-update is loaded only when a bar is drawn (on a terminal): it would add about 0.1 s to every start. */
export async function createProgressBar(options: ProgressBarOptions): Promise<Reporter> {
  const { snapshot, figures, stream } = options;
  const { createLogUpdate } = await import('log-update');
  const log = createLogUpdate(stream);
  const draw = (final: boolean): void => {
    log(formatBar(figures(snapshot()), stream.columns || OBSERVE_DEFAULTS.columns, final));
    if (final) log.done();
  };
  return createTicker(
    draw,
    options.intervalMs,
    (line, live) => {
      if (!live) {
        stream.write(`${line}\n`);
        return;
      }
      // Erase the bar, leave the line in the scrollback, draw the bar again below it.
      log.persist(line);
      draw(false);
    },
    options.after,
  );
}

const SEP = ' │ ';

/**
 * The display for `columns` columns: one line, or two when the services need their own. No line
 * is wider than `columns - 1` (writing the last column makes some terminals wrap).
 */
export function formatBar(f: Figures, columns: number, final = false): string {
  const width = Math.max(20, Math.floor(columns) - 1);
  const head = headOf(f, final);
  const services = f.services.map(serviceOf);
  // In the order they are shown; `drop` ranks what goes first when the line is too wide.
  const tail: { text: string; drop: number }[] = [];
  tail.push({ text: `buf ${f.buffered}`, drop: 1 });
  if (f.threads > 0) tail.push({ text: `cpu ${f.busyThreads}/${f.threads}`, drop: 0 });
  const batch = Math.max(1, ...f.batches.map((b) => b.size));
  if (batch > 1) tail.push({ text: `batch ${batch}`, drop: 0.2 });
  // Live: the last few seconds; the final line: the whole run. Kept longer when saturated.
  const main = final ? f.mainThread.utilization : f.mainThread.recentUtilization;
  if (f.lanes !== undefined) {
    const busy = final ? f.lanes.utilization : f.lanes.busy;
    const saturated = busy.length > 0 && busy.every((u) => u >= OBSERVE_DEFAULTS.ceilingUtilization);
    const text = busy.length > 0 ? `lanes ${f.lanes.count} (busy ${busyList(busy)})` : `lanes ${f.lanes.count}`;
    tail.push({ text, drop: saturated ? 2.4 : 0.6 });
  }
  tail.push({ text: `main ${percent(main)}`, drop: main >= OBSERVE_DEFAULTS.ceilingUtilization ? 2.5 : 0.5 });
  if (f.failed > 0) tail.push({ text: `failed ${f.failed}`, drop: 2 });
  if (f.draining) tail.push({ text: 'draining', drop: 3 });
  // A queue worker: the jobs it holds, and the queue's waiting ones once it has looked.
  if (f.queue !== undefined) {
    tail.push({ text: `held ${f.queue.held}`, drop: 4 });
    if (f.queue.jobs !== undefined) tail.push({ text: `queue ${f.queue.jobs.waiting} waiting`, drop: 1.5 });
  }

  const one = withBar(f, [head, ...services, ...tail.map((t) => t.text)].join(SEP), width);
  // One line only if it keeps the bar: a bar and two lines read better than one line without it.
  if (one.length <= width && (f.total === undefined || one.startsWith('['))) return one;

  let first = withBar(f, [head, ...tail.map((t) => t.text)].join(SEP), width);
  for (const victim of [...tail].sort((a, b) => a.drop - b.drop)) {
    if (first.length <= width) break;
    tail.splice(tail.indexOf(victim), 1);
    first = withBar(f, [head, ...tail.map((t) => t.text)].join(SEP), width);
  }
  const lines = [cut(first, width)];
  if (services.length > 0) lines.push(cut(fitList(services, width), width));
  return lines.join('\n');
}

function headOf(f: Figures, final: boolean): string {
  const parts = f.total !== undefined ? [`${f.done}/${f.total}`, `${f.percent ?? 0}%`] : [`${f.done} done`];
  parts.push(formatRate(f.rate));
  if (final) parts.push(`in ${formatDuration(f.elapsedMs)}`);
  else if (f.etaMs !== undefined) parts.push(`ETA ${formatDuration(f.etaMs)}`);
  return parts.join(' ');
}

function serviceOf(s: ServiceFigures): string {
  return `${s.name} ${s.inFlight}/${s.limit}${s.queued > 0 ? ` q${s.queued}` : ''}`;
}

/** Prefixes `[####....] ` when the total is known and there is room for a bar worth drawing. */
function withBar(f: Figures, text: string, width: number): string {
  if (f.total === undefined) return text;
  const inner = Math.min(OBSERVE_DEFAULTS.barWidth, width - text.length - 3);
  if (inner < OBSERVE_DEFAULTS.minBarWidth) return text;
  const ratio = f.total > 0 ? Math.min(1, f.done / f.total) : 1;
  const filled = Math.floor(ratio * inner);
  return `[${'#'.repeat(filled)}${'.'.repeat(inner - filled)}] ${text}`;
}

/** As many items as fit, then `+N` for the ones left out. */
function fitList(items: readonly string[], width: number): string {
  const all = items.join(SEP);
  if (all.length <= width) return all;
  for (let n = items.length - 1; n > 0; n--) {
    const line = [...items.slice(0, n), `+${items.length - n}`].join(SEP);
    if (line.length <= width) return line;
  }
  return items[0] ?? '';
}

function cut(line: string, width: number): string {
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}
