/**
 * The adaptive scenario's charts, as vega-lite specs with inline data (the suite renders them):
 * the batch's throughput over time per strategy, and the requests each client keeps outstanding at
 * the service (its limit, where it fills it; for the throttle, what its rate puts there) next to C_s, both from one round (the last whose runs all finished) with the
 * phase boundaries marked.
 */
import type { ChartSpec } from '../harness/types.js';
import { rate } from './metrics.js';
import { kindOf } from './strategies.js';
import type { RunRecord, Scenario } from './types.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
/** Width of the throughput window: short enough to show a 3 s phase's transient. */
const WINDOW_MS = 500;
/** Top of the requests-outstanding axis; a client above it (the throttle when C_s drops) is clipped. */
const INFLIGHT_CAP = 60;

const round1 = (x: number) => Math.round(x * 10) / 10;

/** The phase boundaries as rules, and each phase's C_s as a label at its top. */
function phaseLayers(sc: Scenario): Record<string, unknown>[] {
  const bounds = sc.capacities.slice(1).map((_, i) => ({ t: ((i + 1) * sc.phaseMs) / 1000 }));
  const labels = sc.capacities.map((c, i) => ({ t: ((i + 0.5) * sc.phaseMs) / 1000, text: `C_s = ${c}` }));
  return [
    {
      data: { values: bounds },
      mark: { type: 'rule', color: '#888', strokeDash: [4, 3] },
      encoding: { x: { field: 't', type: 'quantitative' } },
    },
    {
      data: { values: labels },
      mark: { type: 'text', baseline: 'top', dy: 2, color: '#555', fontSize: 11 },
      encoding: { x: { field: 't', type: 'quantitative' }, y: { value: 0 }, text: { field: 'text' } },
    },
  ];
}

export function charts(records: readonly RunRecord[], sc: Scenario, strategies: readonly string[]): ChartSpec[] {
  const batch = strategies.filter((s) => kindOf(s) !== 'none');
  const rounds = [...new Set(records.map((r) => r.round))].sort((a, b) => b - a);
  const round =
    rounds.find((n) => batch.every((s) => records.some((r) => r.round === n && r.strategy === s && r.status === 'ok' && r.child))) ??
    rounds[0];
  const runs = batch.flatMap((s) => records.filter((r) => r.round === round && r.strategy === s && r.child).slice(-1));
  const name = (r: RunRecord) => (r.rate !== undefined ? `${r.strategy} ${r.rate}/s` : r.strategy);
  const order = runs.map(name);
  const total = sc.capacities.length * sc.phaseMs;
  const thr = runs.flatMap((r) =>
    r
      .child!.series.filter((s) => s.t >= WINDOW_MS && s.t <= total)
      .map((s) => ({ strategy: name(r), t: s.t / 1000, reqs: round1(rate(r.child!.series, s.t - WINDOW_MS, s.t) ?? 0) })),
  );
  const inflight = runs.flatMap((r) =>
    r
      .child!.series.filter((s) => s.t <= total)
      .map((s) => ({ strategy: name(r), t: s.t / 1000, outstanding: Math.min(s.outstanding, INFLIGHT_CAP) })),
  );
  const capacity = sc.capacities.flatMap((c, i) => [
    { t: (i * sc.phaseMs) / 1000, capacity: c },
    { t: ((i + 1) * sc.phaseMs) / 1000, capacity: c },
  ]);
  const x = { field: 't', type: 'quantitative', title: 's since the job started', scale: { domain: [0, total / 1000] } };
  const color = { field: 'strategy', type: 'nominal', sort: order, title: null, legend: { orient: 'bottom' } };
  const sub = `C_s = ${sc.capacities.join(' → ')}, ${sc.phaseMs / 1000} s each; round ${round}`;
  return [
    {
      file: 'adaptive-throughput.svg',
      title: 'Batch throughput over time per strategy',
      spec: {
        $schema: SCHEMA,
        title: { text: `Batch throughput (req/s, ${WINDOW_MS} ms windows)`, subtitle: sub },
        width: 560,
        height: 260,
        layer: [
          {
            data: { values: thr },
            mark: { type: 'line', strokeWidth: 1.5 },
            encoding: { x, y: { field: 'reqs', type: 'quantitative', title: 'completed req/s' }, color },
          },
          ...phaseLayers(sc),
        ],
      },
    },
    {
      file: 'adaptive-inflight.svg',
      title: 'Requests outstanding (the limit in use) over time per strategy',
      spec: {
        $schema: SCHEMA,
        title: {
          text: 'Requests outstanding at the service (the limit in use)',
          subtitle: `${sub}; grey: C_s; cut at ${INFLIGHT_CAP}`,
        },
        width: 560,
        height: 260,
        layer: [
          {
            data: { values: capacity },
            mark: { type: 'line', color: '#bbb', strokeWidth: 6, opacity: 0.6 },
            encoding: { x, y: { field: 'capacity', type: 'quantitative' } },
          },
          {
            data: { values: inflight },
            mark: { type: 'line', strokeWidth: 1.5, interpolate: 'step-after' },
            encoding: {
              x,
              y: { field: 'outstanding', type: 'quantitative', title: 'requests outstanding', scale: { domain: [0, INFLIGHT_CAP] } },
              color,
            },
          },
          ...phaseLayers(sc),
        ],
      },
    },
  ];
}
