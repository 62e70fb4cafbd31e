import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpecError, validateProcess, validateSpec } from '../../../src/spec/validate';

/** A small valid config; each case edits a fresh copy. */
function base(): Record<string, any> {
  return {
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    process: { args: ['sh'], cwd: '/', user: { uid: 0, gid: 0 }, env: ['PATH=/bin'] },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    hostname: 'h',
    linux: { namespaces: [{ type: 'mount' }, { type: 'uts' }, { type: 'pid' }] },
  };
}

function messageOf(edit: (s: Record<string, any>) => void): string {
  const s = base();
  edit(s);
  try {
    validateSpec(s, 'config.json');
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${err}`);
    assert.ok(!err.message.includes('\n'), 'message is one line');
    return err.message;
  }
  return '(valid)';
}

test('a minimal spec is valid and returned as is', () => {
  const s = base();
  assert.equal(validateSpec(s, 'config.json'), s);
});

test('unknown fields are ignored', () => {
  assert.equal(messageOf((s) => {
    s.vendorThing = { a: 1 };
    s.process.extra = true;
    s.linux.intelRdt = { closID: 'x' };
  }), '(valid)');
});

test('null optional members count as absent and are removed', () => {
  const s = base();
  s.hooks = null;
  s.process.capabilities = null;
  const out = validateSpec(s, 'config.json');
  assert.equal('hooks' in out, false);
  assert.equal('capabilities' in out.process!, false);
});

const cases: [string, (s: Record<string, any>) => void, string][] = [
  ['missing ociVersion', (s) => delete s.ociVersion, 'config.json: ociVersion: is required'],
  ['ociVersion not a string', (s) => (s.ociVersion = 1), 'config.json: ociVersion: must be a string'],
  ['ociVersion garbage', (s) => (s.ociVersion = 'one'), 'config.json: ociVersion: invalid version "one" (want MAJOR.MINOR.PATCH)'],
  ['ociVersion 2.x', (s) => (s.ociVersion = '2.0.0'), 'config.json: ociVersion: unsupported version "2.0.0" (stasis supports 1.x)'],
  ['missing root', (s) => delete s.root, 'config.json: root: is required'],
  ['missing root.path', (s) => (s.root = {}), 'config.json: root.path: is required'],
  ['root.readonly type', (s) => (s.root.readonly = 'yes'), 'config.json: root.readonly: must be a boolean'],
  ['missing process', (s) => delete s.process, 'config.json: process: is required'],
  ['args missing', (s) => delete s.process.args, 'config.json: process.args: is required'],
  ['args empty', (s) => (s.process.args = []), 'config.json: process.args: must contain at least one entry'],
  ['args element type', (s) => (s.process.args = ['sh', 3]), 'config.json: process.args[1]: must be a string'],
  ['cwd relative', (s) => (s.process.cwd = 'tmp'), 'config.json: process.cwd: must be an absolute path'],
  ['env without =', (s) => (s.process.env = ['A=1', 'B']), 'config.json: process.env[1]: must have the form KEY=value, got "B"'],
  ['uid negative', (s) => (s.process.user.uid = -1), 'config.json: process.user.uid: must be an unsigned 32-bit integer'],
  ['gid missing', (s) => delete s.process.user.gid, 'config.json: process.user.gid: is required'],
  ['umask too big', (s) => (s.process.user.umask = 0o1000), 'config.json: process.user.umask: must be at most 0777'],
  ['unknown capability', (s) => (s.process.capabilities = { bounding: ['CAP_KILL', 'CAP_CHOWN', 'CAP_FOO'] }),
    'config.json: process.capabilities.bounding[2]: unknown capability "CAP_FOO"'],
  ['capability list type', (s) => (s.process.capabilities = { ambient: 'CAP_KILL' }), 'config.json: process.capabilities.ambient: must be an array'],
  ['rlimit type', (s) => (s.process.rlimits = [{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }]),
    'config.json: process.rlimits[0].type: unknown rlimit type "RLIMIT_FOO"'],
  ['rlimit duplicate', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 }, { type: 'RLIMIT_NOFILE', soft: 2, hard: 2 }]),
    'config.json: process.rlimits[1].type: duplicate rlimit RLIMIT_NOFILE'],
  ['rlimit soft > hard', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 10, hard: 5 }]),
    'config.json: process.rlimits[0].soft: must not exceed hard (5)'],
  ['rlimit hard missing', (s) => (s.process.rlimits = [{ type: 'RLIMIT_CORE', soft: 1 }]), 'config.json: process.rlimits[0].hard: is required'],
  ['oomScoreAdj range', (s) => (s.process.oomScoreAdj = 2000), 'config.json: process.oomScoreAdj: must be between -1000 and 1000'],
  ['terminal type', (s) => (s.process.terminal = 1), 'config.json: process.terminal: must be a boolean'],
  ['mounts not array', (s) => (s.mounts = {}), 'config.json: mounts: must be an array'],
  ['mount destination relative', (s) => s.mounts.push({ destination: 'tmp', type: 'tmpfs' }),
    'config.json: mounts[1].destination: must be an absolute path'],
  ['mount destination missing', (s) => s.mounts.push({ type: 'tmpfs' }), 'config.json: mounts[1].destination: is required'],
  ['mount options type', (s) => (s.mounts[0].options = ['ro', 1]), 'config.json: mounts[0].options[1]: must be a string'],
  ['hook path relative', (s) => (s.hooks = { prestart: [{ path: 'bin/hook' }] }), 'config.json: hooks.prestart[0].path: must be an absolute path'],
  ['hook timeout zero', (s) => (s.hooks = { poststop: [{ path: '/h', timeout: 0 }] }),
    'config.json: hooks.poststop[0].timeout: must be between 1 and 2147483'],
  ['annotation value', (s) => (s.annotations = { a: 1 }), 'config.json: annotations.a: must be a string'],
  ['hostname without uts', (s) => (s.linux.namespaces = [{ type: 'mount' }]), 'config.json: hostname: needs a uts namespace in linux.namespaces'],
  ['unknown namespace', (s) => s.linux.namespaces.push({ type: 'foo' }), 'config.json: linux.namespaces[3].type: unknown namespace type "foo"'],
  ['duplicate namespace', (s) => s.linux.namespaces.push({ type: 'pid', path: '/proc/1/ns/pid' }),
    'config.json: linux.namespaces[3].type: duplicate namespace type "pid"'],
  ['namespace path relative', (s) => (s.linux.namespaces[2].path = 'ns/pid'), 'config.json: linux.namespaces[2].path: must be an absolute path'],
  ['mappings without userns', (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]),
    'config.json: linux.uidMappings: needs a user namespace in linux.namespaces'],
  ['userns without mappings', (s) => s.linux.namespaces.push({ type: 'user' }),
    'config.json: linux.uidMappings: is required when creating a user namespace'],
  ['mapping size 0', (s) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 0 }];
  }, 'config.json: linux.uidMappings[0].size: must be at least 1'],
  ['mapping overlap', (s) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }, { containerID: 5, hostID: 5000, size: 10 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
  }, 'config.json: linux.uidMappings[1]: container ids overlap linux.uidMappings[0]'],
  ['mapping overflow', (s) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 4294967295, size: 2 }];
  }, 'config.json: linux.uidMappings[0]: hostID + size exceeds the 32-bit id space'],
  ['device type', (s) => (s.linux.devices = [{ type: 'x', path: '/dev/x' }]), 'config.json: linux.devices[0].type: unknown device type "x"'],
  ['device major missing', (s) => (s.linux.devices = [{ type: 'c', path: '/dev/x', minor: 1 }]),
    'config.json: linux.devices[0].major: is required for type "c"'],
  ['sysctl global', (s) => (s.linux.sysctl = { 'vm.swappiness': '10' }),
    'config.json: linux.sysctl.vm.swappiness: is not namespaced: setting it would change the host'],
  ['sysctl net without netns', (s) => (s.linux.sysctl = { 'net.ipv4.ip_forward': '1' }),
    'config.json: linux.sysctl.net.ipv4.ip_forward: needs a network namespace in linux.namespaces'],
  ['sysctl dotdot', (s) => (s.linux.sysctl = { 'net/../vm': '1' }), 'config.json: linux.sysctl.net/../vm: invalid sysctl name'],
  ['seccomp default action', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_NOPE' }),
    'config.json: linux.seccomp.defaultAction: unknown seccomp action "SCMP_ACT_NOPE"'],
  ['seccomp missing default', (s) => (s.linux.seccomp = {}), 'config.json: linux.seccomp.defaultAction: is required'],
  ['seccomp notify', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_NOTIFY' }] }),
    'config.json: linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY is not supported'],
  ['seccomp listener', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/l.sock' }),
    'config.json: linux.seccomp.listenerPath: seccomp user notification is not supported'],
  ['seccomp arch', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'] }),
    'config.json: linux.seccomp.architectures[1]: unknown seccomp architecture "SCMP_ARCH_Z80"'],
  ['seccomp flag unknown', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_FOO'] }),
    'config.json: linux.seccomp.flags[0]: unknown seccomp flag "SECCOMP_FILTER_FLAG_FOO"'],
  ['seccomp flag unsupported', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }),
    'config.json: linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported'],
  ['seccomp operator', (s) => (s.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }],
  }), 'config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "SCMP_CMP_ABOUT"'],
  ['seccomp arg index', (s) => (s.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }],
  }), 'config.json: linux.seccomp.syscalls[0].args[0].index: must be between 0 and 5'],
  ['seccomp errnoRet on allow', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1 }),
    'config.json: linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW'],
  ['seccomp empty names', (s) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }),
    'config.json: linux.seccomp.syscalls[0].names: must contain at least one entry'],
  ['rootfsPropagation', (s) => (s.linux.rootfsPropagation = 'sideways'), 'config.json: linux.rootfsPropagation: unknown propagation "sideways"'],
  ['maskedPaths relative', (s) => (s.linux.maskedPaths = ['/proc/kcore', 'proc/keys']), 'config.json: linux.maskedPaths[1]: must be an absolute path'],
  ['personality domain', (s) => (s.linux.personality = { domain: 'BSD' }), 'config.json: linux.personality.domain: unknown personality domain "BSD"'],
  ['timeOffsets without time ns', (s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } }),
    'config.json: linux.timeOffsets: needs a new time namespace in linux.namespaces'],
  ['timeOffsets nanosecs', (s) => {
    s.linux.namespaces.push({ type: 'time' });
    s.linux.timeOffsets = { boottime: { secs: 1, nanosecs: 1e9 } };
  }, 'config.json: linux.timeOffsets.boottime.nanosecs: must be below 1000000000'],
  ['resources shape', (s) => (s.linux.resources = { memory: 5 }), 'config.json: linux.resources.memory: must be an object'],
  ['resources device rule', (s) => (s.linux.resources = { devices: [{ access: 'rwm' }] }), 'config.json: linux.resources.devices[0].allow: is required'],
];

for (const [name, edit, want] of cases) {
  test(`rejects: ${name}`, () => assert.equal(messageOf(edit), want));
}

test('a non-object document is rejected', () => {
  assert.throws(() => validateSpec([], 'config.json'), { message: 'config.json: must be a JSON object' });
  assert.throws(() => validateSpec(null, 'x.json'), { message: 'x.json: must be a JSON object' });
});

test('process may be optional when asked', () => {
  const s = base();
  delete s.process;
  assert.doesNotThrow(() => validateSpec(s, 'config.json', { requireProcess: false }));
});

test('valid seccomp, sysctl, user namespace and time namespace pass', () => {
  assert.equal(messageOf((s) => {
    s.linux.namespaces.push({ type: 'user' }, { type: 'network' }, { type: 'ipc' }, { type: 'time' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.timeOffsets = { monotonic: { secs: -5, nanosecs: 0 } };
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '100', 'fs.mqueue.msg_max': '10' };
    s.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      syscalls: [{ names: ['read', 'write'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, valueTwo: 0, op: 'SCMP_CMP_EQ' }] }],
    };
    s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 18446744073709551615 }];
    s.process.capabilities = { bounding: ['CAP_CHECKPOINT_RESTORE'] };
    s.linux.devices = [{ type: 'p', path: '/dev/fifo' }];
  }), '(valid)');
});

test('validateProcess reports fields without a prefix', () => {
  assert.throws(() => validateProcess({ args: ['sh'], cwd: '/', capabilities: { bounding: ['CAP_NOPE'] } }, 'process.json'), {
    message: 'process.json: capabilities.bounding[0]: unknown capability "CAP_NOPE"',
  });
  assert.throws(() => validateProcess({ args: ['sh'] }, 'process.json'), { message: 'process.json: cwd: is required' });
  assert.throws(() => validateProcess('x', 'process.json'), { message: 'process.json: must be a JSON object' });
  const p = { args: ['ls'], cwd: '/', env: ['A=b'] };
  assert.equal(validateProcess(p, 'process.json'), p);
});
