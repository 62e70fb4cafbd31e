import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildExecPlan } from '../../../src/plan/exec-plan';
import { ParentMode, encodePlan } from '../../../src/helper/protocol';
import type { Process } from '../../../src/spec/types';
import { describe, ops, typicalSpec } from './fixtures';

const proc = (): Process => ({ args: ['ps'], cwd: '/tmp', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } });

test('golden: exec joins every container namespace, user first and mount last', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces!.push({ type: 'cgroup' }, { type: 'user' }, { type: 'time' });
  const plan = buildExecPlan({ spec, process: proc(), pid: 4242, detach: true, preserveFds: 0 });
  assert.deepEqual(describe(plan.steps), [
    'SETNS join user namespace /proc/4242/ns/user',
    'SETNS join ipc namespace /proc/4242/ns/ipc',
    'SETNS join uts namespace /proc/4242/ns/uts',
    'SETNS join network namespace /proc/4242/ns/net',
    'SETNS join pid namespace /proc/4242/ns/pid',
    'SETNS join cgroup namespace /proc/4242/ns/cgroup',
    'SETNS join time namespace /proc/4242/ns/time',
    'SETNS join mount namespace /proc/4242/ns/mnt',
    'CLONE create the process',
    'SYNC wait for the runtime to set up cgroups',
    'CHDIR change directory to /tmp',
    'LOOKUP_EXEC find executable ps',
    'CLOSE_FDS close inherited file descriptors on exec',
    'READY report the process started',
    'SECCOMP apply seccomp filter (1 rules)',
    'SETUSER switch to user 0:0',
    'CAPS set capabilities',
    'EXEC execute ps',
  ]);
  assert.deepEqual(plan.steps[8].args.map((a) => a.v), [0n, ParentMode.EXIT]);
  assert.ok(encodePlan(plan.steps).length > 0);
});

test('exec with a terminal, rlimits, no_new_privs and a non-root user in the foreground', () => {
  const p: Process = {
    ...proc(), terminal: true, consoleSize: { height: 24, width: 80 }, noNewPrivileges: true,
    user: { uid: 33, gid: 33, umask: 0o027 }, rlimits: [{ type: 'RLIMIT_NPROC', soft: 10, hard: 20 }],
    capabilities: { bounding: ['CAP_NET_RAW'], ambient: ['CAP_NET_RAW'], inheritable: ['CAP_NET_RAW'], permitted: ['CAP_NET_RAW'] },
  };
  assert.throws(() => buildExecPlan({ spec: typicalSpec(), process: p, pid: 7, detach: false, preserveFds: 0 }),
    /a terminal needs a console socket/);
  const plan = buildExecPlan({ spec: typicalSpec(), process: p, pid: 7, consoleSocket: '/tmp/s', detach: false, preserveFds: 1 });
  const s = ops(plan.steps);
  // The socket path is a host path: connected before the first SETNS (the mount namespace is joined last).
  assert.ok(s.indexOf('CONNECT_CONSOLE') < s.indexOf('SETNS'), 'CONNECT_CONSOLE before joining namespaces');
  assert.deepEqual(s.slice(s.indexOf('CLONE')), [
    'CLONE', 'SYNC', 'SETSID', 'CONSOLE', 'CHDIR', 'LOOKUP_EXEC', 'SETRLIMIT', 'UMASK', 'FDMAP', 'CLOSE_FDS',
    'READY', 'KEEPCAPS', 'SETUSER', 'CAPS', 'KEEPCAPS', 'NO_NEW_PRIVS', 'SECCOMP', 'EXEC',
  ]);
  assert.equal(plan.steps[s.indexOf('CLONE')].args[1].v, ParentMode.WAIT);
  assert.deepEqual(plan.steps[s.indexOf('KEEPCAPS')].args[0].v, 1);
  assert.deepEqual(plan.steps[s.lastIndexOf('KEEPCAPS')].args[0].v, 0);
  assert.deepEqual(plan.steps[s.indexOf('CAPS')].args.map((a) => a.v), [1n << 13n, 0n, 1n << 13n, 1n << 13n, 1n << 13n]);
  assert.deepEqual(plan.steps.find((x) => x.op === 'EXEC')!.args.map((a) => a.v), [['ps'], ['PATH=/bin']]);
});

test('exec into a user-namespace container sets rlimits before joining', () => {
  const spec = typicalSpec();
  spec.linux!.namespaces!.push({ type: 'user' });
  const p = { ...proc(), rlimits: [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 10 }] };
  const s = ops(buildExecPlan({ spec, process: p, pid: 7, detach: true, preserveFds: 0 }).steps);
  assert.deepEqual(s.slice(0, 2), ['SETRLIMIT', 'SETNS']);
  assert.equal(s.filter((x) => x === 'SETRLIMIT').length, 1);
});

test('a detached exec with cgroupJoin has the helper join the cgroup before any namespace', () => {
  const spec = typicalSpec();
  const tasks = ['/sys/fs/cgroup/cpu/stasis/x/tasks', '/sys/fs/cgroup/memory/stasis/x/tasks'];
  const plan = buildExecPlan({ spec, process: proc(), pid: 4242, detach: true, preserveFds: 0, cgroupJoin: tasks });
  const d = describe(plan.steps);
  assert.deepEqual(d.slice(0, 2), ['WRITE_FILE join cgroup /sys/fs/cgroup/cpu/stasis/x', 'WRITE_FILE join cgroup /sys/fs/cgroup/memory/stasis/x']);
  assert.deepEqual(plan.steps[0].args.map((a) => a.v), [0, tasks[0], '0']);
  assert.ok(d.indexOf('CLONE create the process') > d.findIndex((s) => s.startsWith('SETNS')));
  assert.throws(() => buildExecPlan({ spec, process: proc(), pid: 4242, detach: false, preserveFds: 0, cgroupJoin: tasks }), /cgroupJoin/);
});
