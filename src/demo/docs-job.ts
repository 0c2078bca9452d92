/**
 * The demo as a job module, for `sluice run` and `sluice bench`: fetch documents from the embedded
 * document service behind the adaptive limiter of service "docs", synthesize each on a worker
 * thread, and write one line per document. `setup()` starts the service on 127.0.0.1 before the run
 * and `close()` stops it, so loading the module (or `sluice config` refusing a setting) opens nothing.
 *
 *   sluice run dist/src/demo/docs-job.js --limit 500 --io docs=adaptive --threads 2
 *   sluice bench dist/src/demo/docs-job.js --sample 300 --threads 1,2 --io docs=4,16,adaptive
 *
 * Environment: SLUICE_DEMO_TASKS (default 1000), SLUICE_DEMO_LATENCY_MS (20), SLUICE_DEMO_SIZE (262144).
 */
import { cpu, defineJob, io, SluiceConfigError } from '../index.js';
import type { Synthesis, SynthesisInput } from '../../workers/synthesize.js';
import { startDocServer, type DocServer } from './doc-server.js';
import { DEMO_DEFAULTS, DEMO_RANGES, synthesizeWorker } from './job.js';
import { createAgent, fetchBuffer } from './fetch-doc.js';
import type { Agent } from 'node:http';

/** A demo setting from the environment, in the same range as `sluice demo`'s flag. */
function envInt(name: string, option: 'tasks' | 'latencyMs' | 'sizeBytes'): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return DEMO_DEFAULTS[option];
  const { min, max } = DEMO_RANGES[option];
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new SluiceConfigError(name, { kind: 'env', name }, `an integer from ${min} to ${max}`, raw);
  }
  return n;
}

const tasks = envInt('SLUICE_DEMO_TASKS', 'tasks');
const latencyMs = envInt('SLUICE_DEMO_LATENCY_MS', 'latencyMs');
const sizeBytes = envInt('SLUICE_DEMO_SIZE', 'sizeBytes');

interface Resources {
  readonly server: DocServer;
  readonly agent: Agent;
}

export default defineJob<number, Synthesis, Resources>({
  name: 'docs-demo',
  services: { docs: { limit: 'vegas', initial: 8, max: 64 } },
  async setup() {
    return { server: await startDocServer({ latencyMs, sizeBytes }), agent: createAgent(256) };
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
