/** Where the built native pieces live. `STASIS_HELPER` overrides the helper path (tests, development). */
import * as path from 'node:path';

/** Root of the installed package (dist/ and build/ sit under it). */
export function packageRoot(): string {
  // Compiled files live in dist/src/helper/ (tsc) or dist/ (bundle); walk up to the folder with package.json.
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    if (require('node:fs').existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '..', '..', '..');
}

/** Absolute path of the stasis-helper executable. */
export function helperPath(): string {
  return process.env.STASIS_HELPER || path.join(packageRoot(), 'build', 'Release', 'stasis-helper');
}
