import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSpec } from '../../../src/spec/defaults';
import { features } from '../../../src/spec/features';
import { validateSpec } from '../../../src/spec/validate';
import { buildInitPlan } from '../../../src/plan/init-plan';
import { encodePlan } from '../../../src/helper/protocol';
import type { HostFacts } from '../../../src/plan/host';

const host: HostFacts = { fileKind: () => 'dir', mountPointOf: () => '/' };

test('the default spec validates and compiles', () => {
  const spec = validateSpec(JSON.parse(JSON.stringify(defaultSpec())), 'config.json');
  assert.equal(spec.process!.terminal, true);
  assert.deepEqual(spec.process!.args, ['sh']);
  assert.ok(spec.linux!.maskedPaths!.includes('/proc/kcore'));
  assert.ok(spec.linux!.readonlyPaths!.includes('/proc/sys'));
  const plan = buildInitPlan({
    spec, rootfs: '/b/rootfs', fifoPath: '/run/x/exec.fifo', consoleSocket: '/tmp/c.sock', noPivot: false,
    preserveFds: 0, foreground: false, host, cgroupMounts: [{ controller: 'memory', hostPath: '/sys/fs/cgroup/memory/c' }],
  });
  assert.equal(plan.userns, false);
  assert.ok(encodePlan(plan.steps).length > 0);
});

test('the rootless default maps the given ids and avoids what needs privileges', () => {
  const spec = validateSpec(JSON.parse(JSON.stringify(defaultSpec({ rootless: true, uid: 1000, gid: 1001 }))), 'config.json');
  const types = spec.linux!.namespaces!.map((n) => n.type);
  assert.ok(types.includes('user'));
  assert.ok(!types.includes('network'));
  assert.ok(!types.includes('cgroup'));
  assert.deepEqual(spec.linux!.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(spec.linux!.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  assert.equal(spec.linux!.resources, undefined);
  assert.ok(!spec.mounts!.some((m) => m.type === 'cgroup' || m.type === 'sysfs'));
  assert.ok(!spec.mounts!.find((m) => m.destination === '/dev/pts')!.options!.includes('gid=5'));
  const plan = buildInitPlan({
    spec, rootfs: '/b/rootfs', fifoPath: '/f', consoleSocket: '/c', noPivot: false, preserveFds: 0, foreground: true, host,
    rootless: true,
  });
  assert.equal(plan.userns, true);
  assert.ok(!plan.steps.some((s) => s.op === 'MKNOD'));
  assert.ok(plan.steps.some((s) => s.op === 'BIND_DEVICE'));
});

test('each call returns a fresh object', () => {
  const a = defaultSpec();
  a.process!.args.push('x');
  assert.deepEqual(defaultSpec().process!.args, ['sh']);
});

test('features document', () => {
  const f = features({ 'org.example.version': '1' });
  assert.equal(f.ociVersionMin, '1.0.0');
  assert.match(f.ociVersionMax, /^1\.2\.\d+$/);
  assert.ok(f.hooks.includes('createContainer'));
  assert.ok(f.mountOptions.includes('rbind') && f.mountOptions.includes('strictatime'));
  assert.ok(!f.mountOptions.includes('rro'));
  assert.ok(f.linux.namespaces.includes('time'));
  assert.equal(f.linux.capabilities.length, 41);
  assert.equal(f.linux.capabilities[40], 'CAP_CHECKPOINT_RESTORE');
  assert.deepEqual(f.linux.cgroup, { v1: true, v2: true, systemd: false, systemdUser: false, rdma: false });
  assert.ok(f.linux.seccomp.enabled);
  assert.ok(!f.linux.seccomp.actions.includes('SCMP_ACT_NOTIFY'));
  assert.ok(f.linux.seccomp.archs.includes('SCMP_ARCH_X86_64'));
  assert.deepEqual(f.linux.seccomp.supportedFlags.sort(), ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC']);
  assert.equal(f.linux.apparmor.enabled, false);
  assert.equal(f.linux.selinux.enabled, false);
  assert.equal(f.linux.intelRdt.enabled, false);
  assert.equal(f.annotations['org.example.version'], '1');
});
