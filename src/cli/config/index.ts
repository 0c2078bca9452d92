/** The layered config of the `sluice` CLI, name by name. */
export { CONFIG_DEFAULTS, CONFIG_KEYS, IO_ALGORITHMS, IO_ALGORITHM_EXPECTED, INPUT_FORMATS, LOG_MODES, configSchema } from './schema.js';
export type { ConfigKey, IoAlgorithm, IoLimitSetting, IoSetting, SluiceConfig } from './schema.js';
export { IO_PARAMETERS_EXPECTED, formatIoSetting } from './io-setting.js';
export { CONFIG_ENV, ENV_VARS } from './env.js';
export type { Env } from './env.js';
export { CONFIG_FILE_NAME } from './file.js';
export { JOURNAL_FLAGS, RUN_FLAGS, parseRunArgs, runFlagsHelp } from './flags.js';
export type { FlagName, FlagValues, JournalFlag, ParsedRunArgs } from './flags.js';
export { resolveConfig } from './resolve.js';
export type { ResolveConfigInput, ResolvedConfig } from './resolve.js';
export { formatConfig } from './print.js';
export { configCommand } from './command.js';
export type { ConfigCommandIo } from './command.js';
