/**
 * A private containerd for one test file: own root, state, socket and config in a temp dir, a namespace and
 * cgroup prefix of its own, and a PATH whose first entry holds a `runc` that is the runtime under test (how a
 * stock runc shim v2 with no options picks its runtime). The legacy io.containerd.runtime.v1.linux plugin is
 * configured with `runtime = <runtime under test>`: the one way bookworm's containerd 1.6 takes a runtime
 * binary from its config file outside the CRI plugin. stop() removes tasks, containers, images, shims,
 * mounts and cgroup dirs, in that order, whatever state a failed test left.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CommandResult,
  buildImages,
  killCgroupProcs,
  makeTempDir,
  noteFixedDirs,
  removeCgroupDirs,
  runCommand,
  runtimeForEngine,
  uniqueSuffix,
  unmountBelow,
  waitFor,
  expectCode,
  uniqueName,
} from './engine-env';

/** Image name the OCI archive from scripts/engines/make-images.sh carries. */
export const containerdImage = 'localhost/busybox:latest';

/** One running private containerd; create with startContainerd(), always stop(). */
export class ContainerdHarness {
  /** containerd namespace; ctr also uses it as the first cgroup path element (/<namespace>/<id>). */
  readonly namespace = `stasis-engines-${uniqueSuffix}`;
  /** gRPC socket of this instance. */
  readonly socket: string;
  /** Path handed to the shims as the runtime (the runtime under test, or its logging wrapper). */
  readonly runtime: string;
  /** --runc-root for the v2 shim, so runtime state stays in the temp dir instead of /run/containerd/runc. */
  readonly runcRoot: string;
  /** --fifo-dir for ctr run/exec, so IO fifos stay in the temp dir instead of /run/containerd/fifo. */
  readonly fifoDir: string;
  private daemon?: ChildProcess;
  private readonly removeFixedDirs = noteFixedDirs(['/run/containerd', '/run/containerd/s']);

  /** Use startContainerd(): the constructor only writes the config. */
  constructor(readonly dir: string) {
    const p = (name: string) => path.join(dir, name);
    this.socket = p('containerd.sock');
    this.runtime = runtimeForEngine(dir, 'containerd');
    this.runcRoot = p('runc-root');
    this.fifoDir = p('fifo');
    // The PATH and config-file routes go through tiny wrappers that leave a marker, so a test can prove the
    // runtime under test ran (and not /usr/sbin/runc, which is also on PATH).
    fs.mkdirSync(p('bin'));
    writeMarkerWrapper(p('bin/runc'), p('used-via-path'), this.runtime);
    writeMarkerWrapper(p('runtime-v1'), p('used-via-v1-config'), this.runtime);
    // Plugins that would reach outside the temp dir or need kernel features we do not use are disabled;
    // CRI in particular would want CNI and a sandbox image. Every address is private or off.
    fs.writeFileSync(
      p('config.toml'),
      `version = 2
root = "${p('root')}"
state = "${p('state')}"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${this.socket}"
[ttrpc]
  address = ""
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${p('opt')}"

[plugins."io.containerd.runtime.v1.linux"]
  shim = "containerd-shim"
  runtime = "${p('runtime-v1')}"
  runtime_root = "${p('runtime-v1-root')}"
  no_shim = false
  shim_debug = false
`,
    );
  }

  /** The daemon's own log (stdout+stderr), for assertion messages. */
  log(): string {
    try {
      return fs.readFileSync(path.join(this.dir, 'containerd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Starts the daemon and waits until it answers `ctr version`. */
  async start(): Promise<void> {
    const logFd = fs.openSync(path.join(this.dir, 'containerd.log'), 'a');
    this.daemon = spawn('containerd', ['--config', path.join(this.dir, 'config.toml')], {
      env: { ...process.env, PATH: `${path.join(this.dir, 'bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
      stdio: ['ignore', logFd, logFd],
    });
    fs.closeSync(logFd);
    const up = await waitFor(async () => {
      if (this.daemon?.exitCode !== null) return false;
      return (await this.ctr(['version'], { timeoutMs: 2000 })).code === 0 ? true : undefined;
    }, 15_000, 100);
    if (up !== true) throw new Error(`private containerd did not start: ${this.log().slice(-2000)}`);
  }

  /** Runs `ctr --address <ours> --namespace <ours> args...`. */
  ctr(args: string[], opts: { timeoutMs?: number } = {}): Promise<CommandResult> {
    return runCommand('ctr', ['--address', this.socket, '--namespace', this.namespace, ...args], opts);
  }

  /** Flags that keep a v2-shim container's runtime state and IO fifos in the temp dir. */
  privateRunFlags(): string[] {
    return ['--runc-root', this.runcRoot, '--fifo-dir', this.fifoDir];
  }

  /** True once the runtime under test was run through the named route's wrapper. */
  used(route: 'path' | 'v1-config'): boolean {
    return fs.existsSync(path.join(this.dir, route === 'path' ? 'used-via-path' : 'used-via-v1-config'));
  }

  /** Kills and deletes one container's task and the container (for t.after); errors ignored. */
  /** A container id unique to this run, removed when test `t` ends. */
  named(t: { after(fn: () => unknown): void }, what: string): string {
    return uniqueName(t, what, (id) => this.remove(id));
  }

  /** Asserts exit status `code`, showing the command's output and the tail of containerd's log. */
  expectCode(r: CommandResult, code: number, what: string): void {
    expectCode(r, code, what, `\n--- containerd log tail ---\n${this.log().slice(-1500)}`);
  }

  async remove(id: string): Promise<void> {
    await this.ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', id]);
    await waitFor(async () => {
      const r = await this.ctr(['tasks', 'list']);
      return r.stdout.split('\n').some((l) => l.startsWith(`${id} `) && /RUNNING|PAUSED/.test(l)) ? undefined : true;
    }, 5000);
    await this.ctr(['tasks', 'delete', '--force', id]);
    await this.ctr(['containers', 'delete', id]);
  }

  /** Removes everything this instance made, then stops it and deletes the temp dir. */
  async stop(): Promise<void> {
    try {
      if (this.daemon && this.daemon.exitCode === null) {
        const containers = await this.ctr(['containers', 'list', '--quiet']);
        for (const id of containers.stdout.split('\n').filter(Boolean)) await this.remove(id);
        await this.ctr(['images', 'remove', containerdImage]);
      }
    } finally {
      await this.stopDaemon();
      this.killOwnShims();
      await killCgroupProcs(`/${this.namespace}`);
      unmountBelow(this.dir);
      fs.rmSync(this.dir, { recursive: true, force: true });
      removeCgroupDirs(`/${this.namespace}`);
      this.removeFixedDirs();
    }
  }

  private async stopDaemon(): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const gone = new Promise((resolve) => d.once('exit', resolve));
    d.kill('SIGTERM');
    const timer = setTimeout(() => d.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  }

  /** Shims outlive containerd by design; any still serving our socket's containers are ours to end. */
  private killOwnShims(): void {
    for (const pid of fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      let argv: string[];
      try {
        argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (!/containerd-shim/.test(argv[0] ?? '')) continue;
      if (!argv.includes(this.socket) && !argv.includes(this.namespace)) continue;
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

/** Writes a bash script at file that touches marker and execs target with the same arguments. */
function writeMarkerWrapper(file: string, marker: string, target: string): void {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  fs.writeFileSync(file, `#!/bin/bash\n: >>${q(marker)}\nexec ${q(target)} "$@"\n`, { mode: 0o755 });
}

/** Starts a private containerd with the busybox OCI archive imported; cleans up and throws on failure. */
export async function startContainerd(): Promise<ContainerdHarness> {
  const h = new ContainerdHarness(makeTempDir('stasis-engine-containerd-'));
  try {
    await h.start();
    const imported = await h.ctr(['images', 'import', buildImages().ociTar]);
    if (imported.code !== 0) throw new Error(`ctr images import failed: ${imported.stderr.trim()}`);
    return h;
  } catch (err) {
    await h.stop();
    throw err;
  }
}
