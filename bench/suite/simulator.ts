/**
 * The simulator for bench scenarios, from dist/ when built (`npm run bench` builds first): its
 * child then starts in ~0.3 s, against 1.5–2.5 s for the TypeScript child under tsx on a busy
 * 2-core machine. Same code either way; the source is the fallback.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Simulator, StartSimulatorOptions } from '../../src/simulator/client.js';

const COMPILED = new URL('../../dist/src/simulator/client.js', import.meta.url);
type Client = typeof import('../../src/simulator/client.js');
const client: Promise<Client> = existsSync(fileURLToPath(COMPILED))
  ? (import(COMPILED.href) as Promise<Client>)
  : import('../../src/simulator/client.js');

export const startSimulator = async (o: StartSimulatorOptions): Promise<Simulator> => (await client).startSimulator(o);
