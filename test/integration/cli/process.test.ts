/**
 * The container process: sysctl, rlimits, capabilities, no_new_privs, umask, groups, cwd, env,
 * oom_score_adj and seccomp — each read back from inside the container.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { TestEnv, leakTest } from '../../support/env';
import { bundleSkipReason } from '../../support/bundle';
import { show } from '../../support/run';
import { decodeCaps, parseStatus } from '../../support/proc';

const skip = bundleSkipReason();
const env = new TestEnv('proc');
after(() => env.dispose());

const CAP = { CHOWN: 0, KILL: 5, NET_BIND_SERVICE: 10, NET_RAW: 13, SYS_ADMIN: 21, AUDIT_WRITE: 29 };

test('sysctl net.ipv4.ip_forward is set inside the network namespace', { skip }, async (t) => {
  const hostBefore = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
  const { r } = await env.runOnce(t, {
    args: ['cat', '/proc/sys/net/ipv4/ip_forward'],
    tweak: (s) => (s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' }),
  });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, '1\n');
  assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), hostBefore, 'the host value is untouched');
});

test('rlimits: ulimit -n shows the configured value', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'ulimit -n; grep "Max open files" /proc/self/limits'],
    tweak: (s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 4321, hard: 5432 }]),
  });
  assert.equal(r.code, 0, show(r));
  const [soft, limits] = r.stdout.trim().split('\n');
  assert.equal(soft, '4321');
  assert.match(limits, /Max open files\s+4321\s+5432\s+files/);
});

test('capabilities: CapEff/CapPrm/CapBnd/CapInh/CapAmb decode to the configured sets', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['cat', '/proc/self/status'],
    tweak: (s) => {
      s.process!.noNewPrivileges = false; // ambient caps need them in the inheritable set; no other interplay
      s.process!.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW', 'CAP_AUDIT_WRITE'],
        effective: ['CAP_CHOWN', 'CAP_KILL'],
        permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'],
        inheritable: ['CAP_NET_RAW'],
        ambient: ['CAP_NET_RAW'],
      };
    },
  });
  assert.equal(r.code, 0, show(r));
  const st = parseStatus(r.stdout);
  assert.deepEqual(decodeCaps(st.CapBnd), [CAP.CHOWN, CAP.KILL, CAP.NET_RAW, CAP.AUDIT_WRITE]);
  // execve as root: permitted = effective = (inheritable & bounding) | permitted-of-file (all for root).
  // runc semantics for uid 0: the kernel raises effective to the bounding-limited full set on exec unless
  // the process has SECBIT_NOROOT; so check what is guaranteed: the configured sets are present and nothing
  // outside the bounding set is.
  for (const set of [st.CapEff, st.CapPrm]) {
    for (const c of decodeCaps(set)) assert.ok([CAP.CHOWN, CAP.KILL, CAP.NET_RAW, CAP.AUDIT_WRITE].includes(c), `cap ${c} outside bounding`);
    assert.ok(decodeCaps(set).includes(CAP.CHOWN) && decodeCaps(set).includes(CAP.KILL));
  }
  assert.deepEqual(decodeCaps(st.CapInh), [CAP.NET_RAW]);
  assert.deepEqual(decodeCaps(st.CapAmb), [CAP.NET_RAW]);
});

test('capabilities of a non-root user are exactly the configured ones', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['cat', '/proc/self/status'],
    tweak: (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.capabilities = {
        bounding: ['CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW'],
        effective: ['CAP_NET_BIND_SERVICE'],
        permitted: ['CAP_NET_BIND_SERVICE'],
        inheritable: ['CAP_NET_BIND_SERVICE'],
        ambient: ['CAP_NET_BIND_SERVICE'],
      };
    },
  });
  assert.equal(r.code, 0, show(r));
  const st = parseStatus(r.stdout);
  assert.deepEqual(decodeCaps(st.CapBnd), [CAP.KILL, CAP.NET_BIND_SERVICE, CAP.NET_RAW]);
  assert.deepEqual(decodeCaps(st.CapEff), [CAP.NET_BIND_SERVICE]);
  assert.deepEqual(decodeCaps(st.CapPrm), [CAP.NET_BIND_SERVICE]);
  assert.deepEqual(decodeCaps(st.CapAmb), [CAP.NET_BIND_SERVICE]);
  assert.equal(st.Uid, '1000\t1000\t1000\t1000');
});

test('noNewPrivileges sets NoNewPrivs: 1, and 0 without it', { skip }, async (t) => {
  const on = await env.runOnce(t, { args: ['grep', 'NoNewPrivs', '/proc/self/status'], tweak: (s) => (s.process!.noNewPrivileges = true) });
  assert.equal(on.r.stdout, 'NoNewPrivs:\t1\n', show(on.r));
  const off = await env.runOnce(t, { args: ['grep', 'NoNewPrivs', '/proc/self/status'], tweak: (s) => (s.process!.noNewPrivileges = false) });
  assert.equal(off.r.stdout, 'NoNewPrivs:\t0\n', show(off.r));
});

test('umask, additionalGids, cwd and env', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'umask; grep -E "^(Groups|Gid|Umask):" /proc/self/status; pwd; echo "$ONE|$TWO"'],
    tweak: (s) => {
      s.process!.user = { uid: 0, gid: 0, umask: 0o027, additionalGids: [10, 1000, 4242] };
      s.process!.cwd = '/home/user';
      s.process!.env = ['PATH=/bin', 'ONE=1', 'TWO=two words'];
    },
  });
  assert.equal(r.code, 0, show(r));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines[0], '0027');
  const st = parseStatus(lines.slice(1, 4).join('\n'));
  assert.equal(st.Umask, '0027');
  assert.equal(st.Gid, '0\t0\t0\t0');
  assert.deepEqual(st.Groups.split(/\s+/).map(Number).sort((a, b) => a - b), [10, 1000, 4242]);
  assert.equal(lines[4], '/home/user');
  assert.equal(lines[5], '1|two words');
});

test('a cwd that does not exist is created or refused, never silently ignored', { skip }, async (t) => {
  const { r } = await env.runOnce(t, { args: ['pwd'], tweak: (s) => (s.process!.cwd = '/no/such/dir') });
  if (r.code === 0) assert.equal(r.stdout, '/no/such/dir\n');
  else assert.match(r.stderr, /\/no\/such\/dir/, show(r));
});

test('oomScoreAdj shows in /proc/self/oom_score_adj', { skip }, async (t) => {
  const { r } = await env.runOnce(t, { args: ['cat', '/proc/self/oom_score_adj'], tweak: (s) => (s.process!.oomScoreAdj = 345) });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, '345\n');
});

test('seccomp: a rule returning EPERM for mkdir', { skip }, async (t) => {
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'mkdir /tmp/d; echo mkdir=$?; echo still-running'],
    tweak: (s) => {
      s.root!.readonly = false;
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      };
    },
  });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /Operation not permitted/);
  assert.match(r.stdout, /mkdir=1\nstill-running/);
  const st = await env.runOnce(t, {
    args: ['grep', 'Seccomp:', '/proc/self/status'],
    tweak: (s) => (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }),
  });
  assert.equal(st.r.stdout, 'Seccomp:\t2\n', show(st.r));
});

test('seccomp: default action errno with defaultErrnoRet, allow-listing the rest', { skip }, async (t) => {
  // Allow every x86_64 syscall except mkdir/mkdirat, which then hit the default action.
  const header = fs.readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  const names = [...header.matchAll(/#define __NR_(\w+)\s+\d+/g)].map((m) => m[1]).filter((n) => n !== 'mkdir' && n !== 'mkdirat');
  const { r } = await env.runOnce(t, {
    args: ['sh', '-c', 'mkdir /tmp/d; echo mkdir=$?'],
    tweak: (s) => {
      s.root!.readonly = false;
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 13, // EACCES, so that it is not confused with EPERM
        architectures: ['SCMP_ARCH_X86_64'],
        syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }],
      };
    },
  });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stderr, /Permission denied/);
  assert.match(r.stdout, /mkdir=1/);
});

leakTest(env);
