/**
 * Scenario `adaptive`: how a batch job's concurrency policy fares against a service whose capacity
 * changes under it (C_s = 10 → 3 → 10), and what it does to the service's other (online) users:
 * the no-batch baseline, fixed k = 5 and 20, a req/s throttle and the adaptive default, each run in
 * a fresh process against a fresh simulator. Method: bench/adaptive/suite.ts and run.ts; the
 * longer bench with every strategy: `node --import tsx bench/adaptive.ts`.
 */
import { runAdaptive } from '../adaptive/suite.js';
import type { Scenario } from '../suite/types.js';

export const scenario: Scenario = (options) => runAdaptive({ runs: Math.max(1, options.runs), quick: options.quick, log: options.log });
