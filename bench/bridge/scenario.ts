/** Scenario `bridge`: what calling home over comlink costs a cpu stage (method in bench/bridge/measure.ts). */
import { fixed } from '../harness/format.js';
import type { Scenario } from '../harness/types.js';
import { measureBridge } from './measure.js';

export const scenario: Scenario = async (options) => {
  const runs = options.quick ? options.runs : Math.max(options.runs, 3);
  const r = await measureBridge({ runs, quick: options.quick, log: options.log });
  const f = r.figures;
  const ratio = f.bridgedOverPlainWall;
  const failed = r.samples.filter((s) => s.failed > 0).length;
  return {
    name: 'bridge',
    title: 'Workers calling home (comlink bridge)',
    method:
      `One process, T=${r.config.threads} threads per stage, each variant its own executor, warmed up first; ${runs} round(s), ` +
      'variants rotated per round; wall from the first pull to the last outcome and process CPU (all threads); differences ' +
      'and ratios paired within a round, medians over rounds.',
    markdown: r.table,
    checks: [
      { claim: 'every bridged task completed', pass: failed === 0, detail: `${failed} run(s) with failures`, structural: true },
      {
        claim: 'a stage that declares expose but does not call it costs ≤ 1.15× a plain stage on no-op tasks',
        pass: ratio !== undefined && ratio <= 1.15,
        detail: `${fixed(ratio, 2)}× (${fixed(f.bridgeOverheadWallUsPerTask, 1)} µs/task)`,
        structural: false,
      },
    ],
    charts: [],
    json: r,
  };
};
