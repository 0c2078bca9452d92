/**
 * The contract between the bench runner (bench/main.ts) and its scenarios (bench/<name>/scenario.ts).
 * A scenario runs its strategies and baselines in the same run, takes medians over `runs` rounds,
 * and hands back markdown, JSON, chart specs and checks; the runner writes them and renders the
 * charts. Nothing here is timed by the runner: scenarios own their method.
 */

export interface SuiteOptions {
  /** A short version for the CI smoke: tiny sizes, one round, seconds not minutes. */
  readonly quick: boolean;
  /** Rounds to take medians over (>= 3 for published figures; 1 with --quick unless given). */
  readonly runs: number;
  /** The directory results go to (bench/results/, or a temp dir for the smoke test). */
  readonly results: URL;
  /** Printed while the scenario runs (progress lines on stderr). */
  log(line: string): void;
}

/**
 * A claim checked on the run's own results. `structural` claims (bounds, counters: buffered
 * payloads within bound, memory flat in N by counter, nothing lost) must hold in every run and fail
 * the bench (and the CI smoke) when they don't. Timing targets are reported, never failed on.
 */
export interface Check {
  readonly claim: string;
  readonly pass: boolean;
  /** The measured figures behind the verdict. */
  readonly detail: string;
  readonly structural: boolean;
}

/** A vega-lite spec with its data inline; the runner renders it to `results/<file>` as SVG. */
export interface ChartSpec {
  /** File name under results/, e.g. `memory-rss.svg`. */
  readonly file: string;
  readonly title: string;
  readonly spec: Record<string, unknown>;
}

export interface ScenarioReport {
  /** Short id, also the JSON file name: `pipeline`, `memory`, `tail`, `shared`, `adaptive`, `overhead`, `bridge`. */
  readonly name: string;
  readonly title: string;
  /** What is held equal, how warm-up is handled, what is compared (markdown, a paragraph or a list). */
  readonly method: string;
  /** The scenario's tables and notes (markdown, no top-level heading). */
  readonly markdown: string;
  readonly checks: readonly Check[];
  readonly charts: readonly ChartSpec[];
  /** Everything measured, written to results/<name>.json. */
  readonly json: unknown;
}

export type Scenario = (options: SuiteOptions) => Promise<ScenarioReport>;

/** A timed run of a child that measures the main thread's CPU (bench/ceiling, bench/lanes). */
export interface TimedRun {
  /** Tasks the timed run's input yielded, and their outcomes. */
  readonly pulled: number;
  readonly completed: number;
  readonly failed: number;
  readonly firstError?: string;
  readonly wallMs: number;
  /** The main thread's CPU time over the timed run: schedstat (ns resolution) and stat (10 ms clock ticks). */
  readonly mainCpuMs: number;
  readonly mainCpuTickMs: number;
}
