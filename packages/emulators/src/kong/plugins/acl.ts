import type { KongAclConfig } from '@modelgate/policy';
import type { KongPluginHandler } from '../kong-plugin.js';
import { type KongRequestContext, kongExitError } from '../kong-request.js';

// The acl plugin (kong/plugins/acl/handler.lua at 3.9.3, priority 950): the consumer's groups against allow or
// deny; 401 without a consumer, 403 `You cannot consume this service` when blocked.

export const ACL_BLOCKED_MESSAGE = 'You cannot consume this service';

type Acls = KongRequestContext['config']['acls'];

/** Consumer id -> its groups, made once per configuration (Kong caches each consumer's groups likewise). */
const groupsByConfig = new WeakMap<Acls, Map<string, string[]>>();

const NO_GROUPS: string[] = [];

/** The consumer's groups, in the configuration's order, without a scan of every ACL per request. */
function groupsOf(acls: Acls, consumerId: string): readonly string[] {
  let byConsumer = groupsByConfig.get(acls);
  if (!byConsumer) {
    byConsumer = new Map();
    for (const acl of acls) {
      const groups = byConsumer.get(acl.consumer.id);
      if (groups) groups.push(acl.group);
      else byConsumer.set(acl.consumer.id, [acl.group]);
    }
    groupsByConfig.set(acls, byConsumer);
  }
  return byConsumer.get(consumerId) ?? NO_GROUPS;
}

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
      const groups = groupsOf(context.config.acls, consumer.id);
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
