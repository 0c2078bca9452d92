/**
 * The bench's own build: compiles child entries and worker modules to plain ESM in a temp
 * directory, with esbuild (tsx's own, resolved through tsx), so a child starts as `node x.mjs`:
 * about 0.5 s and 95 MiB instead of about 2 s and 160 MiB under tsx, whose loader every worker
 * thread would also start. Packages stay external, imported from this repo by absolute path
 * (sluice from dist/, which `npm run bench` builds first). If esbuild cannot be loaded, or the
 * build fails, the entries run as TypeScript under tsx instead.
 *
 * Used by the memory scenario (its child and worker) and by bench/harness/simulator.ts (the
 * service simulator's child, bench/kit/simulator/child.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface Build {
  /** 'bundle' (compiled JS) or 'tsx' (the TypeScript sources). */
  readonly mode: 'bundle' | 'tsx';
  /** The file to run for entry `name`: its .mjs, or its .ts source. */
  file(name: string): string;
  /** `node` arguments that run entry `name` (a loader first for the sources). */
  nodeArgs(name: string): string[];
  /** Removes the compiled files. */
  dispose(): void;
}

interface OnResolveArgs {
  readonly path: string;
}
interface EsbuildPlugin {
  name: string;
  setup(build: {
    onResolve(options: { filter: RegExp }, callback: (args: OnResolveArgs) => { path: string; external: boolean }): void;
  }): void;
}
interface Esbuild {
  build(options: Record<string, unknown> & { plugins: EsbuildPlugin[] }): Promise<{ errors: unknown[] }>;
}

function sources(entries: Readonly<Record<string, string>>): Build {
  return {
    mode: 'tsx',
    file: (name) => entries[name]!,
    nodeArgs: (name) => ['--import', 'tsx', entries[name]!],
    dispose: () => undefined,
  };
}

/**
 * Compiles `entries` (name → absolute .ts path) into one temp directory as `<name>.mjs`. `label`
 * prefixes the log line that says when the sources are used instead.
 */
export async function compile(entries: Readonly<Record<string, string>>, label: string, log: (line: string) => void): Promise<Build> {
  let esbuild: Esbuild;
  try {
    const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
    esbuild = fromTsx('esbuild') as Esbuild;
  } catch (error) {
    log(`${label}: esbuild not found (${(error as Error).message.split('\n')[0]}); children run under tsx`);
    return sources(entries);
  }
  const dir = mkdtempSync(join(tmpdir(), `sluice-bench-${label}-`));
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
      entryPoints: entries,
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
    log(`${label}: bundling the child failed (${(error as Error).message.split('\n')[0]}); children run under tsx`);
    return sources(entries);
  }
  return {
    mode: 'bundle',
    file: (name) => join(dir, `${name}.mjs`),
    nodeArgs: (name) => [join(dir, `${name}.mjs`)],
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A file path as the `file:` URL a worker module is given by. */
export const fileUrl = (path: string): string => pathToFileURL(path).href;
