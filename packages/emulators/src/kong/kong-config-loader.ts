import { readFile } from 'node:fs/promises';
import {
  BUNDLED_PLUGIN_SCHEMAS,
  type KongPluginSchema,
  MODEL_ACCESS_PLUGIN_SCHEMA,
  type NormalizedKongConfig,
  validateKongConfig,
} from '@modelgate/policy';

// Loads a declarative config as Kong does at start and on POST /config: through the fixtures' validator, with
// the custom plugins that KONG_PLUGINS enables. A config the validator refuses throws its KongConfigError, whose
// message is Kong's own.

/** Custom plugins this emulator can run, by name. */
const CUSTOM_PLUGIN_SCHEMAS: readonly KongPluginSchema[] = [MODEL_ACCESS_PLUGIN_SCHEMA];

export class KongPluginsError extends Error {
  override readonly name = 'KongPluginsError';
  constructor(readonly plugin: string) {
    super(
      `KONG_PLUGINS: plugin '${plugin}' enabled but not installed (emulated plugins: bundled, ${CUSTOM_PLUGIN_SCHEMAS.map((schema) => schema.name).join(', ')})`,
    );
  }
}

export class KongConfigFileError extends Error {
  override readonly name = 'KongConfigFileError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`error parsing declarative config file ${path}:\n${reason}`);
  }
}

/** The custom plugin schemas for a KONG_PLUGINS list; throws KongPluginsError for a plugin we cannot run. */
export function enabledPluginSchemas(plugins: readonly string[]): KongPluginSchema[] {
  const bundled = new Set(BUNDLED_PLUGIN_SCHEMAS.map((schema) => schema.name));
  const schemas: KongPluginSchema[] = [];
  for (const name of plugins) {
    if (name === 'bundled' || bundled.has(name)) continue;
    const schema = CUSTOM_PLUGIN_SCHEMAS.find((candidate) => candidate.name === name);
    if (!schema) throw new KongPluginsError(name);
    schemas.push(schema);
  }
  return schemas;
}

/** Validates and normalizes a parsed declarative config (throws KongConfigError as Kong refuses it). */
export function loadKongConfig(config: unknown, plugins: readonly KongPluginSchema[]): NormalizedKongConfig {
  return validateKongConfig(config, { plugins });
}

/** Reads KONG_DECLARATIVE_CONFIG as parsed JSON, to be validated by loadKongConfig. Kong also reads YAML. */
export async function readKongConfigFile(path: string): Promise<unknown> {
  if (!path.endsWith('json')) throw new KongConfigFileError(path, 'only JSON files are read by the emulator');
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new KongConfigFileError(path, (error as Error).message);
  }
}
