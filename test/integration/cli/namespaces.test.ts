/** Namespaces: uts, pid, network, ipc, user (with id mappings) and joining a namespace by path. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { parseStatus, readOr } from '../../support/proc';
import type { Spec } from '../../../src/spec/types';

const skip = bundleSkipReason();
const env = new TestEnv('ns');
after(() => env.dispose());

const hostNs = (kind: string) => fs.readlinkSync(`/proc/self/ns/${kind}`);
const withoutNs = (s: Spec, type: string) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== type));

test('uts namespace: hostname and domainname from the spec', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'hostname; cat /proc/sys/kernel/domainname; readlink /proc/self/ns/uts'],
    tweak: (s) => {
      s.hostname = 'ns-test-host';
      s.domainname = 'example.test';
    },
  });
  assert.equal(r.code, 0, show(r));
  const [host, domain, ns] = r.stdout.trim().split('\n');
  assert.equal(host, 'ns-test-host');
  assert.equal(domain, 'example.test');
  assert.notEqual(ns, hostNs('uts'));
  assert.notEqual(execFileSync('hostname', { encoding: 'utf8' }).trim(), 'ns-test-host', 'the host keeps its name');
});

test('pid namespace: the process is pid 1 and sees only its own processes', { skip }, async (t) => {
  const { r } = await env.runOnce(t, { args: ['sh', '-c', 'echo $$; ls /proc | grep -c "^[0-9]"'] });
  assert.equal(r.code, 0, show(r));
  const [pid, count] = r.stdout.trim().split('\n');
  assert.equal(pid, '1');
  assert.ok(Number(count) <= 3, `processes visible: ${count}`);
});

test('network namespace: only lo', { skip }, async (t) => {
  const { r } = await env.runOnce(t, { args: ['sh', '-c', 'ls /sys/class/net; readlink /proc/self/ns/net'] });
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.trim().split('\n');
  assert.deepEqual(lines.slice(0, -1), ['lo']);
  assert.notEqual(lines[lines.length - 1], hostNs('net'));
});

test('ipc, mount and cgroup namespaces are new; a type left out of the spec is shared', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'for n in ipc mnt cgroup uts; do readlink /proc/self/ns/$n; done'],
    tweak: (s) => {
      withoutNs(s, 'uts');
      delete s.hostname; // a hostname needs a uts namespace
    },
  });
  assert.equal(r.code, 0, show(r));
  const [ipc, mnt, cgroup, uts] = r.stdout.trim().split('\n');
  assert.notEqual(ipc, hostNs('ipc'));
  assert.notEqual(mnt, hostNs('mnt'));
  assert.notEqual(cgroup, hostNs('cgroup'));
  assert.equal(uts, hostNs('uts'), 'no uts entry: the host uts namespace');
});

test('user namespace: root inside, the mapped uid outside', { skip }, async (t) => {
  const { c, pid } = await env.startDetached(t, {
    tweak: (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    },
  });
  const st = fs.statSync(`/proc/${pid}`);
  assert.equal(st.uid, 100000, 'the host sees the mapped uid');
  assert.equal(st.gid, 100000);
  assert.equal(parseStatus(readOr(`/proc/${pid}/status`) ?? '').Uid, '100000\t100000\t100000\t100000');
  assert.match(readOr(`/proc/${pid}/uid_map`) ?? '', /^\s*0\s+100000\s+65536\s*$/);
  assert.notEqual(fs.readlinkSync(`/proc/${pid}/ns/user`), hostNs('user'));
  const r = await env.run(['exec', c.id, 'sh', '-c', 'id; cat /proc/self/uid_map']);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/);
  assert.match(r.stdout, /0\s+100000\s+65536/);
});

test('joining a network namespace by path', { skip }, async (t) => {
  const name = `stasis-test-${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  t.after(() => execFileSync('ip', ['netns', 'del', name]));
  execFileSync('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  const nsPath = `/var/run/netns/${name}`;
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'readlink /proc/self/ns/net; cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags'],
    tweak: (s) => {
      withoutNs(s, 'network');
      s.linux!.namespaces!.push({ type: 'network', path: nsPath });
    },
  });
  assert.equal(r.code, 0, show(r));
  const [link, , flags] = r.stdout.trim().split('\n');
  assert.equal(link, `net:[${fs.statSync(nsPath).ino}]`);
  assert.equal(Number(flags) & 1, 1, `lo is up (set from the host side): flags ${flags}`);
});

test('a namespace path that does not exist fails create cleanly', { skip }, async (t) => {
  const c = env.bundle(t, {
    args: ['true'],
    tweak: (s) => {
      withoutNs(s, 'network');
      s.linux!.namespaces!.push({ type: 'network', path: '/var/run/netns/stasis-test-missing' });
    },
  });
  const r = await env.run(['create', '-b', c.dir, c.id]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /stasis-test-missing/, show(r));
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.ok(!env.stateEntries().includes(c.id));
});

leakTest(env);
