/**
 * The code's shape, checked: the rules of .dependency-cruiser.cjs (no import cycles, src/cli on the
 * public API only, src/worker free of main-thread code, src/limits on errors only, src/ never
 * importing bench/ or test/, the bench on the built package only), no two folders importing each
 * other, the README's code map naming every folder and every folder importing only what its row
 * says, and no source file of 400 lines or more.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Cruised {
  readonly modules: ReadonlyArray<{
    readonly source: string;
    readonly coreModule?: boolean;
    readonly dependencies: ReadonlyArray<{
      readonly resolved: string;
      readonly module: string;
      readonly coreModule: boolean;
      readonly couldNotResolve: boolean;
    }>;
  }>;
  readonly summary: {
    readonly violations: ReadonlyArray<{ readonly rule: { readonly name: string }; readonly from: string; readonly to: string }>;
  };
}

let cruised: Cruised;

beforeAll(async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [depcruise, 'src', 'workers', 'bench', 'test', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'],
      { cwd: root, maxBuffer: 64 * 1024 * 1024 },
      // depcruise exits non-zero when a rule is broken; the JSON still says which.
      (error, out, stderr) => (out.length > 0 ? resolve(out) : reject(new Error(`depcruise failed: ${stderr || String(error)}`))),
    );
  });
  cruised = JSON.parse(stdout) as Cruised;
}, 60_000);

/**
 * The unit a path belongs to in the folder graph: a folder under src/ (`src/run/`), one of the
 * files at the top of src/ (each its own unit: they are the modules everything shares), or a
 * top-level folder (`workers/`, `bench/`, `test/`). The built package (`sluice` as the bench
 * imports it) is `package`.
 */
function unitOf(path: string): string {
  if (path.startsWith('dist/')) return 'package';
  const parts = path.split('/');
  if (parts[0] === 'src') return parts.length > 2 ? `src/${parts[1]}/` : path;
  return `${parts[0]}/`;
}

function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const m of cruised.modules) {
    if (m.coreModule === true || m.source.includes('node_modules/') || m.source.startsWith('../') || m.source.startsWith('dist/')) continue;
    const from = unitOf(m.source);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const d of m.dependencies) {
      // Packages are not units (with node_modules a symlink, they resolve outside the tree: ../).
      if (d.coreModule || d.couldNotResolve || d.resolved.includes('node_modules/') || d.resolved.startsWith('../')) continue;
      const to = unitOf(d.resolved);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

/** The rows of the README's "Code map" table: folder → the units it may import. */
function codeMap(): Map<string, readonly string[]> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Code map');
  expect(start, 'README.md has a "## Code map" section').toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start + 1, end === -1 ? undefined : end);
  const rows = new Map<string, readonly string[]>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 5 || !cells[1]!.startsWith('`')) continue;
    const folder = /^`([^`]+)`/.exec(cells[1]!)![1]!;
    const may = [...cells[3]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    rows.set(folder, may);
  }
  return rows;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir))) {
    const path = join(dir, entry);
    if (statSync(join(root, path)).isDirectory()) {
      if (entry !== 'results' && entry !== 'node_modules') out.push(...sourceFiles(path));
    } else if (/\.(ts|mts|cts|js|mjs|cjs)$/.test(entry)) out.push(path);
  }
  return out;
}

describe('the code map', () => {
  it('breaks none of the dependency rules (.dependency-cruiser.cjs)', () => {
    expect(cruised.modules.length).toBeGreaterThan(50);
    expect(cruised.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
  });

  it('has no two folders (or top-level modules) that import each other, directly or round about', () => {
    const graph = folderGraph();
    // Tarjan's strongly connected components: any component of more than one unit is a round trip.
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const onStack = new Set<string>();
    const cycles: string[][] = [];
    let next = 0;
    const visit = (v: string): void => {
      index.set(v, next);
      low.set(v, next);
      next += 1;
      stack.push(v);
      onStack.add(v);
      for (const w of graph.get(v) ?? []) {
        if (!index.has(w)) {
          visit(w);
          low.set(v, Math.min(low.get(v)!, low.get(w)!));
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== v);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const v of graph.keys()) if (!index.has(v)) visit(v);
    expect(cycles).toEqual([]);
  });

  it("names every folder of the tree, and nothing that isn't there", () => {
    const listed = [...codeMap().keys()].filter((k) => k.endsWith('/')).sort();
    const folders = [
      ...readdirSync(join(root, 'src'))
        .filter((e) => statSync(join(root, 'src', e)).isDirectory())
        .map((e) => `src/${e}/`),
      'workers/',
      'bench/',
      'test/',
    ].sort();
    expect(listed).toEqual(folders);
  });

  it('has every folder import only what its row of the code map allows', () => {
    const map = codeMap();
    const graph = folderGraph();
    const broken: string[] = [];
    for (const [unit, edges] of graph) {
      const row = unit.endsWith('/') ? unit : 'src/*.ts';
      const may = map.get(row);
      if (may === undefined) {
        broken.push(`${unit}: no row in the code map`);
        continue;
      }
      for (const to of edges) {
        // `src/*.ts`: any file at the top of src/; `src/`: anything under src/; else the unit itself.
        const allowed = may.some(
          (m) => m === to || (m === 'src/*.ts' && /^src\/[^/]+\.ts$/.test(to)) || (m === 'src/' && to.startsWith('src/')),
        );
        if (!allowed) broken.push(`${unit} imports ${to}, which its row (${row}) does not list`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('keeps every source file under 400 lines', () => {
    const long = ['src', 'workers', 'bench']
      .flatMap((d) => sourceFiles(d))
      .map((f) => ({ f: relative(root, join(root, f)), lines: readFileSync(join(root, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines >= 400)
      .map((x) => `${x.f}: ${x.lines} lines`);
    expect(long).toEqual([]);
  });
});
