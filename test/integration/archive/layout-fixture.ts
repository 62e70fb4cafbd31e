/** A checkpoint directory in the archive layout, made without CRIU, for the archive tests. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeConfigDump, writeLayoutFiles, writeManifest, type HostInfo } from '../../../src/archive';
import { endOfArchive } from '../../../src/archive/tar-format';

/** The host the fixtures claim to come from. */
export const HOST: HostInfo = { arch: 'x86_64', kernel: '6.18.0', criuVersion: '4.2.1', cpuFeatures: ['avx', 'sse2'] };
/** Whether zstd is installed. */
export const hasZstd = spawnSync('zstd', ['--version']).status === 0;

/** A temporary directory removed after the test. */
export function scratch(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stasis-archive-it-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A checkpoint directory `<base>/ckpt` in the archive layout, with a pseudo-random "pages" image (3 MiB by default). */
export async function makeCheckpointDir(base: string, pagesBytes = 3 << 20): Promise<string> {
  const dir = path.join(base, 'ckpt');
  fs.mkdirSync(path.join(dir, 'checkpoint'), { recursive: true });
  const pages = Buffer.alloc(pagesBytes);
  for (let i = 0; i < pages.length; i += 4) pages.writeUInt32LE((i * 2654435761) >>> 0, i);
  fs.writeFileSync(path.join(dir, 'checkpoint', 'pages-1.img'), pages);
  fs.writeFileSync(path.join(dir, 'checkpoint', 'core-1.img'), 'core');
  fs.writeFileSync(path.join(dir, 'checkpoint', `${'long-name-'.repeat(12)}.img`), 'long');
  fs.writeFileSync(path.join(dir, 'stats-dump'), Buffer.from([1, 2, 3]));
  fs.writeFileSync(path.join(dir, 'rootfs-diff.tar'), endOfArchive());
  writeLayoutFiles(dir, {
    spec: { ociVersion: '1.2.1', process: { args: ['sh'] } },
    config: makeConfigDump({ id: 'web-1234567890abcdef', checkpointedTime: new Date() }),
    deletedFiles: ['/etc/motd'],
  });
  await writeManifest(dir, { host: HOST });
  return dir;
}

/** Every file under dir → its bytes (relative path keys). */
export function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(dir, r));
      if (st.isDirectory()) walk(r);
      else out.set(r, fs.readFileSync(path.join(dir, r)));
    }
  };
  walk('');
  return out;
}
