// Writes the V8 code cache of the bundled CLI for scripts/launcher.cjs: `node scripts/code-cache.cjs BUNDLE OUT`.
// The bundle is compiled eagerly (--no-lazy) so that the cache holds the bytecode of every function, not just
// the top level: `run` would otherwise compile most of the bundle at run time anyway. The flag is set back
// before the cache is made, because V8 rejects a cache made under flags other than the ones it runs with.
// The first line names the file the cache belongs to (see launcher.cjs).
'use strict';
const fs = require('fs');
const v8 = require('v8');
const vm = require('vm');
const Module = require('module');

const [bundle, out] = process.argv.slice(2);
const fd = fs.openSync(bundle, 'r');
const st = fs.fstatSync(fd, { bigint: true });
const src = fs.readFileSync(fd, 'utf8');
fs.closeSync(fd);
if (process.env.STASIS_CODE_CACHE !== 'lazy') v8.setFlagsFromString('--no-lazy');
const script = new vm.Script(Module.wrap(src), { filename: bundle });
v8.setFlagsFromString('--lazy');
fs.writeFileSync(`${out}.tmp`, Buffer.concat([Buffer.from(`${st.ino}:${st.size}:${st.mtimeNs}\n`), script.createCachedData()]));
fs.renameSync(`${out}.tmp`, out);
