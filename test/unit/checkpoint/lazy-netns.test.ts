import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lazyDaemonArgs, lazyPageSource } from '../../../src/runtime/restore-lazy';
import { EXTERNAL_NETNS_KEY, externalNetnsEntry, joinedNetnsPath, netDevNames, pristineNetns } from '../../../src/runtime/checkpoint-netns';
import { loopbackUpSteps } from '../../../src/runtime/restore-prepare';
import type { Spec } from '../../../src/spec/types';

test('the lazy page source: restore flag first, else the checkpoint\'s address, any-address means this host', () => {
  assert.deepEqual(lazyPageSource('10.0.0.5:27', '127.0.0.1:99'), { address: '10.0.0.5', port: 27 });
  assert.deepEqual(lazyPageSource(undefined, '127.0.0.1:99'), { address: '127.0.0.1', port: 99 });
  assert.deepEqual(lazyPageSource(undefined, ':99'), { address: '127.0.0.1', port: 99 });
  assert.deepEqual(lazyPageSource(undefined, '0.0.0.0:99'), { address: '127.0.0.1', port: 99 });
  assert.deepEqual(lazyPageSource(undefined, '[::]:99'), { address: '::1', port: 99 });
  assert.equal(lazyPageSource(undefined, undefined), undefined, 'a normal dump: pages come from the images');
  assert.equal(lazyPageSource(undefined, ''), undefined);
  assert.throws(() => lazyPageSource('nope', undefined), /^CriuOptionError: page-server: "nope" is not ADDR:PORT/);
});

test('the lazy-pages daemon shares the work directory and daemonizes', () => {
  const args = lazyDaemonArgs('/img', '/work', { address: '127.0.0.1', port: 27 });
  assert.deepEqual(args.slice(0, 6), ['lazy-pages', '--images-dir', '/img', '--work-dir', '/work', '--daemon']);
  assert.deepEqual(args.slice(-5), ['--page-server', '--address', '127.0.0.1', '--port', '27']);
  assert.ok(!lazyDaemonArgs('/img', '/work', undefined).includes('--page-server'));
});

test('a network namespace joined by path is external, under runc\'s key', () => {
  const spec = (namespaces: unknown[]): Spec => ({ ociVersion: '1.0.2', linux: { namespaces } }) as unknown as Spec;
  assert.equal(joinedNetnsPath(spec([{ type: 'network' }, { type: 'mount' }])), undefined);
  assert.equal(joinedNetnsPath(spec([{ type: 'pid', path: '/proc/1/ns/pid' }])), undefined);
  assert.equal(joinedNetnsPath(spec([{ type: 'network', path: '/run/netns/x' }])), '/run/netns/x');
  assert.equal(externalNetnsEntry(4026531992), `net[4026531992]:${EXTERNAL_NETNS_KEY}`);
  assert.equal(EXTERNAL_NETNS_KEY, 'extRootNetNS');
});

test('a network namespace is pristine only when stasis made it, it holds only lo and nothing may change it', () => {
  const netDev = 'Inter-|   Receive\n face |bytes\n    lo: 0 0 0\n';
  const base = (over: Record<string, unknown> = {}): Spec =>
    ({
      ociVersion: '1.0.2',
      process: { args: ['sh'], cwd: '/', capabilities: { bounding: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'] } },
      linux: { namespaces: [{ type: 'network' }], ...over },
    }) as unknown as Spec;
  assert.deepEqual(netDevNames(`${netDev}  veth0: 1 2 3\n`), ['lo', 'veth0']);
  assert.equal(pristineNetns(base(), netDev), true);
  assert.equal(pristineNetns(base(), `${netDev}  eth0: 1 2\n`), false, 'an interface a hook moved in');
  assert.equal(pristineNetns(base({ namespaces: [{ type: 'network', path: '/run/netns/x' }] }), netDev), false, 'joined by path');
  assert.equal(pristineNetns(base({ namespaces: [] }), netDev), false, 'the host network');
  assert.equal(pristineNetns(base({ sysctl: { 'net.ipv4.ip_forward': '1' } }), netDev), false, 'net.* sysctls');
  assert.equal(pristineNetns(base({ sysctl: { 'kernel.msgmax': '8192' } }), netDev), true);
  const admin = base();
  admin.process!.capabilities!.bounding!.push('CAP_NET_ADMIN');
  assert.equal(pristineNetns(admin, netDev), false, 'CAP_NET_ADMIN');
});

test('lo is brought up by joining the restored task\'s network namespace', () => {
  const steps = loopbackUpSteps(1234);
  assert.deepEqual(steps.map((s) => s.op), ['SETNS', 'LOOPBACK_UP', 'READY']);
  assert.match(steps[0].what, /1234/);
});
