/**
 * Loads a job module for the CLI: `.js`/`.mjs` through import(), `.ts`/`.mts` through tsx's ESM
 * hooks (registered once, from sluice's own dependencies, so the user needs no loader flag).
 * Its default export must come from `defineJob`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isJob, SluiceJobError, type Job } from '../../index.js';

const TS = /\.(?:ts|mts|cts|tsx)$/i;
const JS = /\.(?:js|mjs|cjs)$/i;

let tsRegistered: Promise<void> | undefined;

function registerTypeScript(): Promise<void> {
  tsRegistered ??= import('tsx/esm/api').then((api) => {
    api.register();
  });
  return tsRegistered;
}

/** Resolves `file` against `cwd`, imports it, and returns its `defineJob` default export. */
export async function loadJob(file: string, cwd: string): Promise<{ readonly job: Job; readonly path: string }> {
  const path = resolve(cwd, file);
  if (!TS.test(path) && !JS.test(path)) {
    throw new SluiceJobError(file, 'expected a .js, .mjs, .ts or .mts file');
  }
  if (!existsSync(path)) throw new SluiceJobError(file, `no such file (looked for ${path})`);
  if (TS.test(path)) await registerTypeScript();
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new SluiceJobError(file, `failed to load: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const job = mod.default;
  if (job === undefined) {
    const named = Object.keys(mod);
    throw new SluiceJobError(
      file,
      `has no default export; expected \`export default defineJob({ ... })\`` +
        (named.length > 0 ? ` (it exports: ${named.join(', ')})` : ''),
    );
  }
  if (!isJob(job)) {
    throw new SluiceJobError(file, `its default export is not a job; expected the result of defineJob({ ... }), got ${typeof job}`);
  }
  return { job, path };
}
