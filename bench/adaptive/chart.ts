/**
 * A dependency-free SVG chart of the adaptive bench: one panel per batch strategy (its last
 * successful run), showing the batch's 1 s rolling throughput (left axis) and the service's limit
 * next to the simulator's capacity C_s (right axis, clipped at `LIMIT_CAP`) over time.
 */
import { rolling } from './metrics.js';
import type { RunRecord, Scenario } from './types.js';

const LIMIT_CAP = 60;
const [W, H, COLS] = [400, 190, 3];
const M = { l: 44, r: 36, t: 26, b: 26 };

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
const niceCeil = (x: number) => {
  const step = 10 ** Math.floor(Math.log10(Math.max(1, x)));
  return Math.ceil(x / step) * step;
};

function polyline(points: readonly (readonly [number, number])[], style: string): string {
  if (points.length === 0) return '';
  return `<polyline fill="none" ${style} points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`;
}

export function chart(records: readonly RunRecord[], sc: Scenario, strategies: readonly string[]): string {
  const picked = strategies.flatMap((s) => {
    const run = records.filter((r) => r.strategy === s && r.status === 'ok' && r.child).pop();
    return run ? [run] : [];
  });
  const total = sc.capacities.length * sc.phaseMs;
  const thrMax = niceCeil(Math.max(100, ...picked.flatMap((r) => rolling(r.child!.series).map((w) => w.v))));
  const limMax = Math.min(LIMIT_CAP, niceCeil(Math.max(...sc.capacities, ...picked.flatMap((r) => r.child!.series.map((s) => s.limit)))));
  const rowsN = Math.ceil(picked.length / COLS);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W * COLS}" height="${H * rowsN + 30}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="13">Batch throughput (blue, req/s, 1 s rolling, left axis), service limit (orange) and capacity C_s (grey, dashed), right axis clipped at ${limMax}; phases ${sc.capacities.join(' → ')}</text>`,
  ];
  picked.forEach((r, n) => {
    const [ox, oy] = [(n % COLS) * W, 30 + Math.floor(n / COLS) * H];
    const [pw, ph] = [W - M.l - M.r, H - M.t - M.b];
    const x = (t: number) => ox + M.l + (Math.min(t, total) / total) * pw;
    const yL = (v: number) => oy + M.t + ph - (Math.min(v, thrMax) / thrMax) * ph;
    const yR = (v: number) => oy + M.t + ph - (Math.min(v, limMax) / limMax) * ph;
    const series = r.child!.series.filter((s) => s.t <= total);
    const capacity = sc.capacities.flatMap((c, i) => [[x(i * sc.phaseMs), yR(c)], [x((i + 1) * sc.phaseMs), yR(c)]] as [number, number][]);
    const maxLimit = Math.max(...series.map((s) => s.limit));
    const title = `${r.strategy}${r.rate !== undefined ? ` (${Math.round(r.rate)} req/s)` : ''}${maxLimit > limMax ? ` — limit up to ${maxLimit}` : ''}`;
    out.push(
      `<rect x="${ox + M.l}" y="${oy + M.t}" width="${pw}" height="${ph}" fill="none" stroke="#bbb"/>`,
      `<text x="${ox + M.l}" y="${oy + M.t - 6}" font-weight="bold">${esc(title)}</text>`,
      ...sc.capacities.slice(1).map((_, i) => `<line x1="${x((i + 1) * sc.phaseMs)}" x2="${x((i + 1) * sc.phaseMs)}" y1="${oy + M.t}" y2="${oy + M.t + ph}" stroke="#ddd"/>`),
      ...[0, 0.5, 1].map((f) => `<text x="${ox + M.l - 4}" y="${yL(f * thrMax) + 4}" text-anchor="end" fill="#1f77b4">${Math.round(f * thrMax)}</text>`),
      ...[0, 0.5, 1].map((f) => `<text x="${ox + M.l + pw + 4}" y="${yR(f * limMax) + 4}" fill="#d62728">${Math.round(f * limMax)}</text>`),
      ...Array.from({ length: sc.capacities.length + 1 }, (_, i) => `<text x="${x(i * sc.phaseMs)}" y="${oy + M.t + ph + 14}" text-anchor="middle" fill="#555">${(i * sc.phaseMs) / 1000}s</text>`),
      polyline(capacity, 'stroke="#999" stroke-dasharray="4 3" stroke-width="1.5"'),
      polyline(rolling(series).map((w) => [x(w.t), yL(w.v)]), 'stroke="#1f77b4" stroke-width="1.5"'),
      polyline(series.flatMap((s, i) => {
        const prev = series[i - 1];
        return prev ? [[x(s.t), yR(prev.limit)], [x(s.t), yR(s.limit)]] : [[x(s.t), yR(s.limit)]];
      }), 'stroke="#ff7f0e" stroke-width="1.5"'),
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
