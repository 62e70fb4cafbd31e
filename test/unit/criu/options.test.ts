import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLONE_NEWNET,
  CriuOptionError,
  UNSET_FD,
  checkpointPlan,
  parsePageServer,
  restorePlan,
} from '../../../src/criu/options';

test('checkpoint defaults: dump, work dir = image dir, debug log, notify scripts', () => {
  const plan = checkpointPlan({ imagePath: 'ckpt' }, '/var/run/x');
  assert.equal(plan.type, 'DUMP');
  assert.equal(plan.imagesDir, '/var/run/x/ckpt');
  assert.equal(plan.workDir, '/var/run/x/ckpt');
  assert.equal(plan.logPath, '/var/run/x/ckpt/dump.log');
  assert.deepEqual(plan.opts, { imagesDirFd: UNSET_FD, logLevel: 4, logFile: 'dump.log', notifyScripts: true });
  assert.deepEqual(plan.features, {});
  assert.equal(plan.statusFd, undefined);
});

test('checkpoint flags map to their criu_opts fields', () => {
  const plan = checkpointPlan(
    {
      imagePath: '/img',
      workPath: '/work',
      leaveRunning: true,
      tcpEstablished: true,
      tcpSkipInFlight: true,
      linkRemap: true,
      extUnixSk: true,
      shellJob: true,
      fileLocks: true,
      autoDedup: true,
      manageCgroupsMode: 'ignore',
      emptyNs: ['network'],
      networkLock: 'nftables',
      pageServer: '10.0.0.2:27',
      statusFd: 7,
    },
    '/',
  );
  assert.equal(plan.workDir, '/work');
  assert.equal(plan.logPath, '/work/dump.log');
  assert.equal(plan.statusFd, 7);
  assert.deepEqual(plan.opts, {
    imagesDirFd: UNSET_FD,
    logLevel: 4,
    logFile: 'dump.log',
    notifyScripts: true,
    leaveRunning: true,
    tcpEstablished: true,
    tcpSkipInFlight: true,
    linkRemap: true,
    extUnixSk: true,
    shellJob: true,
    fileLocks: true,
    autoDedup: true,
    manageCgroupsMode: 'IGNORE',
    emptyNs: CLONE_NEWNET,
    networkLock: 'NFTABLES',
    ps: { address: '10.0.0.2', port: 27 },
  });
});

test('every manage-cgroups-mode and network-lock value maps to its enum name', () => {
  for (const [flag, name] of [['soft', 'SOFT'], ['full', 'FULL'], ['strict', 'STRICT'], ['ignore', 'IGNORE']]) {
    assert.equal(checkpointPlan({ imagePath: '/i', manageCgroupsMode: flag }).opts.manageCgroupsMode, name);
  }
  for (const [flag, name] of [['iptables', 'IPTABLES'], ['nftables', 'NFTABLES'], ['skip', 'SKIP']]) {
    assert.equal(restorePlan({ imagePath: '/i', networkLock: flag }).opts.networkLock, name);
  }
});

test('pre-dump asks for memory tracking and logs to pre-dump.log', () => {
  const plan = checkpointPlan({ imagePath: '/ckpt/2', preDump: true, parentPath: '../1' });
  assert.equal(plan.type, 'PRE_DUMP');
  assert.equal(plan.opts.trackMem, true);
  assert.equal(plan.opts.parentImg, '../1');
  assert.equal(plan.opts.logFile, 'pre-dump.log');
  assert.deepEqual(plan.features, { memTrack: true });
});

test('an absolute parent-path becomes relative to the image path', () => {
  const plan = checkpointPlan({ imagePath: '/ckpt/final', parentPath: '/ckpt/pre1' });
  assert.equal(plan.opts.parentImg, '../pre1');
  assert.equal(plan.opts.trackMem, true);
  assert.equal(plan.type, 'DUMP');
});

test('lazy pages ask for the lazy_pages feature', () => {
  const plan = checkpointPlan({ imagePath: '/i', lazyPages: true, pageServer: ':27' });
  assert.equal(plan.opts.lazyPages, true);
  assert.deepEqual(plan.opts.ps, { address: '', port: 27 });
  assert.deepEqual(plan.features, { lazyPages: true });
});

test('restore: rst_sibling, restore.log, tcp-close and lsm settings', () => {
  const plan = restorePlan({
    imagePath: '/img',
    tcpClose: true,
    lsmProfile: 'apparmor:stasis-default',
    lsmMountContext: 'system_u:object_r:container_file_t:s0',
    manageCgroupsMode: 'soft',
  });
  assert.equal(plan.type, 'RESTORE');
  assert.equal(plan.logPath, '/img/restore.log');
  assert.deepEqual(plan.opts, {
    imagesDirFd: UNSET_FD,
    logLevel: 4,
    logFile: 'restore.log',
    notifyScripts: true,
    manageCgroupsMode: 'SOFT',
    tcpClose: true,
    rstSibling: true,
    lsmProfile: 'apparmor:stasis-default',
    lsmMountContext: 'system_u:object_r:container_file_t:s0',
  });
});

test('page-server addresses: IPv4, IPv6 in brackets, host names', () => {
  assert.deepEqual(parsePageServer('[::1]:1234'), { address: '::1', port: 1234 });
  assert.deepEqual(parsePageServer('example.org:65535'), { address: 'example.org', port: 65535 });
});

/** Asserts fn throws a CriuOptionError whose one-line message matches re. */
function rejects(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CriuOptionError, `not a CriuOptionError: ${String(err)}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), 'message spans lines');
    return true;
  });
}

test('invalid flags fail with one line naming the flag', () => {
  rejects(() => checkpointPlan({ imagePath: '' }), /^image-path: must not be empty$/);
  rejects(() => checkpointPlan({ imagePath: '/i', workPath: '' }), /^work-path: must not be empty$/);
  rejects(
    () => checkpointPlan({ imagePath: '/i', manageCgroupsMode: 'hard' }),
    /^manage-cgroups-mode: invalid value "hard" \(want soft, full, strict or ignore\)$/,
  );
  rejects(() => restorePlan({ imagePath: '/i', networkLock: 'pf' }), /^network-lock: invalid value "pf"/);
  rejects(() => checkpointPlan({ imagePath: '/i', emptyNs: ['pid'] }), /^empty-ns: invalid value "pid"/);
  rejects(() => checkpointPlan({ imagePath: '/i', pageServer: 'host' }), /^page-server: "host" is not ADDR:PORT$/);
  rejects(() => checkpointPlan({ imagePath: '/i', pageServer: 'h:0' }), /^page-server: port 0 is out of range/);
  rejects(() => checkpointPlan({ imagePath: '/i', pageServer: 'h:70000' }), /^page-server: port 70000/);
  rejects(() => checkpointPlan({ imagePath: '/i', statusFd: -1 }), /^status-fd: /);
  rejects(() => checkpointPlan({ imagePath: '/i', parentPath: '' }), /^parent-path: must not be empty$/);
  rejects(() => checkpointPlan({ imagePath: '/i', parentPath: '/i' }), /^parent-path: must differ from image-path$/);
  rejects(() => checkpointPlan({ imagePath: '/i', preDump: true, lazyPages: true }), /^pre-dump: cannot be combined/);
  rejects(() => restorePlan({ imagePath: '/i', tcpClose: true, tcpEstablished: true }), /^tcp-close: /);
  rejects(() => restorePlan({ imagePath: '/i', lsmProfile: 'smack:x' }), /^lsm-profile: "smack:x" is not TYPE:NAME/);
  rejects(() => restorePlan({ imagePath: '/i', lsmProfile: 'apparmor' }), /^lsm-profile: /);
  rejects(() => restorePlan({ imagePath: '/i', lsmMountContext: '' }), /^lsm-mount-context: must not be empty$/);
});
