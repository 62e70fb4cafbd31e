/** Restore preparation (pure): cgroup roots, CRIU options, flag refusals. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cgroupRoots, restoreCriuOpts } from '../../../src/runtime/restore-prepare';
import { lsmObstacle, missingImages } from '../../../src/runtime/restore-checks';
import { lazyPagesObstacle, LAZY_PIPE_BYTES } from '../../../src/runtime/checkpoint-criu';
import { checkpointPlan, restorePlan, CriuOptionError } from '../../../src/criu';

test('cgroupRoots maps the managed controllers to where criu sits', () => {
  const proc = '9:name=systemd:/\n4:memory:/stasis/c2\n1:cpu:/stasis/c2\n0::/\n';
  assert.deepEqual(cgroupRoots(proc, ['cpu', 'memory']), [
    { ctrl: 'memory', path: '/stasis/c2' },
    { ctrl: 'cpu', path: '/stasis/c2' },
  ]);
  assert.deepEqual(cgroupRoots('0::/stasis/c2\n', ['']), [{ path: '/stasis/c2' }]);
});

test('restoreCriuOpts always restores as a sibling, with cgroups managed, pty master only with a terminal', () => {
  const base = { rootfs: '/r', extMnt: [], inheritFd: [], cgRoot: [], terminal: false, cgroupYard: '/y' };
  const o = restoreCriuOpts(base);
  assert.equal(o.rstSibling, true);
  assert.equal(o.manageCgroups, true);
  assert.equal(o.root, '/r');
  assert.equal(o.orphanPtsMaster, undefined);
  assert.equal(o.inheritFd, undefined);
  assert.equal(restoreCriuOpts({ ...base, terminal: true }).orphanPtsMaster, true);
});

test('lazy pages are refused with the pipe size that is missing, unless the host allows them', () => {
  const small = { pipeMaxSize: () => 1048576, hasCapSysResource: () => false };
  assert.match(lazyPagesObstacle(small)!, /^lazy-pages: fs\.pipe-max-size is 1048576 but .* needs 4194304 \(sysctl fs\.pipe-max-size=4194304\)$/);
  assert.equal(lazyPagesObstacle({ ...small, pipeMaxSize: () => LAZY_PIPE_BYTES }), undefined);
  assert.equal(lazyPagesObstacle({ ...small, hasCapSysResource: () => true }), undefined);
});

test('LSM flags are refused on a host without that LSM', () => {
  const none = { apparmor: () => false, selinux: () => false };
  assert.equal(lsmObstacle({ lsmProfile: 'apparmor:x' }, none), '--lsm-profile: apparmor is not enabled on this host');
  assert.equal(lsmObstacle({ lsmMountContext: 'ctx' }, none), '--lsm-mount-context: selinux is not enabled on this host');
  assert.equal(lsmObstacle({ lsmProfile: 'apparmor:x' }, { ...none, apparmor: () => true }), undefined);
  assert.equal(lsmObstacle({}, none), undefined);
});

test('missingImages names the files a complete dump has', () => {
  assert.deepEqual(missingImages(['inventory.img', 'pstree.img', 'core-1.img']), []);
  assert.deepEqual(missingImages(['dump.log']), ['inventory.img', 'pstree.img']);
});

test('option validation: bad values name the flag', () => {
  assert.throws(() => checkpointPlan({ imagePath: '/i', manageCgroupsMode: 'hard' }), (e: unknown) => e instanceof CriuOptionError && /manage-cgroups-mode: invalid value "hard"/.test(e.message));
  assert.throws(() => checkpointPlan({ imagePath: '/i', emptyNs: ['pid'] }), /empty-ns: invalid value "pid"/);
  assert.throws(() => checkpointPlan({ imagePath: '/i', pageServer: 'nohost' }), /page-server: "nohost" is not ADDR:PORT/);
  assert.throws(() => restorePlan({ imagePath: '/i', lsmProfile: 'bogus' }), /lsm-profile:/);
  const p = checkpointPlan({ imagePath: '/i', leaveRunning: true, tcpEstablished: true, manageCgroupsMode: 'ignore' });
  assert.equal(p.opts.leaveRunning, true);
  assert.equal(p.opts.manageCgroupsMode, 'IGNORE');
  assert.equal(p.workDir, '/i');
});
