/**
 * `restore --clone N <id>`: N independent copies of one checkpoint, `<id>-1` … `<id>-N`.
 *
 * Each clone is an ordinary restoreContainer() whose bundle stasis made for it (clone-plan.ts): the base
 * bundle's config.json with its root on a private overlay over the base rootfs. So each clone gets its own
 * id, state, cgroup, copy-on-write root and (CRIU makes one per restore) network namespace, and whatever
 * restore learns (rootfs diffs, imports) applies to clones too. Clones are restored one after the other:
 * they read the same images, and sequential restores keep the failure story simple.
 *
 * All or nothing: every id is checked before anything starts; if clone k fails, the clones already made are
 * deleted and the error names clone k. A restore killed midway leaves state and a mounted overlay that
 * `delete --force <id>-k` finds from the id alone (clone-fs.ts).
 *
 * Network: a checkpoint of a container that had its own network namespace restores into a fresh one each
 * time (CRIU creates it, or stasis asks for an empty one when it was pristine). One that joined a namespace
 * by path is refused: N clones would share that namespace, and an empty namespace made per clone would lack
 * the addresses and routes its sockets were bound to (see docs/checkpoint.md, Clones).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Context } from '../cli/context';
import { restorePlan } from '../criu';
import { loadBundleSpec } from '../spec/load';
import type { Spec } from '../spec/types';
import { StateStore, validateId } from '../state/store';
import { RuntimeError } from './errors';
import { criuUserError } from './checkpoint-criu';
import { readCheckpointMeta } from './checkpoint-meta';
import { joinedNetnsPath } from './checkpoint-netns';
import { cloneIds, cloneSpec } from './clone-plan';
import { cloneBundleExists, leftover, prepareCloneBundle, removeCloneBundle } from './clone-fs';
import { deleteContainer } from './delete';
import { faultPoint } from './trace';
import { restoreContainer, type RestoreOptions } from './restore';

/** Restores `count` clones of the checkpoint; resolves to restore's exit status (0 when detached). */
export async function restoreClones(ctx: Context, opts: RestoreOptions, count: number): Promise<number> {
  validateId(opts.id);
  const ids = cloneIds(opts.id, count);
  ids.forEach((id) => validateId(id));
  refuseFlags(opts, count);
  const baseBundle = path.resolve(opts.bundle);
  const { spec: validated, rootfs: baseRootfs } = loadBundleSpec(baseBundle);
  refuseSharedNetns(opts, validated);
  // The clones get the user's own config.json (not the validated, defaulted one), changed only where needed.
  const rawSpec = JSON.parse(fs.readFileSync(path.join(baseBundle, 'config.json'), 'utf8')) as Spec;

  const store = new StateStore(ctx.root);
  for (const id of ids) {
    if (fs.existsSync(store.dir(id))) throw new RuntimeError('exists', `restore --clone: container with id ${JSON.stringify(id)} already exists`);
    if (cloneBundleExists(ctx.root, id)) throw leftover(id, path.join(ctx.root, '.clones', id));
  }

  const made: string[] = [];
  for (const [i, id] of ids.entries()) {
    const k = i + 1;
    try {
      const layout = await prepareCloneBundle(ctx.root, id, cloneSpec(rawSpec, baseBundle, k), baseRootfs);
      faultPoint('restore:clone-mounted');
      // The images (an imported archive's staging copy) must outlive every clone but the last.
      const onRestored = k === ids.length ? opts.onRestored : undefined;
      const status = await restoreContainer(ctx, { ...opts, id, bundle: layout.dir, clone: { base: baseBundle, dir: layout.dir }, onRestored });
      made.push(id);
      if (!opts.detach) return status; // only with --clone 1: the foreground restore deleted it on exit
    } catch (err) {
      // restoreContainer removed its own state; the clone's overlay and directory are ours to remove.
      await removeCloneBundle(ctx.root, id).catch((e: unknown) => ctx.log.warn(`restore --clone: ${(e as Error).message}`));
      for (const other of made.reverse()) {
        await deleteContainer(ctx, other, true).catch((e: unknown) => ctx.log.warn(`restore --clone: removing ${other}: ${(e as Error).message}`));
      }
      const code = err instanceof RuntimeError ? err.code : 'system';
      throw new RuntimeError(code, `restore --clone: clone ${k} of ${count} (${id}) failed, no clone was kept: ${(err as Error).message}`);
    }
  }
  return 0;
}

/** Flags that name one container's resources cannot serve N of them. */
function refuseFlags(opts: RestoreOptions, count: number): void {
  if (count > 1 && !opts.detach) {
    throw new RuntimeError('usage', `restore --clone ${count}: more than one clone needs --detach (-d): stasis cannot stay in the foreground of ${count} containers`);
  }
  if (count > 1 && opts.pidFile) throw new RuntimeError('usage', 'restore --clone: --pid-file names one pid: use stasis state <id>-k for each clone');
  if (count > 1 && opts.consoleSocket) throw new RuntimeError('usage', 'restore --clone: --console-socket receives one pty: restore terminal containers one clone at a time');
  if (opts.lazyPages) throw new RuntimeError('usage', 'restore --clone: --lazy-pages is not supported with clones (one page server serves one restore)');
}

/** Refuses a checkpoint whose network namespace was joined by path (see the file comment). */
function refuseSharedNetns(opts: RestoreOptions, spec: Spec): void {
  let meta;
  try {
    meta = readCheckpointMeta(restorePlan(opts).imagesDir);
  } catch (err) {
    throw criuUserError(err);
  }
  if (meta?.externalNetns || (!meta && joinedNetnsPath(spec))) {
    throw new RuntimeError(
      'unsupported',
      'restore --clone: the checkpoint joined a network namespace by path (linux.namespaces network path): clones cannot share it; restore each copy separately with a bundle naming its own namespace',
    );
  }
}
