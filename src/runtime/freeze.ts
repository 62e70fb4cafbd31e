/** pause / resume through the cgroup freezer; `paused` is then derived from the freezer state. */
import type { Context } from '../cli/context';
import { withContainer } from './container';
import { requireStatus } from './lifecycle';
import { openContainerCgroup } from './cgroup';

/** Freezes every process of the container and waits until the kernel reports it frozen. */
export async function pauseContainer(ctx: Context, id: string): Promise<void> {
  await withContainer(ctx, id, async (c) => {
    requireStatus('pause', id, c.status);
    await openContainerCgroup(c.record).freeze();
  });
}

/** Thaws a paused container. */
export async function resumeContainer(ctx: Context, id: string): Promise<void> {
  await withContainer(ctx, id, async (c) => {
    requireStatus('resume', id, c.status);
    await openContainerCgroup(c.record).thaw();
  });
}
