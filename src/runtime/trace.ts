/**
 * Two test-and-measurement seams, each costing one env lookup when off:
 * - STASIS_TRACE=1: `mark()` prints "<ms since process start> <label>" to stderr (performance work).
 * - STASIS_FAULT=<point>: `faultPoint()` SIGKILLs this process at the named point, as a crash or an
 *   impatient engine would. Only the fault-injection tests set it; the points are listed in FAULT_POINTS.
 * - STASIS_HELPER_FAULT=<step index>: passed on to the C helper (`helperEnv()`), which SIGKILLs itself right
 *   before running that step of its plan (native/helper/main.c). Only the fault-injection tests set it.
 */
// Read on use, not at load: a warm worker (src/warm/worker.ts) loads this module before it has the
// caller's environment.

/** Every point a test can kill stasis at, in lifecycle order. */
export const FAULT_POINTS = [
  'create:claimed', // state directory made, nothing else
  'create:setup', // container process exists, cgroup made, before limits and ids are written
  'create:ready', // setup done, state.json not yet final
  'start:opened', // start gate opened, fifo not yet removed
  'exec:spawned', // exec helper running, process not yet placed in the cgroup
  'delete:killed', // processes killed, cgroup and state still there
  'delete:cgroup-removed', // cgroup gone, state directory still there
  'checkpoint:frozen', // container frozen by us, CRIU not started
  'checkpoint:dumped', // images and notes written, container not yet removed
  'restore:cgroup', // cgroup made and limits written, CRIU not started
  'restore:rootfs', // a portable checkpoint's rootfs changes applied, CRIU not started
  'restore:restored', // CRIU done, state not yet written
  'restore:clone-mounted', // restore --clone: a clone's overlay mounted, its restore not yet started
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

/** Records a phase boundary. */
export function mark(label: string): void {
  if (process.env.STASIS_TRACE === '1') process.stderr.write(`${performance.now().toFixed(1).padStart(7)} ms  ${label}\n`);
}

/** Dies here, now, without any cleanup, when the tests asked for this point. */
export function faultPoint(point: FaultPoint): void {
  if (process.env.STASIS_FAULT === point) process.kill(process.pid, 'SIGKILL');
}

/**
 * The environment every helper is started with: empty (the helper needs none, and the container must not
 * inherit ours), except for the STASIS_HELPER_FAULT test hook when a test set it.
 */
export function helperEnv(): NodeJS.ProcessEnv {
  const helperFault = process.env.STASIS_HELPER_FAULT;
  return helperFault ? { STASIS_HELPER_FAULT: helperFault } : {};
}
