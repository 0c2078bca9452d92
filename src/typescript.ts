/**
 * Node 20 cannot load `.ts` files by itself, and a worker thread ignores `--import` in its
 * `execArgv`. So TypeScript reaches worker threads in two ways, both through tsx resolved from
 * sluice's own dependencies (whatever the user's current directory):
 * - the worker entry registers tsx's ESM hooks before it imports a user's `.ts` module;
 * - when sluice itself runs from source (its entry is `.ts`, as under vitest), the thread starts
 *   with `--require tsx/cjs`, which workers do honour, so Piscina can load the entry.
 */
import { createRequire } from 'node:module';

const TS_EXTENSIONS = /\.(?:ts|mts|cts|tsx)$/i;

export function isTypeScript(fileUrlOrPath: string): boolean {
  return TS_EXTENSIONS.test(fileUrlOrPath);
}

/** `execArgv` for a worker thread whose entry module is TypeScript. */
export function typeScriptEntryExecArgv(): string[] {
  const cjsHooks = createRequire(import.meta.url).resolve('tsx/cjs');
  return [...process.execArgv, '--require', cjsHooks];
}

let registered: Promise<void> | undefined;

/** Register tsx's ESM hooks in this thread, once, so `import()` of a `.ts` file works. */
export function registerTypeScript(): Promise<void> {
  registered ??= import('tsx/esm/api').then((api) => {
    api.register();
  });
  return registered;
}
