import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requestedLimits, selfJoinTaskFiles } from '../../../src/runtime/cgroup';
import { buildInitPlan } from '../../../src/plan/init-plan';
import type { CgroupManager } from '../../../src/cgroups';
import type { Spec } from '../../../src/spec/types';
import { describe, initOptions, typicalSpec } from '../plan/fixtures';

function fakeCgroup(version: 'v1' | 'v2', paths: Record<string, string>): CgroupManager {
  return { version, paths: () => paths } as unknown as CgroupManager;
}

const V1 = fakeCgroup('v1', { cpu: '/sys/fs/cgroup/cpu/c1', cpuacct: '/sys/fs/cgroup/cpu/c1', pids: '/sys/fs/cgroup/pids/c1' });

test('selfJoinTaskFiles: one tasks file per v1 directory (co-mounted hierarchies once)', () => {
  assert.deepEqual(selfJoinTaskFiles(V1, typicalSpec()), ['/sys/fs/cgroup/cpu/c1/tasks', '/sys/fs/cgroup/pids/c1/tasks']);
});

test('selfJoinTaskFiles: not on v2, not with a user namespace, not with a joined mount or cgroup namespace', () => {
  assert.equal(selfJoinTaskFiles(fakeCgroup('v2', { '': '/sys/fs/cgroup/c1' }), typicalSpec()), undefined);
  const withNs = (ns: NonNullable<Spec['linux']>['namespaces']): Spec => ({ ...typicalSpec(), linux: { ...typicalSpec().linux, namespaces: ns } });
  assert.equal(selfJoinTaskFiles(V1, withNs([{ type: 'pid' }, { type: 'user' }])), undefined);
  assert.equal(selfJoinTaskFiles(V1, withNs([{ type: 'mount', path: '/proc/1/ns/mnt' }])), undefined);
  assert.equal(selfJoinTaskFiles(V1, withNs([{ type: 'cgroup', path: '/proc/1/ns/cgroup' }])), undefined);
  assert.deepEqual(selfJoinTaskFiles(V1, withNs([{ type: 'network', path: '/var/run/netns/x' }])), ['/sys/fs/cgroup/cpu/c1/tasks', '/sys/fs/cgroup/pids/c1/tasks']);
  assert.equal(selfJoinTaskFiles(fakeCgroup('v1', {}), typicalSpec()), undefined);
});

test('init plan: the child joins its cgroup right after SYNC setup, before anything else it does', () => {
  const steps = describe(buildInitPlan(initOptions(typicalSpec(), { cgroupJoin: ['/sys/fs/cgroup/cpu/c1/tasks'] })).steps);
  const sync = steps.indexOf('SYNC wait for the runtime to set up ids and cgroups');
  assert.equal(steps[sync + 1], 'WRITE_FILE join cgroup /sys/fs/cgroup/cpu/c1');
});

test('requestedLimits: keys of linux.resources with a value, device rules aside', () => {
  const spec = (resources: unknown): Spec => ({ ...typicalSpec(), linux: { resources } as Spec['linux'] });
  assert.deepEqual(requestedLimits(spec(undefined)), []);
  assert.deepEqual(requestedLimits(spec({ devices: [{ allow: false, access: 'rwm' }] })), []);
  assert.deepEqual(requestedLimits(spec({ pids: { limit: 5 }, memory: { limit: 1 }, cpu: undefined })), ['memory', 'pids']);
});
