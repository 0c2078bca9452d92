/**
 * The durable scenario's tables and checks, from its run records. Figures are medians over rounds;
 * the journaled/off and keyed/off ratios and the CPU difference are paired within a round (the runs
 * back to back), then their median is taken.
 */
import { fixed, int } from '../harness/format.js';
import { median } from '../harness/stats.js';
import type { Check } from '../harness/types.js';
import type { CliResult, Mode, OutputCount } from './cli.js';
import type { CommitCost } from './journal.js';

/** One run of the no-op or the paced job. */
export interface RunRecord {
  readonly round: number;
  readonly job: 'noop' | 'paced';
  readonly mode: Mode;
  readonly n: number;
  readonly result: CliResult;
  readonly count?: OutputCount;
  /**
   * A journaled run: what its journal says once it exited; for a no-op run also `keyedDone`, how
   * many of its tasks the journal holds done under the job's own key (`doc-i`): all of them in mode
   * keyed, none with position keys.
   */
  readonly journal?: {
    readonly done: number;
    readonly finished: boolean;
    readonly outputLength: number;
    readonly keyedDone?: number;
  };
}

/** A start-up run: a new run of `left` tasks (no journal before), or a resume of a journal of `journalTasks` with `left` more. */
export interface StartRecord {
  readonly round: number;
  readonly kind: 'new' | 'resume';
  readonly journalTasks: number;
  readonly left: number;
  readonly result: CliResult;
  readonly count?: OutputCount;
}

export interface Targets {
  readonly ratio: number;
  readonly durableRate: number;
  readonly cpuPctOfCore: number;
  readonly pacedRateShare: number;
  readonly resumeMs: number;
}

const ok = (r: { result: CliResult }): boolean => r.result.code === 0 && r.result.summary !== undefined;
const rateOf = (r: RunRecord): number => r.result.summary?.tasksPerSecond ?? Number.NaN;
const cpuPctOf = (r: RunRecord): number => (r.result.pace ? (100 * r.result.pace.cpuMs) / r.result.pace.wallMs : Number.NaN);
const finite = (xs: readonly number[]): number[] => xs.filter((x) => Number.isFinite(x));
const med = (xs: readonly number[]): number => median(finite(xs)) ?? Number.NaN;
const range = (xs: readonly number[]): string => {
  const f = finite(xs);
  return f.length > 1 ? `${int(Math.min(...f))}–${int(Math.max(...f))}` : '';
};
const secs = (ms: number): string => fixed(ms / 1000, 2);

/** Per round, `of(a) / of(b)` or `of(a) - of(b)` for the two modes' runs of `job`. */
function paired(
  records: readonly RunRecord[],
  job: RunRecord['job'],
  a: Mode,
  b: Mode,
  f: (x: number, y: number) => number,
  of: (r: RunRecord) => number,
): number[] {
  const rounds = [...new Set(records.map((r) => r.round))];
  return rounds.flatMap((round) => {
    const x = records.find((r) => r.round === round && r.job === job && r.mode === a && ok(r));
    const y = records.find((r) => r.round === round && r.job === job && r.mode === b && ok(r));
    return x && y ? [f(of(x), of(y))] : [];
  });
}

export interface Figures {
  readonly rate: Record<Mode, number>;
  readonly ratio: number;
  readonly ratios: number[];
  /** Keyed (the job's own keys, a journal row per done task) over off, paired per round: reported, no target. */
  readonly keyedRatio: number;
  readonly keyedRatios: number[];
  /** Keyed over journaled (position keys), paired per round: what the rows cost. */
  readonly keyedVsJournaled: number;
  /** The same as time per task: keyed's minus journaled's (1/tasks per second), µs, paired per round. */
  readonly keyedUsPerTask: number;
  readonly paced: { readonly rate: Record<'journaled' | 'off', number>; readonly cpuPct: Record<'journaled' | 'off', number> };
  readonly cpuDiff: number;
  readonly pacedShare: number;
  readonly start: {
    readonly newFirstMs: number;
    readonly newExitMs: number;
    readonly resumeFirstMs: number;
    readonly resumeExitMs: number;
  };
}

export function figures(runs: readonly RunRecord[], starts: readonly StartRecord[]): Figures {
  const noop = (mode: Mode): number => med(runs.filter((r) => r.job === 'noop' && r.mode === mode && ok(r)).map(rateOf));
  const paced = (mode: 'journaled' | 'off', of: (r: RunRecord) => number): number =>
    med(runs.filter((r) => r.job === 'paced' && r.mode === mode && ok(r)).map(of));
  const ratios = paired(runs, 'noop', 'journaled', 'off', (x, y) => x / y, rateOf);
  const keyedRatios = paired(runs, 'noop', 'keyed', 'off', (x, y) => x / y, rateOf);
  const startOf = (kind: StartRecord['kind'], of: (r: CliResult) => number | undefined): number =>
    med(starts.filter((s) => s.kind === kind && ok(s)).map((s) => of(s.result) ?? Number.NaN));
  return {
    rate: { journaled: noop('journaled'), keyed: noop('keyed'), off: noop('off'), durable: noop('durable') },
    ratio: med(ratios),
    ratios,
    keyedRatio: med(keyedRatios),
    keyedRatios,
    keyedVsJournaled: med(paired(runs, 'noop', 'keyed', 'journaled', (x, y) => x / y, rateOf)),
    keyedUsPerTask: med(paired(runs, 'noop', 'keyed', 'journaled', (x, y) => 1e6 / x - 1e6 / y, rateOf)),
    paced: {
      rate: { journaled: paced('journaled', rateOf), off: paced('off', rateOf) },
      cpuPct: { journaled: paced('journaled', cpuPctOf), off: paced('off', cpuPctOf) },
    },
    cpuDiff: med(paired(runs, 'paced', 'journaled', 'off', (x, y) => x - y, cpuPctOf)),
    pacedShare: med(paired(runs, 'paced', 'journaled', 'off', (x, y) => x / y, rateOf)),
    start: {
      newFirstMs: startOf('new', (r) => r.firstMs),
      newExitMs: startOf('new', (r) => r.exitMs),
      resumeFirstMs: startOf('resume', (r) => r.firstMs),
      resumeExitMs: startOf('resume', (r) => r.exitMs),
    },
  };
}

const MODE_TEXT: Record<Mode, string> = {
  journaled: 'journaled: `--output FILE` (the default)',
  keyed: 'keyed: journaled, the job giving its own keys (a row per done task)',
  off: 'off: `--output -`, stdout a file',
  durable: 'journaled with `--durable`',
};

export function tables(
  f: Figures,
  runs: readonly RunRecord[],
  starts: readonly StartRecord[],
  cost: CommitCost,
  rate: number,
  built: { tasks: number; wallMs: number; outputBytes: number },
): string {
  const noopRow = (mode: Mode): string => {
    const rs = runs.filter((r) => r.job === 'noop' && r.mode === mode);
    const ratio = mode === 'off' ? '1' : fixed(med(paired(runs, 'noop', mode, 'off', (x, y) => x / y, rateOf)), 2);
    return `| ${MODE_TEXT[mode]} | ${int(rs[0]?.n ?? 0)} | **${int(f.rate[mode])}** | ${range(rs.filter(ok).map(rateOf))} | ${ratio} | ${rs.filter(ok).length}/${rs.length} |`;
  };
  const pacedRow = (mode: 'journaled' | 'off'): string => {
    const rs = runs.filter((r) => r.job === 'paced' && r.mode === mode);
    return `| ${MODE_TEXT[mode]} | ${int(rs[0]?.n ?? 0)} | ${int(f.paced.rate[mode])} | **${fixed(f.paced.cpuPct[mode], 1)}** | ${rs.filter(ok).length}/${rs.length} |`;
  };
  const startRow = (kind: StartRecord['kind']): string => {
    const ss = starts.filter((s) => s.kind === kind);
    const s = ss[0];
    const what = kind === 'new' ? 'a new run (no journal before)' : '`--resume`';
    const firstMs = kind === 'new' ? f.start.newFirstMs : f.start.resumeFirstMs;
    const exitMs = kind === 'new' ? f.start.newExitMs : f.start.resumeExitMs;
    return `| ${what} | ${int(s?.journalTasks ?? 0)} | ${int(s?.left ?? 0)} | **${secs(firstMs)}** | ${secs(exitMs)} | ${ss.filter(ok).length}/${ss.length} |`;
  };
  const commitsPerSecond = rate / cost.batch;
  return [
    '**Maximum no-op throughput** (tasks/s from the CLI summary: tasks over the run, from the first pull to the last outcome; ratio paired within a round):',
    '',
    '| run | N | tasks/s (median) | range | ÷ off (paired) | runs ok |',
    '|---|---:|---:|---:|---:|---:|',
    noopRow('journaled'),
    noopRow('keyed'),
    noopRow('off'),
    noopRow('durable'),
    '',
    `Keyed against journaled (paired): **×${fixed(f.keyedVsJournaled, 2)}**, ${fixed(f.keyedUsPerTask, 1)} µs more per task: the journal's row for each done task under the job's own key, where position keys keep none. A job giving its own keys pays the keyed figure; one that leaves the key to the input position, the journaled one.`,
    '',
    `With \`--durable\` each batch waits for two syncs (the output's fdatasync, then the journal's full-sync commit) and takes the outcomes that arrived meanwhile, up to 1,000 (or 20 ms): its throughput follows the disk's sync latency (shared with everything else on this machine), not the CPU.`,
    '',
    `**At a paced ${int(rate)} tasks/s** (CPU: user + sys of the whole process over the paced window, per second of it):`,
    '',
    '| run | tasks | tasks/s | CPU (% of one core) | runs ok |',
    '|---|---:|---:|---:|---:|',
    pacedRow('journaled'),
    pacedRow('off'),
    `| journaled − off (paired) | | ×${fixed(f.pacedShare, 3)} | **${f.cpuDiff >= 0 ? '+' : ''}${fixed(f.cpuDiff, 1)}** | |`,
    '',
    `The journal's commits alone (in-process, \`openJournal\` from the package, no output write): ${int(cost.commits)} commits of ${cost.batch} records with ${cost.inFlight} keys in flight cost **${fixed(cost.cpuUsPerCommit, 0)} µs CPU** each (${fixed(cost.wallUsPerCommit, 0)} µs wall); at ${int(rate)} tasks/s the batches fill at ${cost.batch} outcomes, ${fixed(commitsPerSecond, 0)} commits/s: **${fixed((commitsPerSecond * cost.cpuUsPerCommit) / 10_000, 1)}% of one core**.`,
    '',
    `**Start-up** (from the spawn of \`sluice run\` to its first task in the job's stage, and to its exit; the resumed journal of ${int(built.tasks)} settled tasks was built in ${secs(built.wallMs)} s, ${int(built.outputBytes / 2 ** 20)} MiB of output):`,
    '',
    '| run | tasks in the journal | tasks left | spawn → first task (s) | spawn → exit (s) | runs ok |',
    '|---|---:|---:|---:|---:|---:|',
    startRow('new'),
    startRow('resume'),
  ].join('\n');
}

const failures = (rs: readonly { result: CliResult }[]): string[] =>
  rs.filter((r) => !ok(r)).map((r) => r.result.note ?? `exit ${r.result.code}`);

export function checks(f: Figures, runs: readonly RunRecord[], starts: readonly StartRecord[], t: Targets): Check[] {
  const once = (c: OutputCount | undefined, n: number): boolean =>
    c !== undefined && c.lines === n && c.distinct === n && c.malformed === 0;
  const journaled = runs.filter((r) => r.mode !== 'off');
  const badJournaled = journaled.filter(
    (r) =>
      !once(r.count, r.n) ||
      r.journal === undefined ||
      r.journal.done !== r.n ||
      !r.journal.finished ||
      r.journal.outputLength !== r.count?.bytes,
  );
  const byMode = (rs: readonly RunRecord[]): string =>
    [...new Set(rs.map((r) => r.mode))].map((m) => `${rs.filter((r) => r.mode === m).length} ${m}`).join(', ');
  const journaledNoop = journaled.filter((r) => r.job === 'noop');
  const badKeys = journaledNoop.filter((r) => r.journal?.keyedDone !== (r.mode === 'keyed' ? r.n : 0));
  const off = runs.filter((r) => r.mode === 'off');
  const badOff = off.filter((r) => !once(r.count, r.n));
  const resumes = starts.filter((s) => s.kind === 'resume');
  const badResumes = resumes.filter(
    (s) =>
      !once(s.count, s.journalTasks + s.left) ||
      s.result.summary?.resumed !== true ||
      s.result.summary.skipped !== s.journalTasks ||
      s.result.summary.completed !== s.left,
  );
  const all = [...runs, ...starts];
  const describe = (c: OutputCount | undefined): string =>
    c ? `${int(c.lines)} lines, ${int(c.distinct)} distinct, ${c.malformed} malformed` : 'no output';
  return [
    {
      claim: 'every run exits 0 with its summary',
      pass: failures(all).length === 0,
      detail: failures(all).length === 0 ? `${all.length} runs` : failures(all).slice(0, 3).join('; '),
      structural: true,
    },
    {
      claim:
        "every journaled run's output holds each task's line exactly once, and its journal agrees (all done, finished, committed length = file size)",
      pass: journaled.length > 0 && badJournaled.length === 0,
      detail:
        badJournaled.length === 0
          ? `${journaled.length} runs (${byMode(journaled)})`
          : badJournaled
              .map((r) => `${r.job}/${r.mode} round ${r.round + 1}: ${describe(r.count)} of ${r.n}, journal ${JSON.stringify(r.journal)}`)
              .join('; '),
      structural: true,
    },
    {
      claim: "a keyed run's journal holds every task done under the job's own key (a row each); a position-keyed run's holds no such key",
      pass: journaledNoop.some((r) => r.mode === 'keyed') && badKeys.length === 0,
      detail:
        badKeys.length === 0
          ? `${journaledNoop.length} no-op runs (${byMode(journaledNoop)})`
          : badKeys
              .map(
                (r) => `${r.mode} round ${r.round + 1}: ${r.journal?.keyedDone ?? 'no journal'} of ${r.n} tasks done under their own key`,
              )
              .join('; '),
      structural: true,
    },
    {
      claim: 'with journaling off the run wrote as many lines, each task once',
      pass: off.length > 0 && badOff.length === 0,
      detail:
        badOff.length === 0
          ? `${off.length} runs`
          : badOff.map((r) => `${r.job} round ${r.round + 1}: ${describe(r.count)} of ${r.n}`).join('; '),
      structural: true,
    },
    {
      claim: 'a resume skips every task its journal holds, runs the rest, and the output holds every task exactly once',
      pass: resumes.length > 0 && badResumes.length === 0,
      detail:
        badResumes.length === 0
          ? `${resumes.length} resumes of ${int(resumes[0]?.journalTasks ?? 0)} + ${int(resumes[0]?.left ?? 0)}`
          : badResumes
              .map(
                (s) =>
                  `round ${s.round + 1}: ${describe(s.count)}, skipped ${s.result.summary?.skipped}, completed ${s.result.summary?.completed}`,
              )
              .join('; '),
      structural: true,
    },
    {
      claim: `maximum no-op throughput journaled ≥ ${t.ratio} of journaling off`,
      pass: f.ratio >= t.ratio,
      detail: `${fixed(f.ratio, 2)} (${int(f.rate.journaled)} vs ${int(f.rate.off)} tasks/s; per round ${f.ratios.map((r) => fixed(r, 2)).join(', ')})`,
      structural: false,
    },
    {
      claim: `\`--durable\` no-op throughput ≥ ${int(t.durableRate)} tasks/s`,
      pass: f.rate.durable >= t.durableRate,
      detail: `${int(f.rate.durable)} tasks/s`,
      structural: false,
    },
    {
      claim: `at a paced rate the journal costs ≤ ${t.cpuPctOfCore}% of one core`,
      pass: f.cpuDiff <= t.cpuPctOfCore,
      detail: `${f.cpuDiff >= 0 ? '+' : ''}${fixed(f.cpuDiff, 1)}% (${fixed(f.paced.cpuPct.journaled, 1)}% journaled vs ${fixed(f.paced.cpuPct.off, 1)}% off)`,
      structural: false,
    },
    {
      claim: `at a paced rate the journal costs no throughput (journaled ≥ ${t.pacedRateShare} of off)`,
      pass: f.pacedShare >= t.pacedRateShare,
      detail: `×${fixed(f.pacedShare, 3)} (${fixed(f.paced.rate.journaled, 0)} vs ${fixed(f.paced.rate.off, 0)} tasks/s)`,
      structural: false,
    },
    {
      claim: `a resume of a ${int(resumes[0]?.journalTasks ?? 0)}-task journal reaches its first task in < ${t.resumeMs / 1000} s`,
      pass: f.start.resumeFirstMs < t.resumeMs,
      detail: `${secs(f.start.resumeFirstMs)} s from spawn (a new run: ${secs(f.start.newFirstMs)} s)`,
      structural: false,
    },
  ];
}
