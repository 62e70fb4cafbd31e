/**
 * delete: remove everything a container had. A stopped container is cleaned up; a created, running or
 * paused one only with --force (the OCI lifecycle says deleting a container that is not stopped is an error).
 */
import type { Context } from '../cli/context';
import { loadContainer, type Loaded } from './container';
import { requireStatus } from './lifecycle';
import { killAll, openContainerCgroup } from './cgroup';
import { runHooksWarn } from './hooks';
import { ociState } from './oci-state';
import { isSameProcessAlive } from '../state/proc';
import { RuntimeError } from './errors';
import { faultPoint, mark } from './trace';
import { unmountOwn } from './host-mounts';
import { StateStore, removeOrphanDir } from '../state/store';
import { removeCloneBundle } from './clone-fs';
import type { ContainerRecord } from '../state/record';

/** Deletes container `id`. */
export async function deleteContainer(ctx: Context, id: string, force: boolean): Promise<void> {
  let c: Loaded;
  try {
    c = await loadContainer(ctx, id);
  } catch (err) {
    if (!(err instanceof RuntimeError) || err.code !== 'not-found') throw err;
    // A create killed between claiming the id and writing state.json leaves a bare directory that would
    // block the id forever; runc removes it too. --force makes a missing container a success, as in runc.
    removeOrphanDir(new StateStore(ctx.root), id);
    // A `restore --clone` killed before the clone's state existed leaves its overlay mounted under
    // <root>/.clones/<id>: --force is how it is found and taken down (restore names the command).
    if (force) {
      await removeCloneBundle(ctx.root, id);
      return;
    }
    throw err;
  }
  try {
    if (c.status !== 'stopped' && !force) requireStatus('delete', id, c.status);
    await destroy(ctx, c);
  } finally {
    c.lock.release();
  }
}

/** Kills whatever is left, removes the cgroup (if ours), runs poststop hooks, removes the state. */
export async function destroy(ctx: Context, c: Loaded): Promise<void> {
  const { record } = c;
  const cg = openContainerCgroup(record);
  if (c.status !== 'stopped') {
    try {
      process.kill(record.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // Without a private pid namespace, killing init does not take its children: kill the whole cgroup. With
  // one, a dead init took every process of the namespace with it (the kernel kills them all), so a stopped
  // container has nothing left to find (runc skips this scan the same way); freezing the cgroup just to
  // list it would cost a freezer round trip on every `run`.
  // (Only when we knew the init: a restore killed before it recorded the pid has a tree nobody has killed.)
  const nothingLeft = c.status === 'stopped' && record.pid > 0 && ownsPidNamespace(record);
  if (record.cgroup.owned && !nothingLeft && (await cg.exists())) await killAll(cg);
  mark('delete: killed');
  await waitGone(record.pid, record.startTime, 5000);
  mark('delete: gone');
  faultPoint('delete:killed');
  if (record.hostMountBase !== undefined) await unmountOwn(record.rootfs, record.hostMountBase);
  if (record.cgroup.owned) {
    try {
      await cg.destroy();
    } catch (err) {
      throw new RuntimeError('system', `cannot remove the cgroup of container ${record.id}: ${(err as Error).message}`);
    }
  }
  mark('delete: cgroup removed');
  faultPoint('delete:cgroup-removed');
  for (const w of await runHooksWarn('poststop', record.spec.hooks?.poststop, ociState(record, 'stopped'))) ctx.log.warn(w);
  // A clone's overlay and layers (restore --clone): once its processes are gone and the hooks have seen its
  // bundle, before the state goes, so a failure here leaves a container to delete again, not a lost mount.
  if (record.clone) await removeCloneBundle(ctx.root, record.id);
  c.lock.remove();
  mark('delete: state removed');
}

/** True when the container created its own pid namespace (rather than sharing or joining one). */
function ownsPidNamespace(record: ContainerRecord): boolean {
  return (record.spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && n.path === undefined);
}

async function waitGone(pid: number, startTime: string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let wait = 1; isSameProcessAlive(pid, startTime); wait = Math.min(wait * 2, 50)) {
    if (Date.now() > deadline) throw new RuntimeError('system', `container init (pid ${pid}) did not exit after SIGKILL`);
    await new Promise((r) => setTimeout(r, wait));
  }
}
