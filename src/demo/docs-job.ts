/**
 * The demo job (job.ts) as a job module, for `sluice run`, `sluice bench` and `sluice config`: the
 * job `sluice demo` runs, with its settings from the environment.
 *
 *   sluice run dist/src/demo/docs-job.js --limit 500 --io docs=adaptive --threads 2
 *   sluice bench dist/src/demo/docs-job.js --sample 300 --threads 1,2 --io docs=4,16,adaptive
 *
 * Environment: SLUICE_DEMO_TASKS (default 1000), SLUICE_DEMO_LATENCY_MS (20), SLUICE_DEMO_SIZE (262144).
 * A value out of range fails the load with a SluiceOptionError naming the variable.
 */
import { demoJob, demoSettingsFromEnv } from './job.js';

export default demoJob(demoSettingsFromEnv(process.env));
