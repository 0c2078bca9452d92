/**
 * The demo job, the one every way of running the demo runs: fetch documents from the embedded
 * document service behind the limiter of service "docs" (io), and synthesize each on a worker
 * thread (cpu). `sluice demo` (and so `npm run demo`) builds it with `demoJob(settings)` from its
 * flags; `sluice run` and `sluice bench` load docs-job.ts, the same job with its settings from the
 * environment. `setup()` starts the service on 127.0.0.1 and `close()` stops it, so building the
 * job (or `sluice config` refusing a setting) opens nothing.
 *
 * It imports the public API only (and the worker's types): the CLI imports it, never the reverse.
 */
import { existsSync } from 'node:fs';
import type { Agent } from 'node:http';
import { cpu, defineJob, io, SluiceOptionError, type Job } from '../index.js';
import type { Synthesis, SynthesisInput } from '../../workers/synthesize.js';
import { startDocServer, type DocServer } from './doc-server.js';
import { createAgent, fetchBuffer } from './fetch-doc.js';

/** What the job itself is made of; threads and the fetch limit are the run's settings (`--threads`, `--io docs=N`). */
export interface DemoSettings {
  /** Documents to fetch and synthesize: the job's input is the ids 0 to tasks - 1. @default 1000 */
  readonly tasks?: number;
  /** The document service's delay per request, in ms. @default 20 */
  readonly latencyMs?: number;
  /** Size of each document in bytes (at most 16 MiB). @default 262144 */
  readonly sizeBytes?: number;
}

export type ResolvedDemoSettings = Required<DemoSettings>;

export const DEMO_SETTINGS_DEFAULTS: ResolvedDemoSettings = Object.freeze({ tasks: 1000, latencyMs: 20, sizeBytes: 262144 });

/** The accepted range of each setting (integers). */
export const DEMO_SETTINGS_RANGES: Readonly<Record<keyof DemoSettings, { readonly min: number; readonly max: number }>> = Object.freeze({
  tasks: { min: 1, max: Number.MAX_SAFE_INTEGER },
  latencyMs: { min: 0, max: 60_000 },
  sizeBytes: { min: 1, max: 16 * 1024 * 1024 },
});

/** The environment variable of each setting, read by docs-job.ts. */
export const DEMO_ENV: Readonly<Record<keyof DemoSettings, string>> = Object.freeze({
  tasks: 'SLUICE_DEMO_TASKS',
  latencyMs: 'SLUICE_DEMO_LATENCY_MS',
  sizeBytes: 'SLUICE_DEMO_SIZE',
});

const SETTINGS = Object.keys(DEMO_SETTINGS_DEFAULTS) as Array<keyof DemoSettings>;

/** The settings with their defaults, checked. @throws SluiceOptionError naming the setting. */
export function resolveDemoSettings(settings: DemoSettings = {}): ResolvedDemoSettings {
  if (settings === null || typeof settings !== 'object') throw new SluiceOptionError('settings', 'an object', settings);
  const resolved: Partial<Record<keyof DemoSettings, number>> = {};
  for (const name of SETTINGS) resolved[name] = checkSetting(name, settings[name] ?? DEMO_SETTINGS_DEFAULTS[name], name);
  return Object.freeze(resolved as ResolvedDemoSettings);
}

/**
 * The settings from SLUICE_DEMO_TASKS, SLUICE_DEMO_LATENCY_MS and SLUICE_DEMO_SIZE (unset or empty:
 * the default). @throws SluiceOptionError naming the variable.
 */
export function demoSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ResolvedDemoSettings {
  const settings: Partial<Record<keyof DemoSettings, number>> = {};
  for (const name of SETTINGS) {
    const raw = env[DEMO_ENV[name]];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    checkSetting(name, Number.isSafeInteger(n) ? n : raw, DEMO_ENV[name]);
    settings[name] = n;
  }
  return resolveDemoSettings(settings);
}

function checkSetting(name: keyof DemoSettings, value: unknown, shownAs: string): number {
  const { min, max } = DEMO_SETTINGS_RANGES[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new SluiceOptionError(shownAs, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** What `setup` opens: the document service and the keep-alive agent of its fetches. */
export interface DemoResources {
  readonly server: DocServer;
  readonly agent: Agent;
}

export interface DemoJobHooks {
  /** Called once `setup` has started the service (`sluice demo` reads its counters for the summary). */
  readonly onSetup?: (resources: DemoResources) => void;
}

/** The demo job with these settings. @throws SluiceOptionError for a setting out of range. */
export function demoJob(settings: DemoSettings = {}, hooks: DemoJobHooks = {}): Job<number, Synthesis, DemoResources> {
  const { tasks, latencyMs, sizeBytes } = resolveDemoSettings(settings);
  return defineJob<number, Synthesis, DemoResources>({
    name: 'docs-demo',
    // Adaptive by default; `sluice demo --concurrency K` (and `--io docs=K`) makes it a fixed K.
    services: { docs: { limit: 'vegas', initial: 8, max: 64 } },
    async setup() {
      // No socket bound of its own: the service's limit bounds the requests in flight.
      const resources = { server: await startDocServer({ latencyMs, sizeBytes }), agent: createAgent(Infinity) };
      hooks.onSetup?.(resources);
      return resources;
    },
    stages: ({ services, resources: { server, agent } }) => [
      io<number, SynthesisInput>(
        'fetch',
        async (id, ctx) => ({ id, body: await fetchBuffer(`${server.url}/docs/${id}`, agent, ctx.signal) }),
        { service: services.docs! },
      ),
      cpu('synthesize', synthesizeWorker()),
    ],
    *input() {
      for (let id = 0; id < tasks; id++) yield id;
    },
    async close(resources) {
      if (resources === undefined) return;
      resources.agent.destroy();
      await resources.server.close();
    },
  });
}

/** The worker beside the compiled module (dist/src/demo → dist/workers), else the source file. */
export function synthesizeWorker(): URL {
  const compiled = new URL('../../workers/synthesize.js', import.meta.url);
  return existsSync(compiled) ? compiled : new URL('../../workers/synthesize.ts', import.meta.url);
}
