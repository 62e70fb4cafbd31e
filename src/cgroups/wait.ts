/** Polling with short, growing steps: freezing usually completes within a millisecond or two. */

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Call `check` until it returns true, sleeping 1 ms, then 2, 4… (capped at `maxStepMs`) between calls.
 * `onRetry` runs before each sleep (e.g. to re-issue a freeze). Returns false on timeout.
 */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  options: { maxStepMs?: number; onRetry?: (attempt: number) => Promise<void> } = {},
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let step = 1;
  for (let attempt = 1; ; attempt++) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    if (options.onRetry) await options.onRetry(attempt);
    await sleep(Math.min(step, Math.max(1, deadline - Date.now())));
    step = Math.min(step * 2, options.maxStepMs ?? 20);
  }
}
