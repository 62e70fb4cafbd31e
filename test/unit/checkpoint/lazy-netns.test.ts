import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lazyDaemonArgs, lazyPageSource } from '../../../src/runtime/restore-lazy';
import { EXTERNAL_NETNS_KEY, externalNetnsEntry, joinedNetnsPath } from '../../../src/runtime/checkpoint-netns';
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
