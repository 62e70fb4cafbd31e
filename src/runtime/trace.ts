/**
 * Phase timing for performance work: with STASIS_TRACE=1 each mark prints "<ms since start> <label>" to
 * stderr. Costs one env lookup when off.
 */
const on = process.env.STASIS_TRACE === '1';
const t0 = on ? performance.timeOrigin + performance.now() - performance.now() : 0;

/** Records a phase boundary. */
export function mark(label: string): void {
  if (on) process.stderr.write(`${(performance.now()).toFixed(1).padStart(7)} ms  ${label}\n`);
  void t0;
}
