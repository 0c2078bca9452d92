/**
 * Renders a scenario's vega-lite specs to SVG in Node: vega-lite compiles to a vega spec, a headless
 * vega View (renderer 'none') writes the SVG. No browser, no canvas, no network.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

const CONFIG = {
  background: 'white',
  font: 'Helvetica, Arial, sans-serif',
  title: { fontSize: 14, anchor: 'start' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12 },
} as const;

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const withConfig = { ...spec, config: { ...CONFIG, ...((spec.config as object | undefined) ?? {}) } } as unknown as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(withConfig).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
