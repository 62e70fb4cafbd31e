/**
 * maskedPaths and readonlyPaths cannot be bypassed from inside: masked files read empty (also through
 * /proc/self/root and /proc/thread-self/root), a masked directory is an empty read-only tmpfs, the masks
 * cannot be unmounted and no second procfs can be mounted without CAP_SYS_ADMIN, /proc/sys and the other
 * readonly paths refuse writers, and /sys is read-only as the default spec asks. Checked for the init and for
 * an exec'd process (MASK_PATH / READONLY_PATH in native/helper/rootfs.c; the mount namespace they live in is
 * shared by exec).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Lab, labSkipReason, probeValue } from './lab';
import { show } from '../support/run';

const skip = labSkipReason();
const lab = new Lab('mask');

const CHECKS = [
  'read', '/proc/kcore', 'read', '/proc/keys', 'read', '/proc/timer_list', 'read', '/proc/self/root/proc/keys',
  'read', '/proc/thread-self/root/proc/keys', 'create', '/proc/acpi', 'create', '/proc/scsi',
  'umount', '/proc/keys', 'umount', '/proc/acpi', 'mount-proc', '/dev/shm/p',
  'write', '/proc/sys/kernel/hostname', 'write', '/proc/sysrq-trigger', 'write', '/proc/irq/default_smp_affinity',
  'create', '/proc/sys/kernel', 'create', '/sys', 'create', '/sys/fs/cgroup', 'write', '/sys/kernel/uevent_helper',
];

function assertMasked(out: string, what: string): void {
  const msg = `${what}:\n${out}`;
  for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/self/root/proc/keys', '/proc/thread-self/root/proc/keys']) {
    const v = probeValue(out, `read ${p}`);
    // Masked with /dev/null: reads end at once. A path this kernel lacks reads ENOENT; one the host has must
    // be masked, or the check proves nothing (/proc/kcore is missing on some kernels, /proc/keys is not).
    const onHost = fs.existsSync(p.replace(/^\/proc\/(self|thread-self)\/root/, ''));
    assert.ok(v === '0' || (!onHost && v === 'ENOENT'), `${p} read ${v}: ${msg}`);
  }
  for (const d of ['/proc/acpi', '/proc/scsi']) {
    const v = probeValue(out, `create ${d}`);
    assert.ok(v === 'EROFS' || v === 'ENOENT' || v === 'EACCES', `${d}: create gave ${v}: ${msg}`);
  }
  assert.notEqual(probeValue(out, 'umount /proc/keys'), 'ok', msg);
  assert.notEqual(probeValue(out, 'umount /proc/acpi'), 'ok', msg);
  assert.equal(probeValue(out, 'mount-proc /dev/shm/p'), 'EPERM', msg);
  for (const w of ['/proc/sys/kernel/hostname', '/proc/sysrq-trigger', '/proc/irq/default_smp_affinity', '/sys/kernel/uevent_helper']) {
    const v = probeValue(out, `write ${w}`);
    assert.ok(v !== 'ok', `${w} is writable: ${msg}`);
  }
  for (const d of ['/proc/sys/kernel', '/sys', '/sys/fs/cgroup']) assert.notEqual(probeValue(out, `create ${d}`), 'ok', `${d}: ${msg}`);
  assert.equal(probeValue(out, 'write /proc/sys/kernel/hostname'), 'EROFS', msg);
}

test('masked and read-only paths hold for the init and for exec', { skip }, async (t) => {
  const c = lab.bundle(t, { probe: true, args: ['sh', '-c', `/probe ${CHECKS.join(' ')}; exec sleep 1000`] });
  const pidFile = lab.scratch('mask.pid');
  const r = await lab.run(['run', '-d', '--pid-file', pidFile, '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const e = await lab.run(['exec', c.id, '/probe', ...CHECKS]);
  assert.equal(e.code, 0, show(e));
  assertMasked(e.stdout, 'exec');
  // The init's own run printed to our pipe after `run -d` returned; check it through a foreground run too.
  const f = lab.bundle(t, { probe: true, args: ['/probe', ...CHECKS] });
  const fr = await lab.run(['run', '-b', f.dir, f.id]);
  assert.equal(fr.code, 0, show(fr));
  assertMasked(fr.stdout, 'init');
  assert.ok(fs.existsSync(pidFile));
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
