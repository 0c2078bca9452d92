/**
 * The test kit's own error: the service simulator's bad options and `POST /control` patches. The
 * kit imports nothing from src/ (the bench loads it next to the built package, the tests next to
 * the sources: one class loaded twice would break `instanceof`), so this is not a `SluiceError`,
 * though its message reads like one ("Expected `x` to be …, got …").
 */

/** The `code` of every `SimulatorOptionError`. */
export const SIMULATOR_INVALID_OPTION = 'ERR_SIMULATOR_INVALID_OPTION';

export class SimulatorOptionError extends Error {
  readonly code = SIMULATOR_INVALID_OPTION;
  readonly option: string;
  readonly expected: string;
  readonly received: unknown;
  constructor(option: string, expected: string, received: unknown) {
    super(`Expected \`${option}\` to be ${expected}, got ${describe(received)}`);
    this.option = option;
    this.expected = expected;
    this.received = received;
  }
  override get name(): string {
    return 'SimulatorOptionError';
  }
}

/** A received value as the message shows it: the value, shortened, and its type. */
function describe(value: unknown): string {
  let shown: string;
  if (typeof value === 'string') shown = JSON.stringify(value);
  else if (typeof value === 'function') shown = `[Function ${value.name || 'anonymous'}]`;
  else if (typeof value === 'bigint') shown = `${value}n`;
  else if (typeof value === 'symbol') shown = value.toString();
  else {
    try {
      shown = JSON.stringify(value) ?? String(value);
    } catch {
      shown = Object.prototype.toString.call(value);
    }
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  return `\`${shown}\` (${type})`;
}
