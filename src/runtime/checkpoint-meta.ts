/**
 * stasis's own note in the image directory, `stasis-checkpoint.json`: what restore needs that CRIU's
 * images do not say. Images without it (made by runc or plain CRIU) still restore, with defaults.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExternalStdio } from './descriptors';
import { isCgroupTmpfsLayout, type CgroupTmpfsLayout, type DumpExternal } from './checkpoint-mounts';
import { isEmptyTmpfsList, type EmptyTmpfs } from './checkpoint-empty-tmpfs';
import type { MountPolicyEntry } from './mount-policy';
import type { RootfsCapture } from './checkpoint-portable';
import { RuntimeError, errnoText, isErrno } from './errors';

/** File name in the image directory. */
export const CHECKPOINT_META_FILE = 'stasis-checkpoint.json';

/** The note's content. */
export interface CheckpointMeta {
  version: 1;
  /** Id of the container that was checkpointed. */
  id: string;
  /** RFC 3339 time of the dump. */
  at: string;
  /**
   * Status before the dump. stasis freezes the cgroup itself, so CRIU records "FROZEN" for every dump; a
   * container that was running must be thawed after restore, a paused one stays paused.
   */
  status: 'running' | 'paused';
  /**
   * The freezer state CRIU's cgroup image records for the container's cgroup: FROZEN when stasis froze it
   * for the dump (the default) or it was paused, THAWED when CRIU froze a running container itself
   * (checkpoint --manage-cgroups-mode full). Missing in older notes: FROZEN. `restore --manage-cgroups-mode
   * full` writes it back before the tasks resume, so it needs THAWED.
   */
  imageFreezer?: 'FROZEN' | 'THAWED';
  /** Stdio fds on host files, left external in the dump. */
  externalStdio: ExternalStdio[];
  /** External mounts of the dump (for diagnostics). */
  externalMounts: DumpExternal[];
  /** The container had a terminal (restore then needs --console-socket). */
  terminal: boolean;
  /**
   * Set for a lazy-pages dump: the memory is not in the images but served by the dumping CRIU at
   * `pageServer` (ADDR:PORT as given to checkpoint) until a restore has pulled every page.
   */
  lazyPages?: { pageServer: string };
  /** The container joined its network namespace by path; it was left out of the dump (checkpoint-netns.ts). */
  externalNetns?: boolean;
  /**
   * The container's own network namespace was pristine and left out of the dump (empty_ns): restore asks
   * CRIU for an empty one too and brings lo up in it (checkpoint-netns.ts).
   */
  pristineNetns?: boolean;
  /**
   * The container's own network namespace was pristine and CRIU ran inside it, so the images hold no
   * network namespace at all: restore runs CRIU in a fresh one with lo up, where the tasks are restored
   * (criu-start.ts). Set instead of pristineNetns.
   */
  criuNetns?: boolean;
  /** The v1 cgroup tmpfs was left external: restore rebuilds it from this layout (checkpoint-mounts.ts). */
  cgroupTmpfs?: CgroupTmpfsLayout;
  /** tmpfs mounts found empty at dump and left external: restore mounts fresh ones (checkpoint-empty-tmpfs.ts). */
  emptyTmpfs?: EmptyTmpfs[];
  /** What became of every mount (mount-policy.ts); restore maps exactly the external ones it lists. */
  mounts?: MountPolicyEntry[];
  /** For an exported checkpoint: how the root filesystem's changes were recorded. */
  rootfs?: RootfsCapture;
}

/** Writes the note. */
export function writeCheckpointMeta(imagesDir: string, meta: CheckpointMeta): void {
  fs.writeFileSync(path.join(imagesDir, CHECKPOINT_META_FILE), JSON.stringify(meta, null, 2), { mode: 0o600 });
}

/** Checks parsed JSON has the note's shape; `file` names the source in errors. */
export function parseCheckpointMeta(text: string, file: string): CheckpointMeta {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new RuntimeError('invalid-spec', `${file} is corrupt: not valid JSON`);
  }
  const m = v as Partial<CheckpointMeta> | null;
  if (
    !m ||
    typeof m !== 'object' ||
    m.version !== 1 ||
    typeof m.id !== 'string' ||
    (m.status !== 'running' && m.status !== 'paused') ||
    !Array.isArray(m.externalStdio) ||
    !m.externalStdio.every((e) => typeof e?.fd === 'number' && typeof e?.key === 'string')
  ) {
    throw new RuntimeError('invalid-spec', `${file} is corrupt: not a stasis checkpoint note (version 1)`);
  }
  if (m.cgroupTmpfs !== undefined && !isCgroupTmpfsLayout(m.cgroupTmpfs)) {
    throw new RuntimeError('invalid-spec', `${file} is corrupt: cgroupTmpfs is not a cgroup tmpfs layout`);
  }
  if (m.emptyTmpfs !== undefined && !isEmptyTmpfsList(m.emptyTmpfs)) {
    throw new RuntimeError('invalid-spec', `${file} is corrupt: emptyTmpfs is not a list of tmpfs mounts`);
  }
  return { externalMounts: [], terminal: false, ...m } as CheckpointMeta;
}

/** Reads the note, or undefined when the images were not made by stasis. */
export function readCheckpointMeta(imagesDir: string): CheckpointMeta | undefined {
  const file = path.join(imagesDir, CHECKPOINT_META_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw new RuntimeError('system', `cannot read ${file}: ${errnoText(err)}`);
  }
  return parseCheckpointMeta(text, file);
}
