import type { KongAclConfig, NormalizedKongAcl, NormalizedKongConsumer } from '@modelgate/policy';
import { describe, expect, it } from 'vitest';
import type { KongExit } from '../kong-request.js';
import { defaultKongConfig, requestContext } from '../testing/request-context.js';
import { aclPlugin } from './acl.js';

// acl on its own: a consumer's groups are every ACL of its own, in the configuration's order, whatever other
// consumers hold; allow needs one of them, deny refuses on any.

const base = defaultKongConfig();
const consumer = (id: string): NormalizedKongConsumer => ({
  id,
  username: id,
  custom_id: null,
  tags: null,
});
const acl = (consumerId: string, group: string): NormalizedKongAcl => ({
  id: `${consumerId}-${group}`,
  consumer: { id: consumerId },
  group,
  tags: null,
});
const config = {
  ...base,
  acls: [acl('alice', 'readers'), acl('bob', 'writers'), acl('alice', 'admins'), acl('carol', 'readers')],
};
const settings = (change: Partial<KongAclConfig>): KongAclConfig =>
  ({
    allow: null,
    deny: null,
    hide_groups_header: false,
    always_use_authenticated_groups: false,
    ...change,
  }) as KongAclConfig;

function run(id: string, change: Partial<KongAclConfig>, inForce = config) {
  const context = requestContext(inForce, { path: '/' }, { consumer: consumer(id) });
  const exit = aclPlugin().access(context, settings(change), {} as never) as KongExit | undefined;
  return { status: exit?.status, groups: context.upstreamHeaders.get('x-consumer-groups') };
}

describe('acl', () => {
  it("reads each consumer's own groups, in the configuration's order", () => {
    expect(run('alice', { allow: ['admins'] })).toEqual({ status: undefined, groups: 'readers, admins' });
    expect(run('bob', { allow: ['admins'] })).toEqual({ status: 403, groups: undefined });
    expect(run('carol', { deny: ['admins'] })).toEqual({ status: undefined, groups: 'readers' });
    expect(run('alice', { deny: ['admins'] })).toEqual({ status: 403, groups: undefined });
    // no groups: the header Kong would set is cleared
    expect(run('dave', { deny: ['admins'] })).toEqual({ status: undefined, groups: null });
  });

  it('reads the groups of the configuration in force, after another one was read', () => {
    expect(run('alice', { allow: ['admins'] })).toEqual({ status: undefined, groups: 'readers, admins' });
    const reloaded = { ...config, acls: [acl('alice', 'readers')] };
    expect(run('alice', { allow: ['admins'] }, reloaded)).toEqual({ status: 403, groups: undefined });
    expect(run('alice', { allow: ['readers'] }, reloaded)).toEqual({ status: undefined, groups: 'readers' });
  });
});
