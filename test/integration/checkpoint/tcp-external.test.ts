/**
 * An established TCP connection from the container to a server outside it survives checkpoint/restore with
 * --tcp-established. The test makes its own network: a namespace and a veth pair with addresses from the
 * benchmarking range 198.18.0.0/15 (never a real network), the server in the test process on the host end,
 * the container joined to the namespace by path (so stasis leaves the namespace out of the dump and gives it
 * back at restore). The server must see one connection whose stream goes on without a gap or a repeat.
 */
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, skipReason, waitFor } from './harness';

const hasIp = spawnSync('ip', ['-V'], { stdio: 'ignore' }).status === 0;
const skip = skipReason() ?? (hasIp ? undefined : 'needs iproute2');

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** A namespace joined to the test's namespace by a veth pair; removed by the returned function. */
function testNetwork(): { ns: string; hostAddr: string; cleanup: () => void } {
  const tag = process.pid % 100000;
  const ns = `stasis-ck-${tag}`;
  const host = `vck${tag}h`;
  const peer = `vck${tag}c`;
  const net3 = `198.18.${tag % 250}`;
  const cleanup = () => {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', host], { stdio: 'ignore' });
  };
  cleanup();
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('addr', 'add', `${net3}.1/30`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('-n', ns, 'addr', 'add', `${net3}.2/30`, 'dev', peer);
    ip('-n', ns, 'link', 'set', peer, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (err) {
    cleanup();
    throw err;
  }
  return { ns, hostAddr: `${net3}.1`, cleanup };
}

test('--tcp-established: a connection to a server outside the container survives checkpoint and restore', { skip }, async (t) => {
  const network = testNetwork();
  let connections = 0;
  let data = '';
  const server = net.createServer((s) => {
    connections++;
    s.on('data', (b) => (data += b.toString('utf8')));
    s.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, network.hostAddr, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  const w = new World(
    `i=0; while true; do i=$((i+1)); echo $i > /tmp/count; echo $i; usleep 50000; done | nc ${network.hostAddr} ${port}`,
    (spec) => {
      spec.linux.namespaces = spec.linux.namespaces.map((n: { type: string }) =>
        n.type === 'network' ? { type: 'network', path: `/run/netns/${network.ns}` } : n,
      );
    },
  );
  t.after(async () => {
    await w.cleanup();
    server.close();
    network.cleanup();
  });
  const lines = () => data.split('\n').filter(Boolean).map(Number);
  const id = w.id('tcp-ext');
  w.ok(['run', '-d', '--bundle', w.bundle, id]);
  await waitFor('data from the container', () => lines().length > 3);

  const images = w.images('images');
  w.ok(['checkpoint', '--tcp-established', '--image-path', images, id]);
  const atDump = lines().length;
  assert.equal(w.state(id), undefined);
  w.ok(['restore', '-d', '--tcp-established', '--bundle', w.bundle, '--image-path', images, id]);
  await waitFor('data over the restored connection', () => lines().length > atDump + 5);
  const got = lines();
  assert.deepEqual(got, Array.from({ length: got.length }, (_, k) => k + 1), 'the stream lost or repeated lines');
  assert.equal(connections, 1, 'the container connected again instead of keeping its connection');
});
