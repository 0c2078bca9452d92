/**
 * The core bench (issue 2): five ways to run fetch → CPU over N tasks, side by side, and the
 * per-task overhead of sluice over raw Piscina on no-op tasks.
 *
 * Method. Held equal across strategies: the doc server (its own child process, fresh for every
 * run, L ms latency, 256 KiB bodies), the fetch helper and keep-alive agent (k sockets; Promise.all
 * gets no socket limit, being the no-limit strategy), the CPU step (one worker module, calibrated
 * once per bench run to ~5 ms of SHA-256 over the payload, run on T threads or on the main thread),
 * payloads moved to threads without a copy, and the task ids. Every (strategy, N) run is a fresh
 * process that warms up on its own code path before the timed N tasks; strategies run back to back
 * in each round, their order rotated per round, and ratios between strategies are paired within a
 * round before taking medians. A run that fails (task errors, timeout, RSS over the limit, crash)
 * is recorded as such and left out of the medians.
 *
 *   npm run bench -- [--scenario core|adaptive|bridge|all] [--runs 3] [--n 1000,10000] [--only sluice,plimit-await] [--quick] [--noop 20000]
 *
 * `--scenario` (default all) picks this core bench, the adaptive-limit bench (bench/adaptive.ts,
 * which takes --runs, --quick and, with --scenario adaptive, --only), the bridge bench
 * (bench/bridge.ts, which takes --runs, --quick and --threads), or all of them in turn.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildResult } from './common.js';
import { calibrate } from './calibrate.js';
import { markdown, rows, targets, type Config, type RunRecord, type Status } from './report.js';

const PIPELINE = ['promise-all', 'plimit-main', 'plimit-unbounded', 'plimit-await', 'sluice'];
const NOOP = ['noop-raw', 'noop-burst', 'noop-sluice'];
const STRATEGY = fileURLToPath(new URL('./strategy.ts', import.meta.url));
const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url));
const RESULTS = new URL('./results/', import.meta.url);

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string' },
    n: { type: 'string' },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    noop: { type: 'string', default: '20000' },
    out: { type: 'string' },
    latency: { type: 'string', default: '20' },
    size: { type: 'string', default: '262144' },
    'cpu-ms': { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    'rss-limit-mib': { type: 'string', default: '8192' },
    scenario: { type: 'string', default: 'all' },
  },
});
if (!['core', 'adaptive', 'bridge', 'all'].includes(flags.scenario)) {
  throw new Error(`--scenario: expected core, adaptive, bridge or all, got "${flags.scenario}"`);
}
const scenario = (name: string): boolean => flags.scenario === name || flags.scenario === 'all';

const only = flags.only?.split(',').map((s) => s.trim());
const cfg: Config = {
  runs: Number(flags.runs ?? 3),
  ns: (flags.n ?? (flags.quick ? '1000' : '1000,10000')).split(',').map(Number),
  latencyMs: Number(flags.latency),
  sizeBytes: Number(flags.size),
  concurrency: Number(flags.concurrency),
  threads: Number(flags.threads),
  noopTasks: Number(flags.noop),
  command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
};
const cpuMs = Number(flags['cpu-ms']);
const rssLimitMiB = Number(flags['rss-limit-mib']);
const wanted = (s: string) => only === undefined || only.includes(s);
const official = !flags.quick && only === undefined && flags.n === undefined && flags.out === undefined;
const outName = flags.out ?? (official ? 'core' : 'dev');
const suffix = official || flags.out !== undefined ? '' : '.tmp';

type Outcome = Omit<RunRecord, 'round' | 'strategy' | 'n'>;

function vmRssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function runChild(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Outcome> {
  const child = spawn(process.execPath, ['--import', 'tsx', STRATEGY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  let killed: Status | undefined;
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const kill = (why: Status) => {
    killed ??= why;
    child.kill('SIGKILL');
  };
  const timer = setTimeout(() => kill('timeout'), timeoutMs);
  const watchdog = setInterval(() => {
    if (child.pid !== undefined && vmRssMiB(child.pid) > rssLimitMiB) kill('rss-limit');
  }, 250);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(watchdog);
      if (killed === 'timeout') return resolve({ status: 'timeout', note: `killed after ${timeoutMs / 1000} s` });
      if (killed === 'rss-limit') return resolve({ status: 'rss-limit', note: `RSS over ${rssLimitMiB} MiB` });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (line === undefined) {
        const last = stderr.trim().split('\n').filter((l) => /Error|error/.test(l)).pop() ?? `exit ${code ?? signal}`;
        return resolve({ status: 'crash', note: last.trim().slice(0, 160) });
      }
      const result = JSON.parse(line.slice('RESULT '.length)) as ChildResult;
      if (result.failed > 0) return resolve({ status: 'errors', result, note: `${result.failed} failed: ${result.firstError ?? '?'}` });
      resolve({ status: 'ok', result });
    });
  });
}

/** Busy CPU time of the whole machine so far (ms), from /proc/stat. */
function machineBusyMs(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return Number.NaN;
  }
}

interface ServerCounters {
  readonly requests: number;
  readonly peakInFlight: number;
  readonly cpuMs: number;
}

async function startServer(): Promise<{ url: string; stop(): Promise<ServerCounters | undefined> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER, '--latency', String(cfg.latencyMs), '--size', String(cfg.sizeBytes)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let text = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /^URL (\S+)$/m.exec(text);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`doc server exited (${code}) before printing its URL`)));
  });
  return {
    url,
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
      const m = /^COUNTERS (.+)$/m.exec(text);
      return m ? (JSON.parse(m[1]!) as ServerCounters) : undefined;
    },
  };
}

const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length]!);

async function main(): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  const cal = calibrate(cpuMs, cfg.sizeBytes);
  console.error(`calibration: ${cal.rounds} SHA-256 rounds, ${cal.taskMs.toFixed(2)} ms per task (pass ${cal.passMs.toFixed(3)} ms)`);
  const env = { ...process.env, SLUICE_BENCH_ROUNDS: String(cal.rounds) };
  const common = ['--threads', String(cfg.threads), '--concurrency', String(cfg.concurrency)];
  const records: RunRecord[] = [];
  const save = (final: boolean) => {
    const table = rows(records, cfg, cal);
    const tgts = targets(records, table, cfg, cal);
    writeFileSync(new URL(`${outName}.json${suffix}`, RESULTS), JSON.stringify({ config: cfg, calibration: cal, rows: table, targets: tgts, records }, null, 2));
    if (!final) return;
    const md = markdown(table, tgts, cfg, cal);
    writeFileSync(new URL(`${outName}.md${suffix}`, RESULTS), md);
    process.stdout.write(md);
  };
  const record = (round: number, strategy: string, n: number, o: Outcome) => {
    records.push({ round, strategy, n, ...o });
    const r = o.result;
    const what = r ? `${r.wallMs.toFixed(0)} ms, RSS ${r.maxRssMiB.toFixed(0)} MiB, buffered ${r.peakBuffered}` : '';
    console.error(`[run ${round}] ${strategy} N=${n}: ${o.status} ${what} ${o.note ?? ''}`);
    save(false);
  };

  for (let round = 1; round <= cfg.runs; round++) {
    for (const n of cfg.ns) {
      for (const strategy of rotate(PIPELINE, round - 1).filter(wanted)) {
        const [busy0, t0] = [machineBusyMs(), performance.now()];
        const server = await startServer();
        const args = ['--strategy', strategy, '--n', String(n), '--url', server.url, ...common];
        const o = await runChild(args, env, 20_000 + 2 * n * cpuMs);
        const counters = await server.stop();
        const [busy, window] = [machineBusyMs() - busy0, performance.now() - t0];
        // CPU the machine spent on anything but this child and its server (other users' work).
        const others = busy - (o.result?.lifeCpuMs ?? Number.NaN) - (counters?.cpuMs ?? Number.NaN);
        const machine = { serverCpuMs: counters?.cpuMs, serverRequests: counters?.requests, othersCpuPct: (100 * others) / (window * 2) };
        record(round, strategy, n, { ...o, machine });
      }
    }
    if (cfg.noopTasks > 0) {
      for (const strategy of rotate(NOOP, round - 1).filter(wanted)) {
        const args = ['--strategy', strategy, '--n', String(cfg.noopTasks), '--warmup', '2000', ...common];
        record(round, strategy, cfg.noopTasks, await runChild(args, env, 60_000));
      }
    }
  }
  save(true);
}

if (scenario('core')) await main();
if (scenario('adaptive')) {
  const { runAdaptive } = await import('./adaptive.js');
  await runAdaptive({
    ...(flags.runs !== undefined ? { runs: Number(flags.runs) } : {}),
    quick: flags.quick,
    ...(flags.scenario === 'adaptive' && only !== undefined ? { only } : {}),
    command: cfg.command,
  });
}
if (scenario('bridge')) {
  const { runBridge } = await import('./bridge.js');
  await runBridge({
    ...(flags.runs !== undefined ? { runs: Number(flags.runs) } : {}),
    quick: flags.quick,
    threads: Number(flags.threads),
    command: cfg.command,
  });
}
