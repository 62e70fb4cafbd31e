/**
 * A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and the kernel refuses to attach tasks
 * to it (ENOSPC) until both are set. Copy them down from the parent, top to bottom.
 */
import * as posix from 'node:path/posix';
import { CgroupError, describeErrno } from '../errors';
import { CgroupFs } from '../fs';
import { componentsBelow } from '../tree';
import { writeValue } from '../writer';

async function readTrim(fs: CgroupFs, path: string): Promise<string> {
  try {
    return (await fs.readFile(path)).trim();
  } catch (err) {
    throw new CgroupError(`cannot read ${path}: ${describeErrno(err)}`, { cause: err });
  }
}

/** Fill empty cpuset.cpus/cpuset.mems of every directory between the mountpoint and `dir`. */
export async function seedCpuset(fs: CgroupFs, mountpoint: string, dir: string): Promise<void> {
  let parent = mountpoint;
  for (const d of componentsBelow(mountpoint, dir)) {
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      if ((await readTrim(fs, posix.join(d, file))) !== '') continue;
      const inherited = await readTrim(fs, posix.join(parent, file));
      await writeValue(fs, posix.join(d, file), inherited, `copy ${file} from the parent cgroup`);
    }
    parent = d;
  }
}
