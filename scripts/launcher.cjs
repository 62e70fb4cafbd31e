// dist/launcher.cjs is this file behind a `#!<absolute node path>` line (scripts/build.mjs writes it): Podman
// calls the runtime with no PATH. bin/stasis (native/front/front.c) executes it when no warm worker takes the
// call (and `stasis service` runs it for each worker). It loads the bundled CLI compiled with the V8 code cache the build made for it
// (dist/stasis.cache): parsing and compiling ~160 kB of JavaScript is otherwise a good part of start-up.
// V8 checks only the source *length* of a cache, so the cache names the exact file it was made from (inode,
// size, mtime; a rebuilt bundle is a new inode); on a mismatch or any error the bundle loads the plain way.
'use strict';
const fs = require('fs');
const path = require('path');
const Module = require('module');

const file = path.join(__dirname, 'stasis.js');

/** Bundle `file`'s exports compiled with its code cache (`<file>.cache`), or undefined when there is no usable cache. */
function loadCached(file) {
  let src;
  let stamp;
  let cache;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      stamp = `${st.ino}:${st.size}:${st.mtimeNs}`;
      src = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
    cache = fs.readFileSync(file.replace(/\.js$/, '.cache'));
  } catch {
    return undefined;
  }
  const nl = cache.indexOf(10);
  if (nl < 0 || cache.toString('latin1', 0, nl) !== stamp) return undefined;
  const script = new (require('vm').Script)(Module.wrap(src), { filename: file, cachedData: cache.subarray(nl + 1) });
  const dir = path.dirname(file);
  const mod = new Module(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dir);
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
  mod.loaded = true;
  return mod.exports;
}

// The split bundles (checkpoint, restore: src/cli/main.ts loadSplit) are loaded the same way, through this.
globalThis.stasisRequireWithCodeCache = loadCached;
const cli = loadCached(file) ?? require(file);
// exitProcess ends with _exit(2) when nothing is left to flush (src/cli/exit.ts); an older bundle has none.
const exit = typeof cli.exitProcess === 'function' ? cli.exitProcess : process.exit;
if (process.env.STASIS_WARM_WORKER === '1' && typeof cli.warmWorker === 'function') {
  // Started by `stasis service` (src/warm/): wait for one call from bin/stasis and run it.
  delete process.env.STASIS_WARM_WORKER;
  cli.warmWorker(__filename).catch(() => exit(1));
} else {
  cli.main(process.argv.slice(2)).then((code) => exit(code), () => exit(1));
}
