/**
 * What the container process and exec'd processes are left with: the spec's capabilities (nothing more),
 * no_new_privs and seccomp in force (seen from inside, in /proc/self/status, and by a syscall the profile
 * blocks); a disk the spec did not list in linux.devices cannot be read even after mknod with CAP_MKNOD
 * (devices cgroup); and host pids are neither visible nor signalable (pid namespace).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab, labSkipReason, probeValue } from './lab';
import { show } from '../support/run';
import { decodeCaps } from '../support/proc';

const skip = labSkipReason();
const lab = new Lab('iso');

/** CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE: the default spec's set. */
const DEFAULT_CAPS = [5, 10, 29];

const SECCOMP = {
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['uname'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
};

function assertConfined(out: string, what: string, eff: number[], uname = true): void {
  const msg = `${what}:\n${out}`;
  assert.deepEqual(decodeCaps(probeValue(out, 'CapEff') ?? ''), eff, msg);
  assert.deepEqual(decodeCaps(probeValue(out, 'CapPrm') ?? ''), eff, msg);
  assert.deepEqual(decodeCaps(probeValue(out, 'CapBnd') ?? ''), DEFAULT_CAPS, msg);
  assert.deepEqual(decodeCaps(probeValue(out, 'CapInh') ?? ''), [], msg);
  assert.deepEqual(decodeCaps(probeValue(out, 'CapAmb') ?? ''), [], msg);
  assert.equal(probeValue(out, 'NoNewPrivs'), '1', msg);
  assert.equal(probeValue(out, 'Seccomp'), '2', msg);
  if (uname) assert.equal(probeValue(out, 'uname'), 'EPERM', msg);
}

test('capabilities, no_new_privs and seccomp hold in the init and in exec\'d processes', { skip }, async (t) => {
  const c = lab.bundle(t, { probe: true, args: ['sleep', '1000'], tweak: (s) => (s.linux!.seccomp = SECCOMP as never) });
  const r = await lab.run(['run', '-d', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const state = JSON.parse((await lab.run(['state', c.id])).stdout) as { pid: number };
  // The init, read from the host: the same facts the probe reports from inside.
  const init = fs.readFileSync(`/proc/${state.pid}/status`, 'utf8').replace(/:\s+/g, ' ');
  assertConfined(init, 'init', DEFAULT_CAPS, false);
  const e = await lab.run(['exec', c.id, '/probe', 'status', 'uname']);
  assert.equal(e.code, 0, show(e));
  assertConfined(e.stdout, 'exec', DEFAULT_CAPS);
  // Not root: the effective and permitted sets empty out, the bounding set stays the spec's.
  const u = await lab.run(['exec', '-u', '1000:1000', c.id, '/probe', 'status', 'uname']);
  assert.equal(u.code, 0, show(u));
  assertConfined(u.stdout, 'exec -u 1000', []);
  const f = lab.bundle(t, { probe: true, args: ['/probe', 'status', 'uname'], tweak: (s) => (s.linux!.seccomp = SECCOMP as never) });
  const fr = await lab.run(['run', '-b', f.dir, f.id]);
  assert.equal(fr.code, 0, show(fr));
  assertConfined(fr.stdout, 'init (probe)', DEFAULT_CAPS);
});

/** major:minor of a block device of the host, from /proc/partitions. */
function hostDisk(): [number, number] | undefined {
  const line = fs.readFileSync('/proc/partitions', 'utf8').split('\n').slice(2).find((l) => l.trim());
  if (!line) return undefined;
  const [maj, min] = line.trim().split(/\s+/).map(Number);
  return [maj, min];
}

/**
 * Whether this host itself may open the disk through a fresh node. When an outer devices cgroup (this machine
 * running inside another container) refuses it even to root on the host, the test below would pass whatever
 * stasis did, so it is skipped instead of proving nothing.
 */
function hostCanOpen(type: 'b' | 'c', maj: number, min: number): boolean {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-disk-'));
  try {
    execFileSync('mknod', [path.join(dir, 'disk'), type, String(maj), String(min)]);
    fs.closeSync(fs.openSync(path.join(dir, 'disk'), 'r'));
    return true;
  } catch {
    return false;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function diskSkipReason(): string | false {
  if (skip) return skip;
  const disk = hostDisk();
  if (!disk) return 'no block device';
  if (!hostCanOpen('b', ...disk)) return 'the host itself cannot open its disk (an outer devices cgroup): the test could not fail';
  return false;
}

test('a disk outside linux.devices cannot be read even with CAP_MKNOD', { skip: diskSkipReason() }, async (t) => {
  const [maj, min] = hostDisk()!;
  const c = lab.bundle(t, {
    probe: true,
    args: ['/probe', 'mknod-read', '/dev/disk0', String(maj), String(min), 'status'],
    tweak: (s) => {
      const caps = s.process!.capabilities!;
      for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_MKNOD'];
    },
  });
  const r = await lab.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  assert.ok(decodeCaps(probeValue(r.stdout, 'CapEff') ?? '').includes(27), `CAP_MKNOD missing:\n${r.stdout}`);
  // The devices cgroup may refuse the mknod itself or the open; either way nothing is read.
  const made = probeValue(r.stdout, 'mknod /dev/disk0');
  if (made === 'ok') assert.equal(probeValue(r.stdout, 'mknod-open /dev/disk0'), 'EPERM', show(r));
  else assert.equal(made, 'EPERM', show(r));
  assert.equal(probeValue(r.stdout, 'mknod-read /dev/disk0'), undefined, show(r));
});

const KMSG: [number, number] = [1, 11];

test('the kernel log (/dev/kmsg) outside linux.devices cannot be opened even with CAP_MKNOD', { skip: skip || (!hostCanOpen('c', ...KMSG) && 'the host cannot open /dev/kmsg itself') }, async (t) => {
  const c = lab.bundle(t, {
    probe: true,
    args: ['/probe', 'mknod-read-char', '/dev/kmsg0', String(KMSG[0]), String(KMSG[1]), 'status'],
    // CAP_SYSLOG too: with kernel.dmesg_restrict the open would fail for want of it, not because of the
    // devices cgroup, and the test would prove nothing.
    tweak: (s) => {
      const caps = s.process!.capabilities!;
      for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_MKNOD', 'CAP_SYSLOG'];
    },
  });
  const r = await lab.run(['run', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  assert.ok(decodeCaps(probeValue(r.stdout, 'CapEff') ?? '').includes(27), `CAP_MKNOD missing:\n${r.stdout}`);
  const made = probeValue(r.stdout, 'mknod /dev/kmsg0');
  if (made === 'ok') assert.equal(probeValue(r.stdout, 'mknod-open /dev/kmsg0'), 'EPERM', show(r));
  else assert.equal(made, 'EPERM', show(r));
});

test('host pids are neither visible nor signalable', { skip }, async (t) => {
  const c = lab.bundle(t, { probe: true, args: ['sleep', '1000'] });
  const r = await lab.run(['run', '-d', '-b', c.dir, c.id]);
  assert.equal(r.code, 0, show(r));
  const hostPid = process.pid;
  const e = await lab.run(['exec', c.id, '/probe', 'pids', 'kill', String(hostPid), 'kill', '1', 'status']);
  assert.equal(e.code, 0, show(e));
  const pids = (probeValue(e.stdout, 'pids') ?? '').split(' ').map(Number);
  const self = Number(probeValue(e.stdout, 'pid'));
  // Only the init (1) and the probe itself (its parent helper stays in the host pid namespace).
  assert.deepEqual(pids.sort((a, b) => a - b), [1, self].sort((a, b) => a - b), e.stdout);
  if (!pids.includes(hostPid)) assert.equal(probeValue(e.stdout, `kill ${hostPid}`), 'ESRCH', e.stdout);
  assert.equal(probeValue(e.stdout, 'kill 1'), 'ok', e.stdout);
});

test('leaves no cgroups, mounts or state behind', async () => {
  assert.deepEqual(await lab.dispose(), { cgroups: [], mounts: [], state: [] });
});
