/**
 * Writes what scenarios report: `<name>.json`, `<name>.md` and the charts' SVGs into the results
 * directory, then `summary.md`, which strings together every scenario's markdown found there (so a
 * run of one `--scope` refreshes its part of the summary and keeps the others).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { renderSvg } from './charts.js';
import type { ScenarioReport } from './types.js';

export const ORDER = [
  'pipeline',
  'memory',
  'tail',
  'shared',
  'adaptive',
  'overhead',
  'fine-grained',
  'ceiling',
  'bridge',
  'durable',
  'scale-out',
  'lanes',
] as const;

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${cpus().length} vCPU ${cpu}, Node ${process.version}, ${process.platform}/${process.arch}`;
}

export async function writeScenario(report: ScenarioReport, dir: URL, meta: { command: string; elapsedMs: number }): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    new URL(`${report.name}.json`, dir),
    `${JSON.stringify({ meta: { ...meta, machine: machine(), date: new Date().toISOString() }, checks: report.checks, data: report.json }, null, 2)}\n`,
  );
  for (const chart of report.charts) writeFileSync(new URL(chart.file, dir), await renderSvg(chart.spec));
  const checks = report.checks.map(
    (c) => `- ${c.pass ? 'PASS' : c.structural ? '**FAIL**' : 'NOT MET'}${c.structural ? '' : ' (target)'}: ${c.claim} — ${c.detail}`,
  );
  const md = [
    `## ${report.title}`,
    '',
    `\`${meta.command}\` on ${machine()}; ${(meta.elapsedMs / 1000).toFixed(0)} s.`,
    '',
    report.method.trim(),
    '',
    report.markdown.trim(),
    '',
    ...report.charts.map((c) => `![${c.title}](${c.file})`),
    ...(report.charts.length > 0 ? [''] : []),
    ...(checks.length > 0 ? ['Checks:', '', ...checks, ''] : []),
  ].join('\n');
  writeFileSync(new URL(`${report.name}.md`, dir), `${md}\n`);
}

export function writeSummary(dir: URL): string[] {
  const present = ORDER.filter((name) => existsSync(new URL(`${name}.md`, dir)));
  const parts = present.map((name) => readFileSync(new URL(`${name}.md`, dir), 'utf8').trim());
  const md = [
    '# sluice benchmarks',
    '',
    'Every scenario runs its baselines in the same run; figures are medians over rounds, ratios are',
    'paired within a round. Reproduce with `npm run bench` (all, under 10 minutes on 2 cores) or',
    '`npm run bench -- --scope NAME`. Each section names the command and machine it came from.',
    '',
    ...present.map((name) => `- [${name}](#${name})`),
    '',
    ...parts.flatMap((p, i) => [`<a id="${present[i]}"></a>`, '', p, '']),
  ].join('\n');
  writeFileSync(new URL('summary.md', dir), md);
  return [...present];
}
