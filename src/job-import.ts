/**
 * importJob: loads a job module and returns its `defineJob` default export. `.ts`/`.mts` modules
 * load through tsx's ESM hooks (registered once, from sluice's own dependencies), so neither the
 * CLI nor a user's script needs a loader flag. CommonJS modules (`.cjs`, or `.js` in a package
 * without `"type": "module"`) work too: `module.exports = defineJob(...)`, or `exports.default`.
 */
import { pathToFileURL } from 'node:url';
import { describe, messageOf, SluiceJobError } from './errors.js';
import { isJob, type Job } from './job.js';
import { commonJsHint, isTypeScript, registerTypeScript } from './typescript.js';

/** Imports the job module at absolute `path`; `shownAs` names it in errors (default: the path). */
export async function importJob(path: string, shownAs: string = path): Promise<Job> {
  if (isTypeScript(path)) await registerTypeScript();
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const message = messageOf(error);
    throw new SluiceJobError(shownAs, `failed to load: ${message}${commonJsHint(path, error)}`, { cause: error });
  }
  // A CommonJS module's `default` is its `module.exports`; TypeScript compiled to CommonJS puts an
  // `export default` on `exports.default` instead, one level down.
  let job = mod.default;
  if (!isJob(job) && job !== null && typeof job === 'object' && isJob((job as Record<string, unknown>).default)) {
    job = (job as Record<string, unknown>).default;
  }
  if (job === undefined) {
    const named = Object.keys(mod);
    throw new SluiceJobError(
      shownAs,
      'has no default export; expected `export default defineJob({ ... })`' +
        (named.length > 0 ? ` (it exports: ${named.join(', ')})` : ''),
    );
  }
  if (!isJob(job)) {
    throw new SluiceJobError(
      shownAs,
      'its default export is not a job; expected `export default defineJob({ ... })` ' +
        `(in CommonJS: \`module.exports = defineJob({ ... })\`), got ${describe(job)}`,
    );
  }
  return job;
}
