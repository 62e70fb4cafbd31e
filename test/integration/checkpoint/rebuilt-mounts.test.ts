/**
 * Mounts a restore rebuilds instead of CRIU dumping them with tar: the read-only v1 cgroup tmpfs and tmpfs
 * mounts found empty at dump (checkpoint-mounts.ts, checkpoint-empty-tmpfs.ts). The restored container must
 * see them exactly as before: same mount options, same entries, and a /dev/shm it can write to.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor } from './harness';

const skip = skipReason();

/** What the container sees of a mount: its mountinfo line without the ids and device numbers. */
function mountLine(pid: number, mountpoint: string): string | undefined {
  const lines = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
  const hit = lines.filter((l) => l.split(' ')[4] === mountpoint).pop();
  return hit?.split(' ').slice(3).join(' ').replace(/ master:\d+| shared:\d+| propagate_from:\d+/g, '');
}

/** `ls -la` of a directory inside the container, without times and link counts. */
function listing(pid: number, dir: string): string {
  const r = spawnSync('nsenter', ['-t', String(pid), '-m', 'ls', '-la', dir], { encoding: 'utf8' });
  return r.stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('total'))
    .map((l) => {
      const f = l.split(/\s+/);
      return [f[0], f[2], f[3], ...f.slice(8)].join(' ');
    })
    .sort()
    .join('\n');
}

test('an empty /dev/shm and the cgroup tmpfs come back as they were, without CRIU dumping them', { skip }, async (t) => {
  const w = new World('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done');
  t.after(() => w.cleanup());
  const id = await w.runCounting('rebuilt');
  const before = w.state(id)!.pid;
  const was = {
    shm: mountLine(before, '/dev/shm'),
    cgroup: mountLine(before, '/sys/fs/cgroup'),
    shmList: listing(before, '/dev/shm'),
    cgroupList: listing(before, '/sys/fs/cgroup'),
  };
  assert.match(was.shm ?? '', /- tmpfs shm rw/, 'no /dev/shm tmpfs before');
  assert.match(was.cgroup ?? '', /^\/ \/sys\/fs\/cgroup ro,.* - tmpfs tmpfs ro/, 'no read-only cgroup tmpfs before');
  assert.match(was.cgroupList, /memory/);
  const images = w.images('images');
  w.ok(['checkpoint', '--image-path', images, id]);
  const note = JSON.parse(fs.readFileSync(path.join(images, 'stasis-checkpoint.json'), 'utf8'));
  assert.deepEqual(note.emptyTmpfs?.map((e: { mountpoint: string }) => e.mountpoint), ['/dev/shm']);
  assert.equal(note.cgroupTmpfs?.mountpoint, '/sys/fs/cgroup');
  // Only /dev itself (device nodes, links) is still dumped with tar.
  assert.equal(fs.readdirSync(images).filter((n) => n.startsWith('tmpfs-')).length, 1, fs.readdirSync(images).join(' '));

  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', images, id]);
  const atRestore = w.count();
  await waitFor('the counter after restore', () => w.count() > atRestore + 2);
  const pid = w.state(id)!.pid;
  assert.equal(mountLine(pid, '/dev/shm'), was.shm);
  assert.equal(mountLine(pid, '/sys/fs/cgroup'), was.cgroup);
  assert.equal(listing(pid, '/dev/shm'), was.shmList);
  assert.equal(listing(pid, '/sys/fs/cgroup'), was.cgroupList);
  const write = spawnSync('nsenter', ['-t', String(pid), '-m', 'sh', '-c', 'echo hi > /dev/shm/x && cat /dev/shm/x && cat /sys/fs/cgroup/memory/memory.limit_in_bytes'], { encoding: 'utf8' });
  assert.equal(write.status, 0, write.stderr);
  assert.match(write.stdout, /^hi\n\d+\n$/);
  // Checkpointed again now that /dev/shm has a file: this time it is dumped, and the file survives.
  const again = w.images('again');
  w.ok(['checkpoint', '--image-path', again, id]);
  assert.equal(JSON.parse(fs.readFileSync(path.join(again, 'stasis-checkpoint.json'), 'utf8')).emptyTmpfs, undefined);
  w.ok(['restore', '-d', '--bundle', w.bundle, '--image-path', again, id]);
  const pid2 = w.state(id)!.pid;
  const read = spawnSync('nsenter', ['-t', String(pid2), '-m', 'cat', '/dev/shm/x'], { encoding: 'utf8' });
  assert.equal(read.stdout, 'hi\n');
});
