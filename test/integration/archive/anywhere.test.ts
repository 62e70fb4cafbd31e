/**
 * "Another host" on one machine: two state roots and two network namespaces. A container that joined
 * network namespace A is exported under state root 1; the archive is listed by checkpointctl; it is
 * restored under state root 2, with a new id, into a fresh bundle and into network namespace B given with
 * --netns. The restored container is in B (its lo address is B's), its state root 2 knows it, root 1 does not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { skipReason, waitFor } from '../checkpoint/harness';
import { PortableWorld, checkpointctl } from './portable-world';

const skip = skipReason();

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

test('export under one state root and netns, restore under another with --netns', { skip }, async (t) => {
  const nsA = `stasis-any-a-${process.pid}`;
  const nsB = `stasis-any-b-${process.pid}`;
  ip('netns', 'add', nsA);
  ip('netns', 'add', nsB);
  const w = new PortableWorld('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; usleep 50000; done');
  const root2 = w.images('state2');
  const id2 = w.id('any-there');
  t.after(async () => {
    const del = w.stasis(['--root', root2, 'delete', '--force', id2]);
    if (del.status !== 0) throw new Error(`delete --force ${id2} under the second state root failed: ${del.stderr}`);
    await w.cleanup();
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
  });
  // Each namespace gets a veth pair with its own address, so the container can tell which it is in.
  ip('-n', nsA, 'link', 'add', 'tag0', 'type', 'veth', 'peer', 'name', 'tag1');
  ip('-n', nsA, 'addr', 'add', '10.91.0.1/32', 'dev', 'tag0');
  ip('-n', nsB, 'link', 'add', 'tag0', 'type', 'veth', 'peer', 'name', 'tag1');
  ip('-n', nsB, 'addr', 'add', '10.92.0.1/32', 'dev', 'tag0');

  const a = w.bundleFrom('a', 'overlay');
  const spec = JSON.parse(fs.readFileSync(path.join(a, 'config.json'), 'utf8'));
  spec.linux.namespaces = spec.linux.namespaces.map((n: { type: string }) => (n.type === 'network' ? { type: 'network', path: `/run/netns/${nsA}` } : n));
  fs.writeFileSync(path.join(a, 'config.json'), JSON.stringify(spec));
  const id = w.id('any');
  w.ok(['run', '-d', '--bundle', a, id]);
  await waitFor('the counter', () => w.countIn(a) >= 3);
  assert.match(w.ok(['exec', id, 'ip', 'addr', 'show', 'tag0']), /10\.91\.0\.1/);

  const archive = w.images('c.tar.gz');
  w.ok(['checkpoint', '--export', archive, id]);
  const atDump = w.countIn(a);
  const ctl = checkpointctl();
  if (ctl) {
    const show = spawnSync(ctl, ['show', archive], { encoding: 'utf8' });
    assert.equal(show.status, 0, show.stderr);
    assert.ok(show.stdout.includes(id.slice(0, 12)), show.stdout);
    assert.match(show.stdout, /stasis/);
    const inspect = spawnSync(ctl, ['inspect', '--ps-tree', archive], { encoding: 'utf8' });
    assert.equal(inspect.status, 0, inspect.stderr);
    assert.match(inspect.stdout, /sh/, inspect.stdout);
  } else {
    t.diagnostic('checkpointctl not installed (scripts/install-checkpointctl.sh): show/inspect not checked');
  }
  w.dropBundle(a);

  // "The other host": its own state root, a fresh bundle whose spec still names namespace A.
  const b = w.bundleFrom('b', 'overlay');
  fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
  const r = w.stasis(['--root', root2, 'restore', '-d', '--import', archive, '--netns', `/run/netns/${nsB}`, '--bundle', b, id2]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(w.stasis(['--root', root2, 'exec', id2, 'ip', 'addr', 'show', 'tag0']).stdout, /10\.92\.0\.1/);
  await waitFor('the counter to go on', () => w.countIn(b) > atDump + 2);
  assert.equal(w.state(id2), undefined, 'state root 1 does not know the restored container');
  const st = JSON.parse(w.stasis(['--root', root2, 'state', id2]).stdout);
  assert.equal(st.status, 'running');
});
