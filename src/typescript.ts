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

/**
 * A hint for a `.ts` module that failed to load because Node took it for CommonJS (its package.json
 * lacks `"type": "module"`) while it is written as ESM: the errors Node gives do not say so.
 */
export function commonJsHint(fileUrlOrPath: string, error: unknown): string {
  if (!/\.(?:ts|tsx)$/i.test(fileUrlOrPath)) return '';
  const code = (error as { code?: unknown } | null)?.code;
  const message = (error as { message?: unknown } | null)?.message;
  const esmInCjs =
    code === 'ERR_REQUIRE_CYCLE_MODULE' ||
    code === 'ERR_REQUIRE_ESM' ||
    code === 'ERR_REQUIRE_ASYNC_MODULE' ||
    (typeof message === 'string' &&
      /require\(\) (?:of )?ES Module|Cannot use import statement outside a module|Top-level await is currently not supported with the "cjs" output format/.test(
        message,
      ));
  if (!esmInCjs) return '';
  return ' (a .ts file in a package without "type": "module" loads as CommonJS: set "type": "module" in its package.json, or name the file .mts)';
}
