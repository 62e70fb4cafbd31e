/**
 * The layout of a checkpoint directory and of its archive, the one Podman and CRI-O use (and checkpointctl
 * reads), plus stasis's manifest:
 *
 *   stasis-manifest.json   sizes and sha256 of everything below, host requirements (first in the archive)
 *   checkpoint/            CRIU's image directory
 *   spec.dump              the OCI config the container ran with
 *   config.dump            engine metadata (see ConfigDump)
 *   rootfs-diff.tar        changes to the root filesystem (optional)
 *   deleted.files          JSON list of paths removed from the image's root filesystem (optional)
 *   devshm-checkpoint.tar  contents of /dev/shm when it is not dumped by CRIU (optional)
 *   stats-dump             CRIU's dump statistics (optional)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArchiveError } from './errors';

/** File and directory names of the layout. */
export const LAYOUT = {
  checkpointDir: 'checkpoint',
  spec: 'spec.dump',
  config: 'config.dump',
  rootfsDiff: 'rootfs-diff.tar',
  deletedFiles: 'deleted.files',
  devShm: 'devshm-checkpoint.tar',
  statsDump: 'stats-dump',
} as const;

/**
 * config.dump: the fields checkpointctl reads (its `ContainerConfig`, a reduced copy of Podman's), with
 * Go's time.Time encoded as RFC 3339. Zero times are written as Go's zero time so Go decoders accept them.
 */
export interface ConfigDump {
  id: string;
  name: string;
  rootfsImage?: string;
  rootfsImageRef?: string;
  rootfsImageName?: string;
  /**
   * Podman's name for the image's storage id: `podman container restore --import` needs it with
   * rootfsImageName to make the container's root filesystem (its ContainerConfig, not checkpointctl's).
   */
  rootfsImageID?: string;
  /** Podman: the log driver of the re-created container (set with the image: k8s-file, Podman's default). */
  logDriver?: string;
  /**
   * The OCI runtime: the absolute path of the stasis executable that exported, else "stasis". Podman 4
   * restores an imported archive with this runtime (a path needs no containers.conf entry) and refuses an
   * explicit --runtime that differs from it.
   */
  runtime?: string;
  createdTime: string;
  checkpointedTime: string;
  restoredTime: string;
  restored: boolean;
}

/** Spec annotation naming the image a stasis container's rootfs was made from (e.g. localhost/busybox:latest). */
export const IMAGE_NAME_ANNOTATION = 'io.stasis.image.name';
/** Spec annotation with that image's id (Podman's storage id, `podman image inspect --format {{.Id}}`). */
export const IMAGE_ID_ANNOTATION = 'io.stasis.image.id';

/** The image fields of config.dump from a spec's annotations (empty when the spec names no image). Pure. */
export function imageFromAnnotations(annotations: Record<string, string> | undefined): { rootfsImageName?: string; rootfsImageID?: string } {
  const name = annotations?.[IMAGE_NAME_ANNOTATION];
  const id = annotations?.[IMAGE_ID_ANNOTATION];
  return { ...(name ? { rootfsImageName: name } : {}), ...(id ? { rootfsImageID: id } : {}) };
}

/** Go's zero time.Time in JSON. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** Builds config.dump for a container; `rootfsImage` is the image the rootfs came from, when known. */
export function makeConfigDump(c: {
  id: string;
  name?: string;
  rootfsImage?: string;
  rootfsImageRef?: string;
  rootfsImageName?: string;
  rootfsImageID?: string;
  /** Default "stasis". */
  runtime?: string;
  createdTime?: Date;
  checkpointedTime: Date;
}): ConfigDump {
  const out: ConfigDump = {
    id: c.id,
    name: c.name ?? c.id,
    runtime: c.runtime ?? 'stasis',
    createdTime: c.createdTime ? c.createdTime.toISOString() : GO_ZERO_TIME,
    checkpointedTime: c.checkpointedTime.toISOString(),
    restoredTime: GO_ZERO_TIME,
    restored: false,
  };
  if (c.rootfsImage) out.rootfsImage = c.rootfsImage;
  if (c.rootfsImageRef) out.rootfsImageRef = c.rootfsImageRef;
  if (c.rootfsImageName) out.rootfsImageName = c.rootfsImageName;
  if (c.rootfsImageID) {
    out.rootfsImageID = c.rootfsImageID;
    // checkpointctl shows the image from rootfsImage / rootfsImageRef.
    out.rootfsImageRef ??= c.rootfsImageID;
    out.logDriver = 'k8s-file';
  }
  if (c.rootfsImageName) out.rootfsImage ??= c.rootfsImageName;
  return out;
}

/** The small files of the layout that stasis writes itself (the tars come from src/rootfs-diff). */
export interface LayoutFiles {
  /** The OCI config (parsed JSON). */
  spec: unknown;
  config: ConfigDump;
  /** Paths (relative to the rootfs) to delete on restore; omitted means no deleted.files. */
  deletedFiles?: string[];
}

/** Writes spec.dump, config.dump and deleted.files into a checkpoint directory (mode 0600). */
export function writeLayoutFiles(dir: string, files: LayoutFiles): void {
  const put = (name: string, value: unknown) =>
    fs.writeFileSync(path.join(dir, name), `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  put(LAYOUT.spec, files.spec);
  put(LAYOUT.config, files.config);
  if (files.deletedFiles) put(LAYOUT.deletedFiles, files.deletedFiles);
}

/** Reads deleted.files of a checkpoint directory ([] when absent); every entry must be a string. */
export function readDeletedFiles(dir: string): string[] {
  const file = path.join(dir, LAYOUT.deletedFiles);
  if (!fs.existsSync(file)) return [];
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    throw new ArchiveError('corrupt', `${file} is corrupt: not valid JSON`);
  }
  if (!Array.isArray(v) || !v.every((p) => typeof p === 'string')) {
    throw new ArchiveError('corrupt', `${file} is corrupt: not a JSON list of paths`);
  }
  return v;
}
