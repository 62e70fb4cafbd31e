/**
 * The `cgroup` mount of the default spec, on either cgroup version, with and without a cgroup namespace: the
 * container sees its cgroup tree read-only, and the host's cgroup filesystem stays exactly as it was (on v2 a
 * remount without MS_BIND once made the host's whole /sys/fs/cgroup read-only).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { TestEnv } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { skipReason, version } from './support';
import type { Spec } from '../../../src/spec/types';

const skip = skipReason(bundleSkipReason());
const env = new TestEnv('cgmount');
after(() => env.dispose());

const cgroupLines = () =>
  fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4]?.startsWith('/sys/fs/cgroup')).sort();

for (const cgroupNs of [true, false]) {
  test(`${version}: cgroup mount ${cgroupNs ? 'with' : 'without'} a cgroup namespace is read-only inside and leaves the host alone`, { skip, timeout: 300_000 }, async (t) => {
    const before = cgroupLines();
    const tweak = (s: Spec) => {
      s.mounts = (s.mounts ?? []).filter((m) => m.destination !== '/sys/fs/cgroup');
      s.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
      const others = (s.linux!.namespaces ?? []).filter((n) => n.type !== 'cgroup');
      s.linux!.namespaces = cgroupNs ? [...others, { type: 'cgroup' }] : others;
    };
    const { r } = await env.runOnce(t, {
      args: ['sh', '-c', 'ls /sys/fs/cgroup | head -3; if mkdir /sys/fs/cgroup/x 2>/dev/null; then echo WRITABLE; else echo READONLY; fi'],
      tweak,
    });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /READONLY/);
    assert.notEqual(r.stdout.split('\n')[0], '', 'the container sees its cgroup tree');
    assert.deepEqual(cgroupLines(), before, "the host's cgroup mounts (and their options) are unchanged");
    const probe = `/sys/fs/cgroup/${fs.existsSync('/sys/fs/cgroup/memory') ? 'memory/' : ''}stasis-cgmount-probe-${process.pid}`;
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
  });
}
