/**
 * Loads a bundle with the V8 code cache the build made for it (scripts/code-cache.cjs), like bin/stasis does
 * for dist/stasis.js: checkpoint and restore live in bundles of their own (main.ts loadSplit), loaded after
 * the main one, and compiling them is otherwise a few ms of every checkpoint and restore. The cache's first
 * line names the exact file it was made from (inode, size, mtime): V8 itself only checks the source length.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The exports of bundle `file` compiled with `<file without .js>.cache`; undefined when no usable cache. */
export function requireWithCodeCache(file: string): unknown {
  let src: string;
  let stamp: string;
  let cache: Buffer;
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
  const Module = require('node:module') as typeof import('node:module') & {
    wrap(src: string): string;
    _nodeModulePaths(dir: string): string[];
  };
  const vm = require('node:vm') as typeof import('node:vm');
  const script = new vm.Script(Module.wrap(src), { filename: file, cachedData: cache.subarray(nl + 1) });
  const dir = path.dirname(file);
  const mod = new (Module as unknown as new (id: string, parent?: unknown) => NodeJS.Module)(file, module);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(dir);
  script.runInThisContext().call(mod.exports, mod.exports, Module.createRequire(file), mod, file, dir);
  mod.loaded = true;
  return mod.exports;
}
