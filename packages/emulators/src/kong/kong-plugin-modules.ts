import { existsSync } from 'node:fs';
import { BUNDLED_PLUGIN_SCHEMAS } from '@modelgate/policy';

// Kong loads a plugin that is not bundled from `kong.plugins.<name>.handler` and `.schema` on its Lua path
// (KONG_LUA_PACKAGE_PATH, `?` templates separated by `;`, `;;` for the default path) and refuses to start
// without them (kong/db/dao/plugins.lua). The emulator runs its own implementation of the plugin, but where
// KONG_LUA_PACKAGE_PATH is given it requires the plugin's files there, as Kong does, so that a stack whose
// plugin folder is missing or misplaced fails here too.

export class KongPluginNotInstalledError extends Error {
  override readonly name = 'KongPluginNotInstalledError';
  constructor(
    readonly plugin: string,
    readonly module: string,
    readonly searched: readonly string[],
  ) {
    super(
      `${plugin} plugin is enabled but not installed;\nmodule '${module}' not found:${searched.map((file) => `\n\tno file '${file}'`).join('')}`,
    );
  }
}

/** The files Lua's `require(module)` tries for a `package.path` (the default path, `;;`, is Kong's own: skipped). */
export function luaModuleCandidates(luaPackagePath: string, module: string): string[] {
  const file = module.replaceAll('.', '/');
  return luaPackagePath
    .split(';')
    .filter((template) => template !== '')
    .map((template) => template.replaceAll('?', file));
}

/** Throws KongPluginNotInstalledError for the first enabled, non-bundled plugin whose handler or schema is not found. */
export function checkPluginModules(
  plugins: readonly string[],
  luaPackagePath: string,
  fileExists: (path: string) => boolean = existsSync,
): void {
  const bundled = new Set<string>(BUNDLED_PLUGIN_SCHEMAS.map((schema) => schema.name));
  for (const plugin of plugins) {
    if (plugin === 'bundled' || bundled.has(plugin)) continue;
    for (const part of ['handler', 'schema']) {
      const module = `kong.plugins.${plugin}.${part}`;
      const candidates = luaModuleCandidates(luaPackagePath, module);
      if (!candidates.some(fileExists)) throw new KongPluginNotInstalledError(plugin, module, candidates);
    }
  }
}
