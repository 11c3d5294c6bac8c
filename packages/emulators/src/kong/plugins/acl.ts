import type { KongAclConfig } from '@modelgate/policy';
import type { KongPluginHandler } from '../kong-plugin.js';
import { kongExitError } from '../kong-request.js';

// The acl plugin (kong/plugins/acl/handler.lua at 3.9.3, priority 950): the consumer's groups against allow or
// deny; 401 without a consumer, 403 `You cannot consume this service` when blocked.

export const ACL_BLOCKED_MESSAGE = 'You cannot consume this service';

export function aclPlugin(): KongPluginHandler<KongAclConfig> {
  return {
    name: 'acl',
    priority: 950,
    access(context, config) {
      const consumer = context.consumer;
      if (!consumer) {
        if (context.credential) return kongExitError(403, ACL_BLOCKED_MESSAGE);
        return kongExitError(401, 'Unauthorized');
      }
      const groups = context.config.acls
        .filter((acl) => acl.consumer.id === consumer.id)
        .map((acl) => acl.group);
      const blocked = config.allow
        ? !groups.some((group) => config.allow?.includes(group))
        : groups.some((group) => config.deny?.includes(group));
      if (blocked) return kongExitError(403, ACL_BLOCKED_MESSAGE);
      if (!config.hide_groups_header) {
        context.upstreamHeaders.set('x-consumer-groups', groups.length > 0 ? groups.join(', ') : null);
      }
      return undefined;
    },
  };
}
