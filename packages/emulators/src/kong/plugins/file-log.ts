import type { KongFileLogConfig } from '@modelgate/policy';
import type { FileLogWriters } from '../file-log-writer.js';
import type { KongLogPlugin } from '../kong-log-plugin.js';
import { type KongWorkspace, kongLogLineParts } from '../kong-log-serializer.js';

// The file-log plugin (kong/plugins/file-log/handler.lua at 3.9.3, priority 9): in the log phase, appends
// cjson.encode(kong.log.serialize()) .. "\n" to config.path. custom_fields_by_lua is Lua and is not run.

export function fileLogPlugin(
  writers: FileLogWriters,
  workspace: KongWorkspace,
): KongLogPlugin<KongFileLogConfig> {
  return {
    name: 'file-log',
    priority: 9,
    log(record, config) {
      const [fields, entities, lastEntities] = kongLogLineParts(record, workspace);
      writers.writer(config.path).appendObject(fields, entities, lastEntities);
    },
  };
}
