/**
 * A throw-away Podman: every piece of state (storage, run root, tmp dir, volumes, network configs, events log)
 * lives in one temp dir, configured through flags and CONTAINERS_CONF / CONTAINERS_STORAGE_CONF so the system
 * files in /etc/containers are neither read for policy nor written. Containers get a cgroup parent of their own
 * so the cgroup dirs Podman creates can be found and removed afterwards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  CommandResult,
  buildImages,
  killCgroupProcs,
  loweredLimit,
  makeTempDir,
  noteFixedDirs,
  removeCgroupDirs,
  runCommand,
  runtimeForEngine,
  uniqueSuffix,
  unmountBelow,
  expectCode,
  uniqueName,
} from './engine-env';

/** The image every Podman test runs, imported from scripts/engines/make-images.sh's rootfs.tar. */
export const podmanImage = 'localhost/busybox:latest';

/** One private Podman instance; create with openPodman(), always close(). */
export class PodmanHarness {
  /** Cgroup parent given to every container (cgroupfs manager), removed by close(). */
  readonly cgroupParent = `/stasis-engines-podman-${uniqueSuffix}`;
  private readonly env: NodeJS.ProcessEnv;
  private readonly removeFixedDirs = noteFixedDirs(['/run/containers', '/run/containers/networks']);
  private readonly globalArgs: string[];

  /** Use openPodman(): the constructor only lays out files. */
  constructor(
    /** Temp dir holding all of this instance's state. */
    readonly dir: string,
    /** Path handed to podman --runtime (the runtime under test, or its logging wrapper). */
    readonly runtime: string,
  ) {
    const nofile = loweredLimit('Max open files', 1024);
    const nproc = loweredLimit('Max processes', 4096);
    const p = (name: string) => path.join(dir, name);
    // Root lacks CAP_SYS_RESOURCE here, so Podman's default rlimits (nofile and nproc 1048576) make every
    // runtime fail in setrlimit: lower them. netns = "none" keeps the default network off the host (no bridge,
    // no iptables rules); the port test asks for slirp4netns explicitly.
    // Podman hands `--log-format=json --log <file>` only to runtimes named in runtime_supports_json (runc,
    // crun, ...); ENGINE_PODMAN_SUPPORTS_JSON=1 adds the runtime under test so that path can be tested too.
    const supportsJson = process.env.ENGINE_PODMAN_SUPPORTS_JSON === '1'
      ? `runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "${path.basename(runtime)}"]\n`
      : '';
    fs.writeFileSync(
      p('containers.conf'),
      `[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]
log_driver = "k8s-file"
netns = "none"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${p('events.log')}"
tmp_dir = "${p('tmp')}"
volume_path = "${p('volumes')}"
${supportsJson}
[network]
network_config_dir = "${p('networks')}"
`,
    );
    // vfs: plain directory copies, so a crashed test leaves no overlay mounts behind.
    fs.writeFileSync(
      p('storage.conf'),
      `[storage]
driver = "vfs"
graphroot = "${p('root')}"
runroot = "${p('runroot')}"
`,
    );
    this.env = {
      ...process.env,
      CONTAINERS_CONF: p('containers.conf'),
      CONTAINERS_STORAGE_CONF: p('storage.conf'),
      CONTAINERS_REGISTRIES_CONF: p('registries.conf'),
    };
    fs.writeFileSync(p('registries.conf'), 'unqualified-search-registries = []\n');
    this.globalArgs = [
      '--root', p('root'),
      '--runroot', p('runroot'),
      '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs',
      '--events-backend', 'file',
      '--runtime', runtime,
    ];
  }

  /** Runs `podman <global flags> args...`. */
  podman(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    return runCommand('podman', [...this.globalArgs, ...args], { env: this.env, ...opts });
  }

  /** `podman run` with this instance's cgroup parent; args are run's own flags, the image and the command. */
  run(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
    return this.podman(['run', '--cgroup-parent', this.cgroupParent, ...args], opts);
  }

  /** Force-removes a container (for t.after): no stop grace period, errors ignored. */
  /** A container name unique to this run, force-removed when test `t` ends. */
  named(t: { after(fn: () => unknown): void }, what: string): string {
    return uniqueName(t, what, (n) => this.remove(n));
  }

  /** `podman inspect` of one Go-template field of `name` (the inspect must succeed). */
  async inspect(name: string, field: string): Promise<string> {
    const r = await this.podman(['inspect', '--format', `{{${field}}}`, name]);
    expectCode(r, 0, `inspect ${field}`);
    return r.stdout.trim();
  }

  async remove(name: string): Promise<void> {
    await this.podman(['rm', '--force', '--time', '0', '--ignore', name]);
  }

  /** Removes every container and image, unmounts leftovers, deletes the state dir and the cgroup dirs. */
  async close(): Promise<void> {
    try {
      await this.podman(['rm', '--all', '--force', '--time', '0']);
      await this.podman(['rmi', '--all', '--force']);
    } finally {
      await killCgroupProcs(this.cgroupParent);
      unmountBelow(this.dir);
      fs.rmSync(this.dir, { recursive: true, force: true });
      removeCgroupDirs(this.cgroupParent);
      this.removeFixedDirs();
    }
  }
}

/** Creates a private Podman with the busybox image imported; throws (after cleaning up) if the import fails. */
export async function openPodman(): Promise<PodmanHarness> {
  const dir = makeTempDir('stasis-engine-podman-');
  const h = new PodmanHarness(dir, runtimeForEngine(dir, 'podman'));
  const imported = await h.podman(['import', buildImages().rootfsTar, podmanImage]);
  if (imported.code !== 0) {
    await h.close();
    throw new Error(`podman import failed: ${imported.stderr.trim()}`);
  }
  return h;
}
