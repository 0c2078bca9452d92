/**
 * Compiles the memory scenario's child entry and worker module to plain ESM in a temp directory,
 * with esbuild (tsx's own, resolved through tsx), so each child starts as `node child.mjs`: about
 * 0.5 s and 95 MiB instead of about 2 s and 160 MiB under tsx, whose loader every worker thread
 * would also start. Packages stay external, imported from this repo by absolute path (sluice from
 * dist/, which `npm run bench` builds first). If esbuild cannot be loaded, children run the
 * TypeScript sources under tsx instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const CHILD_TS = fileURLToPath(new URL('./child.ts', import.meta.url));
const WORKER_TS = fileURLToPath(new URL('../workers/memory-checksum.ts', import.meta.url));

export interface ChildEntry {
  /** `node` arguments before the child's own. */
  readonly nodeArgs: readonly string[];
  /** The worker module the child's strategies load (a file: URL). */
  readonly worker: string;
  /** 'bundle' (compiled JS) or 'tsx' (TypeScript sources). */
  readonly mode: 'bundle' | 'tsx';
  dispose(): void;
}

interface OnResolveArgs {
  readonly path: string;
}
interface EsbuildPlugin {
  name: string;
  setup(build: { onResolve(options: { filter: RegExp }, callback: (args: OnResolveArgs) => { path: string; external: boolean }): void }): void;
}
interface Esbuild {
  build(options: Record<string, unknown> & { plugins: EsbuildPlugin[] }): Promise<{ errors: unknown[] }>;
}

const tsxEntry = (): ChildEntry => ({
  nodeArgs: ['--import', 'tsx', CHILD_TS],
  worker: pathToFileURL(WORKER_TS).href,
  mode: 'tsx',
  dispose: () => undefined,
});

export async function childEntry(log: (line: string) => void): Promise<ChildEntry> {
  let esbuild: Esbuild;
  try {
    const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
    esbuild = fromTsx('esbuild') as Esbuild;
  } catch (error) {
    log(`memory: esbuild not found (${(error as Error).message.split('\n')[0]}); children run under tsx`);
    return tsxEntry();
  }
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-memory-'));
  const externals: EsbuildPlugin = {
    name: 'absolute-externals',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:') || builtinModules.includes(args.path)) return { path: args.path, external: true };
        // Resolved from here with ESM conditions: piscina's ESM wrapper, sluice's dist/.
        return { path: fileURLToPath(import.meta.resolve(args.path)), external: true };
      });
    },
  };
  try {
    await esbuild.build({
      entryPoints: { child: CHILD_TS, 'memory-checksum': WORKER_TS },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outdir: dir,
      outExtension: { '.js': '.mjs' },
      plugins: [externals],
      logLevel: 'silent',
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    log(`memory: bundling the child failed (${(error as Error).message.split('\n')[0]}); children run under tsx`);
    return tsxEntry();
  }
  return {
    nodeArgs: [join(dir, 'child.mjs')],
    worker: pathToFileURL(join(dir, 'memory-checksum.mjs')).href,
    mode: 'bundle',
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
