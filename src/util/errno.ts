/** errno numbers to names, for messages from code that reports bare numbers (CRIU, bin/stasis). */
import * as os from 'node:os';

/** Linux errno values CRIU uses that Node's os.constants.errno does not list. */
const EXTRA_ERRNO_NAMES: Record<number, string> = { 56: 'EBADRQC' };

/** errno number → name ("ESRCH"), from Node's table. */
export function errnoName(errno: number): string | undefined {
  for (const [name, value] of Object.entries(os.constants.errno)) if (value === errno) return name;
  return EXTRA_ERRNO_NAMES[errno];
}
