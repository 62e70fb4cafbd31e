import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MS, KNOWN_MOUNT_OPTIONS, parseMountOptions } from '../../../src/plan/mount-options';
import { mountSteps } from '../../../src/plan/mounts';
import { Base, MountOpt, TargetKind } from '../../../src/helper/protocol';
import { fakeHost } from './fixtures';

const ctx = { host: fakeHost, bundle: '/b', cgroupMounts: [] };

test('tmpcopyup on a tmpfs sets the COPY_UP bits of its MOUNT (Podman --read-only /run)', () => {
  const steps = mountSteps({ destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'rprivate', 'nosuid', 'nodev', 'tmpcopyup'] }, 0, ctx);
  assert.deepEqual(steps.map((s) => s.op), ['MOUNT', 'PROPAGATION']);
  // No mode=/uid=/gid=: the root takes the covered directory's owner and mode as well.
  assert.deepEqual(steps[0].args.map((a) => a.v), ['tmpfs', Base.ROOTFS, '/run', 'tmpfs', BigInt(MS.NOSUID | MS.NODEV), '', TargetKind.DIR,
    MountOpt.COPY_UP | MountOpt.COPY_UP_ROOT]);
  assert.match(steps[0].what, /copy/);
  assert.deepEqual(steps[1].args.map((a) => a.v), [Base.ROOTFS, '/run', BigInt(MS.PRIVATE | MS.REC)]);
});

test('mode=, uid= or gid= in the options keep the tmpfs root as the options make it', () => {
  for (const opt of ['mode=1777', 'uid=5', 'gid=5']) {
    const [step] = mountSteps({ destination: '/tmp', type: 'tmpfs', options: ['size=1m', opt, 'tmpcopyup'] }, 0, ctx);
    assert.equal(step.args[7].v, MountOpt.COPY_UP, opt);
  }
  const [step] = mountSteps({ destination: '/tmp', type: 'tmpfs', options: ['nr_inodes=5', 'tmpcopyup'] }, 0, ctx);
  assert.equal(step.args[7].v, MountOpt.COPY_UP | MountOpt.COPY_UP_ROOT, 'an option merely ending in "mode=" does not count');
});

test('a read-only tmpfs with tmpcopyup is filled writable, then remounted read-only', () => {
  const steps = mountSteps({ destination: '/run/', type: 'tmpfs', options: ['ro', 'noexec', 'mode=755', 'tmpcopyup'] }, 3, ctx);
  assert.deepEqual(steps.map((s) => s.op), ['MOUNT', 'REMOUNT']);
  assert.deepEqual(steps[0].args.map((a) => a.v), ['tmpfs', Base.ROOTFS, '/run', 'tmpfs', BigInt(MS.NOEXEC), 'mode=755', TargetKind.DIR, MountOpt.COPY_UP]);
  assert.deepEqual(steps[1].args.map((a) => a.v), [Base.ROOTFS, '/run', BigInt(MS.RDONLY | MS.NOEXEC)]);
});

test('without tmpcopyup a tmpfs MOUNT has no option bits', () => {
  const [step] = mountSteps({ destination: '/scratch', type: 'tmpfs', options: ['size=1m'] }, 0, ctx);
  assert.equal(step.args[7].v, 0);
  assert.equal(parseMountOptions(['size=1m'], 'o').copyUpAt, -1);
});

test('tmpcopyup is not filesystem data and is advertised in features', () => {
  const p = parseMountOptions(['nosuid', 'tmpcopyup', 'mode=1777'], 'mounts[0].options');
  assert.equal(p.data, 'mode=1777');
  assert.equal(p.copyUpAt, 1);
  assert.ok(KNOWN_MOUNT_OPTIONS.includes('tmpcopyup'));
});

test('tmpcopyup on anything but a tmpfs is a plan error naming the option', () => {
  assert.throws(() => mountSteps({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'tmpcopyup'] }, 2, ctx), {
    name: 'PlanError',
    message: 'mounts[2].options[1]: tmpcopyup needs a tmpfs mount, not a bind mount',
  });
  assert.throws(() => mountSteps({ destination: '/data', type: 'tmpfs', source: '/srv', options: ['bind', 'tmpcopyup'] }, 0, ctx), {
    message: 'mounts[0].options[1]: tmpcopyup needs a tmpfs mount, not a bind mount',
  });
  assert.throws(() => mountSteps({ destination: '/proc', type: 'proc', options: ['tmpcopyup'] }, 1, ctx), {
    message: 'mounts[1].options[0]: tmpcopyup needs a tmpfs mount, not type "proc"',
  });
  assert.throws(() => mountSteps({ destination: '/sys/fs/cgroup', type: 'cgroup', options: ['ro', 'tmpcopyup'] }, 4, ctx), {
    message: 'mounts[4].options[1]: tmpcopyup needs a tmpfs mount, not type "cgroup"',
  });
  assert.throws(() => mountSteps({ destination: '/x', type: 'tmpfs', options: ['remount', 'tmpcopyup'] }, 0, ctx), {
    message: 'mounts[0].options[1]: tmpcopyup needs a tmpfs mount, not a remount',
  });
});

test('MountOpt matches MOUNT_OPT_* in protocol.h', () => {
  // The protocol-sync test checks the older enums; this covers the MOUNT option bits added with tmpcopyup.
  const header = fs.readFileSync(path.join(__dirname, '../../../../native/include/protocol.h'), 'utf8');
  for (const [k, v] of Object.entries(MountOpt)) {
    const m = new RegExp(`\\bMOUNT_OPT_${k}\\s*=\\s*(\\d+)`).exec(header);
    assert.ok(m, `MOUNT_OPT_${k} missing from protocol.h`);
    assert.equal(v, Number(m[1]), k);
  }
});
