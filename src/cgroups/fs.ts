/**
 * The only place the cgroup library touches the filesystem. Drivers take a CgroupFs so unit tests can
 * record every write and emulate kernel behaviour on a temp-dir fixture tree.
 */
import { closeSync, constants, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeSync } from 'node:fs';

/** One directory entry as the drivers need it. */
export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

/** Minimal filesystem surface used by the cgroup drivers. */
export interface CgroupFs {
  /** Whole file as text. */
  readFile(path: string): Promise<string>;
  /** Write `value` in one write(2), without O_CREAT: a missing control file must fail with ENOENT. */
  writeFile(path: string, value: string): Promise<void>;
  /** mkdir one level; resolves false when it already existed. */
  mkdir(path: string): Promise<boolean>;
  /** rmdir one (cgroup) directory. */
  rmdir(path: string): Promise<void>;
  /** Entries of a directory. */
  readdir(path: string): Promise<DirEntry[]>;
  /** True when the path exists. */
  exists(path: string): Promise<boolean>;
}

/**
 * The real filesystem. The calls are synchronous on purpose: cgroupfs operations are in-memory and take
 * microseconds, while a round trip through libuv's thread pool costs far more, and `create` makes dozens of
 * them on the path every container start waits on. The interface stays async so fixtures can be anything.
 */
export const realCgroupFs: CgroupFs = {
  async readFile(path) {
    return readFileSync(path, 'utf8');
  },
  async writeFile(path, value) {
    // O_TRUNC but never O_CREAT: cgroupfs would refuse creating anyway, and fixtures must behave alike.
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      // cgroup files parse one write(2) as one command, so the value must go out in a single call.
      writeSync(fd, Buffer.from(value), 0);
    } finally {
      closeSync(fd);
    }
  },
  async mkdir(path) {
    try {
      mkdirSync(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  },
  async rmdir(path) {
    rmdirSync(path);
  },
  async readdir(path) {
    const entries = readdirSync(path, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isDirectory: e.isDirectory() }));
  },
  async exists(path) {
    return existsSync(path);
  },
};
