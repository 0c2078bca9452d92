/**
 * The memory scenario's summary, table, checks and charts, from its run records.
 * Counters (buffered, in hand) are reported as their maximum over rounds (a peak is a peak); RSS and
 * wall time as medians over the completed rounds.
 */
import { int } from '../harness/format.js';
import { median } from '../harness/stats.js';
import type { Check, ChartSpec } from '../harness/types.js';
import type { RunRecord } from './run.js';
import type { StrategyName } from './strategies.js';

export interface Cell {
  readonly strategy: StrategyName;
  readonly n: number;
  readonly runs: number;
  readonly completedRuns: number;
  readonly killedRuns: number;
  /** Runs that neither completed nor were killed at the cap (timeout, crash, task errors). */
  readonly failedRuns: number;
  /** Median over completed runs; undefined if none completed. */
  readonly peakRssMiB?: number;
  readonly startRssMiB?: number;
  readonly wallMs?: number;
  /** Max over all runs (for killed runs a lower bound: as of their last progress line). */
  readonly peakBuffered: number;
  readonly peakInHand: number;
  /** Killed runs: median tasks completed before the kill, and time to the kill. */
  readonly killedAfter?: number;
  readonly killedAtMs?: number;
  /** Killed runs that printed no progress line before the kill (their counters are unknown). */
  readonly silentKills: number;
  readonly bound?: number;
}

export function summarize(records: readonly RunRecord[], strategies: readonly StrategyName[], ns: readonly number[]): Cell[] {
  const cells: Cell[] = [];
  for (const strategy of strategies) {
    for (const n of ns) {
      const rs = records.filter((r) => r.strategy === strategy && r.n === n);
      if (rs.length === 0) continue;
      const ok = rs.filter((r) => r.status === 'ok');
      const killed = rs.filter((r) => r.status === 'killed');
      const peakRssMiB = median(ok.map((r) => r.peakRssMiB));
      const startRssMiB = median(rs.flatMap((r) => (r.startRssMiB !== undefined ? [r.startRssMiB] : [])));
      const wallMs = median(ok.map((r) => r.wallMs));
      const heard = killed.filter((r) => r.progressSeen);
      const killedAfter = median(heard.map((r) => r.completed));
      const killedAtMs = median(killed.map((r) => r.wallMs));
      const bound = rs.find((r) => r.bound !== undefined)?.bound;
      cells.push({
        strategy,
        n,
        runs: rs.length,
        completedRuns: ok.length,
        killedRuns: killed.length,
        failedRuns: rs.length - ok.length - killed.length,
        ...(peakRssMiB !== undefined ? { peakRssMiB } : {}),
        ...(startRssMiB !== undefined ? { startRssMiB } : {}),
        ...(wallMs !== undefined ? { wallMs } : {}),
        peakBuffered: Math.max(...rs.map((r) => r.peakBuffered)),
        peakInHand: Math.max(...rs.map((r) => r.peakInHand)),
        ...(killedAfter !== undefined ? { killedAfter } : {}),
        ...(killedAtMs !== undefined ? { killedAtMs } : {}),
        silentKills: killed.length - heard.length,
        ...(bound !== undefined ? { bound } : {}),
      });
    }
  }
  return cells;
}

const mib = (x: number | undefined): string => (x === undefined ? '–' : int(x));
/** How a killed cell ended: after how many tasks, or before the child could say. */
function killedText(c: Cell): string {
  if (c.killedAfter === undefined) return 'killed at cap before its first progress line (event loop blocked)';
  return `killed at cap after ${int(c.killedAfter)} tasks${c.silentKills > 0 ? ` (${c.silentKills} run(s) silent)` : ''}`;
}

const secs = (ms: number | undefined): string => (ms === undefined ? '–' : (ms / 1000).toFixed(ms < 10_000 ? 2 : 1));

export function table(cells: readonly Cell[], capMiB: number): string {
  const rows = cells.map((c) => {
    const allKilled = c.completedRuns === 0 && c.killedRuns > 0;
    const killedNote = c.killedRuns > 0 ? `${killedText(c)}${c.completedRuns > 0 ? ` (${c.killedRuns} of ${c.runs} runs)` : ''}` : '';
    const unknown = allKilled && c.silentKills === c.killedRuns;
    const other = c.failedRuns > 0 ? `${c.failedRuns} of ${c.runs} runs failed (see JSON)` : '';
    const rss = allKilled ? `> ${int(capMiB)} (killed)` : mib(c.peakRssMiB);
    const buffered = unknown ? 'n/a' : allKilled ? `≥ ${int(c.peakBuffered)}` : int(c.peakBuffered);
    const inHand = unknown ? 'n/a' : allKilled ? `≥ ${int(c.peakInHand)}` : int(c.peakInHand);
    const completed = c.completedRuns > 0 ? `${int(c.n)}` : '';
    const wall = allKilled ? `${secs(c.killedAtMs)} to kill` : secs(c.wallMs);
    const status = [completed && killedNote ? `${completed}; ${killedNote}` : completed || killedNote, other].filter(Boolean).join('; ');
    return `| ${c.strategy} | ${int(c.n)} | ${rss} | ${mib(c.startRssMiB)} | ${buffered}${c.bound !== undefined ? ` (bound ${c.bound})` : ''} | ${inHand} | ${wall} | ${status} | ${c.runs} |`;
  });
  return [
    '| strategy | N | peak RSS (MiB) | RSS after warm-up (MiB) | peak buffered payloads | peak payloads in hand | wall (s) | tasks completed | runs |',
    '|---|---:|---:|---:|---:|---:|---:|---|---:|',
    ...rows,
  ].join('\n');
}

/** RSS at the largest N over RSS at the smallest, or how the strategy ended at the larger N. */
export function growth(cells: readonly Cell[], strategy: StrategyName, ns: readonly number[]): { ratio?: number; text: string } {
  const lo = cells.find((c) => c.strategy === strategy && c.n === ns[0]);
  const mine = cells.filter((c) => c.strategy === strategy);
  const hi = cells.find((c) => c.strategy === strategy && c.n === ns[ns.length - 1]);
  const firstKilled = mine.find((c) => c.completedRuns === 0 && c.killedRuns > 0);
  if (firstKilled !== undefined) {
    const base = lo?.peakRssMiB !== undefined ? `${int(lo.peakRssMiB)} MiB at N = ${int(lo.n)}, ` : '';
    return { text: `${base}from N = ${int(firstKilled.n)} ${killedText(firstKilled)}` };
  }
  if (lo?.peakRssMiB === undefined || hi?.peakRssMiB === undefined) return { text: 'no completed run to compare' };
  const ratio = hi.peakRssMiB / lo.peakRssMiB;
  return {
    ratio,
    text: `${int(hi.peakRssMiB)} MiB at N = ${int(hi.n)} ÷ ${int(lo.peakRssMiB)} MiB at N = ${int(lo.n)} = ${ratio.toFixed(2)}×`,
  };
}

export function checks(
  records: readonly RunRecord[],
  cells: readonly Cell[],
  strategies: readonly StrategyName[],
  ns: readonly number[],
  rssTarget: number,
): Check[] {
  const sluice = records.filter((r) => r.strategy === 'sluice');
  const out: Check[] = [];
  const perN = ns.map((n) => {
    const rs = sluice.filter((r) => r.n === n);
    return { n, rs, peak: Math.max(...rs.map((r) => r.peakBuffered)), bounds: [...new Set(rs.map((r) => r.bound))] };
  });
  const within = sluice.length > 0 && sluice.every((r) => r.bound !== undefined && r.peakBuffered <= r.bound);
  out.push({
    claim:
      'sluice: peak buffered payloads (stats().buffered.peak) ≤ its bound (non-last stage capacities + buffer bounds) at every N, in every run',
    pass: within,
    detail: perN
      .map(
        (p) =>
          `N = ${int(p.n)}: peak ${p.rs.length ? p.peak : '–'} ≤ bound ${p.bounds.map((b) => b ?? '?').join('/')} (${p.rs.length} run${p.rs.length === 1 ? '' : 's'})`,
      )
      .join('; '),
    structural: true,
  });
  const bounds = new Set(sluice.map((r) => r.bound));
  const [first, last] = [perN[0], perN[perN.length - 1]];
  const bound = [...bounds][0];
  const flat =
    bounds.size === 1 &&
    bound !== undefined &&
    first !== undefined &&
    last !== undefined &&
    first.rs.length > 0 &&
    last.rs.length > 0 &&
    last.peak <= bound;
  out.push({
    claim: `sluice: memory flat in N by counter (the same bound at every N; peak buffered at N = ${int(last?.n ?? 0)} within it, as at N = ${int(first?.n ?? 0)})`,
    pass: flat,
    detail: `bound ${[...bounds].join('/')} at every N; peak buffered ${perN.map((p) => `${p.rs.length ? p.peak : '–'} at N = ${int(p.n)}`).join(', ')}`,
    structural: true,
  });
  const lost = sluice.filter((r) => r.status !== 'ok' || r.completed !== r.n || r.failed > 0);
  out.push({
    claim: 'sluice completed every task at every N, in every run',
    pass: sluice.length > 0 && lost.length === 0 && ns.every((n) => sluice.some((r) => r.n === n)),
    detail:
      lost.length === 0
        ? perN.map((p) => `N = ${int(p.n)}: ${p.rs.map((r) => int(r.completed)).join(', ')} completed`).join('; ')
        : lost
            .map((r) => `N = ${int(r.n)} round ${r.round + 1}: ${r.status}, ${int(r.completed)} completed${r.note ? ` (${r.note})` : ''}`)
            .join('; '),
    structural: true,
  });
  const g = growth(cells, 'sluice', ns);
  // The smallest N may end before the garbage of moved payloads reaches its steady level: say
  // what the step between the two largest Ns was too.
  const rssAt = (n: number | undefined) => cells.find((c) => c.strategy === 'sluice' && c.n === n)?.peakRssMiB;
  const [prev, top] = [rssAt(ns[ns.length - 2]), rssAt(ns[ns.length - 1])];
  const step =
    ns.length > 2 && prev !== undefined && top !== undefined
      ? `; N = ${int(ns[ns.length - 2]!)} → ${int(ns[ns.length - 1]!)}: ${(top / prev).toFixed(2)}×`
      : '';
  out.push({
    claim: `sluice: peak RSS at the largest N ÷ at the smallest N ≤ ${rssTarget}×`,
    pass: g.ratio !== undefined && g.ratio <= rssTarget,
    detail: `${g.text}${step}`,
    structural: false,
  });
  for (const s of strategies.filter((x) => x !== 'sluice')) {
    const gs = growth(cells, s, ns);
    if (s === 'plimit-await') {
      // Flat by payloads (a slot is held until its payload is processed), but every task's promise
      // and p-limit entry exist from the start, so its RSS may still grow with N.
      const mine = cells.filter((c) => c.strategy === s);
      out.push({
        claim: `${s}: peak RSS at the largest N ÷ at the smallest N ≤ ${rssTarget}× (its payloads in hand stay ≤ k, but its per-task promises are all created up front)`,
        pass: gs.ratio !== undefined && gs.ratio <= rssTarget,
        detail: `${gs.text}; peak payloads in hand ${mine.map((c) => `${int(c.peakInHand)} at N = ${int(c.n)}`).join(', ')}`,
        structural: false,
      });
      continue;
    }
    out.push({
      claim: `${s} (no back pressure on the fetches): peak RSS grows with N (> ${rssTarget}× or killed at the cap)`,
      pass: gs.ratio === undefined ? /killed/.test(gs.text) : gs.ratio > rssTarget,
      detail: gs.text,
      structural: false,
    });
  }
  return out;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const KILLED = 'killed at cap';
const DONE = 'completed';

export function charts(
  cells: readonly Cell[],
  strategies: readonly StrategyName[],
  ns: readonly number[],
  capMiB: number,
  sluiceBound: number | undefined,
): ChartSpec[] {
  const plotted = cells
    .map((c) => {
      const killed = c.completedRuns === 0 && c.killedRuns > 0;
      if (!killed && c.peakRssMiB === undefined) return undefined;
      return {
        strategy: c.strategy,
        n: c.n,
        rssMiB: killed ? capMiB : Math.round(c.peakRssMiB!),
        buffered: Math.max(1, c.peakBuffered),
        bufferedKnown: !killed || c.silentKills < c.killedRuns,
        outcome: killed ? KILLED : DONE,
      };
    })
    .filter((x) => x !== undefined);
  // Killed points of several strategies share a spot at the cap: label each, stacked below it.
  const killedLabels = plotted
    .filter((p) => p.outcome === KILLED)
    .map((p, i, all) => {
      const rank = all.slice(0, i).filter((q) => q.n === p.n).length;
      const cell = cells.find((c) => c.strategy === p.strategy && c.n === p.n);
      const after = cell?.killedAfter !== undefined ? `after ${int(cell.killedAfter)} tasks` : 'before any progress';
      return { n: p.n, strategy: p.strategy, y: capMiB * (0.93 - 0.07 * rank), label: `${p.strategy}: killed ${after}` };
    });
  const x = {
    field: 'n',
    type: 'quantitative',
    title: 'N (tasks)',
    scale: { type: 'log', domain: [ns[0]! / 1.5, ns[ns.length - 1]! * 1.5] },
    axis: { values: [...ns], format: '~s' },
  };
  const color = { field: 'strategy', type: 'nominal', title: 'strategy', sort: [...strategies], scale: { domain: [...strategies] } };
  // Dashed lines for promise-all, so it does not hide plimit-unbounded where both are killed.
  const dash = {
    field: 'strategy',
    type: 'nominal',
    scale: { domain: [...strategies], range: strategies.map((s) => (s === 'promise-all' ? [6, 4] : [1, 0])) },
  };
  const shape = { field: 'outcome', type: 'nominal', title: 'outcome', scale: { domain: [DONE, KILLED], range: ['circle', 'cross'] } };
  const rss: ChartSpec = {
    file: 'memory-rss.svg',
    title: 'Peak RSS vs N',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Peak RSS vs N (median of rounds)',
        subtitle: `fetch 256 KiB per task; dashed line: the RSS cap (${int(capMiB)} MiB), where a run is killed`,
      },
      width: 560,
      height: 260,
      data: { values: plotted },
      layer: [
        {
          mark: { type: 'line', strokeWidth: 2 },
          encoding: { x, y: { field: 'rssMiB', type: 'quantitative', title: 'peak RSS (MiB)' }, color, strokeDash: dash },
        },
        {
          mark: { type: 'point', filled: true, size: 90, opacity: 1 },
          encoding: { x, y: { field: 'rssMiB', type: 'quantitative' }, color, shape },
        },
        {
          data: { values: [{ cap: capMiB }] },
          mark: { type: 'rule', strokeDash: [5, 4], color: '#888' },
          encoding: { y: { field: 'cap', type: 'quantitative' } },
        },
        {
          data: { values: killedLabels },
          mark: { type: 'text', align: 'right', dx: -10, fontSize: 10 },
          encoding: { x, y: { field: 'y', type: 'quantitative' }, text: { field: 'label' }, color },
        },
      ],
    },
  };
  const top = Math.max(10, ...plotted.filter((p) => p.bufferedKnown).map((p) => p.buffered));
  const bufferedY = {
    field: 'buffered',
    type: 'quantitative',
    title: 'peak buffered payloads (log)',
    scale: { type: 'log', domain: [1, 10 ** Math.ceil(Math.log10(top))] },
    axis: { values: [1, 10, 100, 1_000, 10_000, 100_000].filter((v) => v <= 10 * top), format: '~s' },
  };
  const bufferedChart: ChartSpec = {
    file: 'memory-buffered.svg',
    title: 'Peak buffered payloads vs N',
    spec: {
      $schema: SCHEMA,
      title: {
        text: 'Peak buffered payloads vs N (fetched, not yet on a thread)',
        subtitle: [
          'max over rounds; crosses: killed at the cap, a lower bound as of their last progress line',
          `runs killed before any progress line are not drawn${sluiceBound !== undefined ? `; dashed: sluice's bound (${sluiceBound})` : ''}`,
        ],
      },
      width: 560,
      height: 260,
      data: { values: plotted.filter((p) => p.bufferedKnown) },
      layer: [
        { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: bufferedY, color, strokeDash: dash } },
        { mark: { type: 'point', filled: true, size: 90, opacity: 1 }, encoding: { x, y: bufferedY, color, shape } },
        ...(sluiceBound !== undefined
          ? [
              {
                data: { values: [{ bound: sluiceBound }] },
                mark: { type: 'rule', strokeDash: [5, 4], color: '#888' },
                encoding: { y: { field: 'bound', type: 'quantitative' } },
              },
            ]
          : []),
      ],
    },
  };
  return [rss, bufferedChart];
}
