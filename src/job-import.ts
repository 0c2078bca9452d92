/**
 * importJob: loads a job module and returns its `defineJob` default export. `.ts`/`.mts` modules
 * load through tsx's ESM hooks (registered once, from sluice's own dependencies), so neither the
 * CLI nor a user's script needs a loader flag.
 */
import { pathToFileURL } from 'node:url';
import { SluiceJobError } from './errors.js';
import { isJob, type Job } from './job.js';
import { commonJsHint, isTypeScript, registerTypeScript } from './typescript.js';

/** Imports the job module at absolute `path`; `shownAs` names it in errors (default: the path). */
export async function importJob(path: string, shownAs: string = path): Promise<Job> {
  if (isTypeScript(path)) await registerTypeScript();
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new SluiceJobError(shownAs, `failed to load: ${message}${commonJsHint(path, error)}`, { cause: error });
  }
  const job = mod.default;
  if (job === undefined) {
    const named = Object.keys(mod);
    throw new SluiceJobError(
      shownAs,
      'has no default export; expected `export default defineJob({ ... })`' + (named.length > 0 ? ` (it exports: ${named.join(', ')})` : ''),
    );
  }
  if (!isJob(job)) {
    throw new SluiceJobError(shownAs, `its default export is not a job; expected the result of defineJob({ ... }), got ${typeof job}`);
  }
  return job;
}
