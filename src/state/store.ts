/**
 * The state directory: `<root>/<id>/state.json` (+ `exec.fifo` while created). Writes are atomic (temp file,
 * fsync, rename, fsync of the directory) and every read-modify-write runs under an flock on the container's
 * directory, so concurrent commands on one container are serialized (gVisor's StateFile does the same).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RuntimeError, errnoText, isErrno } from '../runtime/errors';
import type { ContainerRecord } from './record';
import { lockFd, LockMode } from './lock';

/** Container ids: what runc accepts (letters, digits, `_ + - .`, not starting with a dot), bounded length. */
const ID_RE = /^[\w+\-][\w+\-.]*$/;

/** Validates a container id, throwing a usage error with the reason. */
export function validateId(id: string | undefined): string {
  if (!id) throw new RuntimeError('usage', 'container id cannot be empty');
  if (id.length > 1024 || !ID_RE.test(id) || id === '.' || id === '..') {
    throw new RuntimeError('usage', `invalid container id ${JSON.stringify(id.slice(0, 80))}: use letters, digits and _+-. only`);
  }
  return id;
}

/** Handle on one state root (`--root`). */
export class StateStore {
  constructor(readonly root: string) {}

  /** Directory of one container. */
  dir(id: string): string {
    return path.join(this.root, validateId(id));
  }

  fifoPath(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /** Ids of every container under the root (directories with a state.json). */
  list(): string[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw new RuntimeError('system', `cannot read state root ${this.root}: ${errnoText(err)}`);
    }
    return names.filter((n) => ID_RE.test(n) && fs.existsSync(path.join(this.root, n, 'state.json'))).sort();
  }

  /**
   * Creates the container directory and returns it locked. Fails with "already exists" when the id is taken:
   * mkdir is the atomic claim.
   */
  claim(id: string): LockedContainerDir {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    const dir = this.dir(id);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (err) {
      if (isErrno(err, 'EEXIST')) throw new RuntimeError('exists', `container with id ${JSON.stringify(id)} already exists`);
      throw new RuntimeError('system', `cannot create state directory ${dir}: ${errnoText(err)}`);
    }
    return new LockedContainerDir(this, id, openLocked(dir, LockMode.Exclusive));
  }

  /**
   * Locks an existing container's directory and loads its record. Throws not-found with runc's wording,
   * which containerd matches on ("does not exist").
   */
  open(id: string, mode: LockMode = LockMode.Exclusive): { lock: LockedContainerDir; record: ContainerRecord } {
    const dir = this.dir(id);
    let fd: number;
    try {
      fd = openLocked(dir, mode);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(id);
      throw err;
    }
    const lock = new LockedContainerDir(this, id, fd);
    try {
      return { lock, record: lock.read() };
    } catch (err) {
      lock.release();
      throw err;
    }
  }
}

/** Removes the directory of `id` when it has no state.json, under its exclusive lock (so never a live create's). */
export function removeOrphanDir(store: StateStore, id: string): void {
  validateId(id);
  const dir = store.dir(id);
  let fd: number;
  try {
    fd = openLocked(dir, LockMode.Exclusive);
  } catch {
    return;
  }
  try {
    if (!fs.existsSync(path.join(dir, 'state.json'))) fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    fs.closeSync(fd);
  }
}

function notFound(id: string): RuntimeError {
  return new RuntimeError('not-found', `container "${id}" does not exist`);
}

function openLocked(dir: string, mode: LockMode): number {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    lockFd(fd, mode);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/** A container directory held under an flock until `release()`. */
export class LockedContainerDir {
  constructor(
    readonly store: StateStore,
    readonly id: string,
    private fd: number,
  ) {}

  get dir(): string {
    return this.store.dir(this.id);
  }

  /** Reads state.json. A directory whose state.json vanished (deleted meanwhile) is "does not exist". */
  read(): ContainerRecord {
    const file = path.join(this.dir, 'state.json');
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(this.id);
      throw new RuntimeError('system', `cannot read ${file}: ${errnoText(err)}`);
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch {
      throw new RuntimeError('system', `${file} is corrupt: not valid JSON`);
    }
  }

  /** Atomically replaces state.json: temp file, fsync, rename, fsync of the directory. */
  write(record: ContainerRecord): void {
    writeFileAtomic(path.join(this.dir, 'state.json'), JSON.stringify(record));
  }

  /**
   * write(), with its two fsyncs in libuv's thread pool so this process can go on meanwhile (create answers
   * the container's events while the state reaches the disk). Same steps, same order; the caller must
   * await it before releasing the lock.
   */
  writeInBackground(record: ContainerRecord): Promise<void> {
    return writeFileAtomicInBackground(path.join(this.dir, 'state.json'), JSON.stringify(record));
  }

  /** Removes the whole directory (delete). The lock stays valid on the unlinked directory until release. */
  remove(): void {
    // Usually the directory holds just state.json (exec.fifo goes at start): unlink + rmdir, without loading
    // and running the recursive remover; anything else left there takes the long way.
    try {
      fs.unlinkSync(path.join(this.dir, 'state.json'));
    } catch {
      /* not there: the long way below finds out what is */
    }
    try {
      fs.rmdirSync(this.dir);
      return;
    } catch {
      /* not empty (or gone): see below */
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  release(): void {
    if (this.fd >= 0) {
      fs.closeSync(this.fd); // closing drops the flock
      this.fd = -1;
    }
  }
}

/** Writes a file atomically; on any failure the previous content stays and the temp file is removed. */
export function writeFileAtomic(file: string, data: string, mode = 0o600): void {
  const { tmp, fd } = stageTemp(file, data, mode);
  try {
    fs.fsyncSync(fd);
  } catch (err) {
    abandonTemp(file, tmp, fd, err);
  }
  publishTemp(file, tmp, fd);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/** writeFileAtomic with the fsyncs done in the thread pool: resolves once the file and its rename are durable. */
export async function writeFileAtomicInBackground(file: string, data: string, mode = 0o600): Promise<void> {
  const { tmp, fd } = stageTemp(file, data, mode);
  try {
    await fsyncInPool(fd);
  } catch (err) {
    abandonTemp(file, tmp, fd, err);
  }
  publishTemp(file, tmp, fd);
  const dirFd = fs.openSync(path.dirname(file), 'r');
  try {
    await fsyncInPool(dirFd);
  } finally {
    fs.closeSync(dirFd);
  }
}

/** The temp file beside `file`, written but not yet synced. */
function stageTemp(file: string, data: string, mode: number): { tmp: string; fd: number } {
  const tmp = `${file}.${process.pid}.tmp`;
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'w', mode);
    fs.writeSync(fd, data);
    return { tmp, fd };
  } catch (err) {
    abandonTemp(file, tmp, fd, err);
  }
}

/** Closes and renames the synced temp file over `file`. */
function publishTemp(file: string, tmp: string, fd: number): void {
  try {
    fs.closeSync(fd);
  } catch (err) {
    abandonTemp(file, tmp, -1, err);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    abandonTemp(file, tmp, -1, err);
  }
}

/** Removes the temp file (when it was made) and throws the one-line error. */
function abandonTemp(file: string, tmp: string, fd: number, err: unknown): never {
  if (fd >= 0) fs.closeSync(fd);
  try {
    fs.unlinkSync(tmp);
  } catch {
    /* nothing was created, or it is not ours to remove */
  }
  throw new RuntimeError('system', `cannot write ${file}: ${errnoText(err)}`);
}

function fsyncInPool(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}
