/** Finds a job module for the CLI (relative to the current directory) and imports it. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { importJob, SluiceJobError, type Job } from '../../index.js';

const MODULE = /\.(?:ts|mts|tsx|js|mjs|cjs)$/i;

/** Resolves `file` against `cwd`, imports it, and returns its `defineJob` default export. */
export async function loadJob(file: string, cwd: string): Promise<{ readonly job: Job; readonly path: string }> {
  const path = resolve(cwd, file);
  if (/\.cts$/i.test(path)) {
    // tsx would load it as CommonJS, whose require() of sluice (an ES module) fails under tsx's hooks.
    throw new SluiceJobError(
      file,
      'a .cts job module cannot load: TypeScript job modules are ES modules (.mts, or .ts in a package with "type": "module"); ' +
        'a CommonJS job is JavaScript (.cjs, or .js in a package without "type": "module")',
    );
  }
  if (!MODULE.test(path)) throw new SluiceJobError(file, 'expected a .js, .mjs, .cjs, .ts or .mts file');
  if (!existsSync(path)) throw new SluiceJobError(file, `no such file (looked for ${path})`);
  return { job: await importJob(path, file), path };
}
