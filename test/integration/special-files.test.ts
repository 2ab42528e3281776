/**
 * FIFOs, device nodes and sockets, on real files and a real local repository:
 * restore makes FIFOs and (as root, the only user the system lets) device
 * nodes again with their mode and times, as restic does; a socket, which
 * belongs to the process that listened on it, is left out without an error.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { restore } from '../../main/engine/restore.js';
import { repositoryScratch } from '../helpers/repository-scratch.js';
import { ok, restic } from '../helpers/tools.js';

const asRoot = process.getuid?.() === 0;
let s: ReturnType<typeof repositoryScratch>['s'];
let src: string;
let repoDir: string;
let init: () => Promise<void>;
let withRepository: ReturnType<typeof repositoryScratch>['withRepository'];

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr}`);
}

beforeAll(async () => {
  ({ s, src, repoDir, init, withRepository } = repositoryScratch('python3'));
  writeFileSync(path.join(src, 'file.txt'), 'an ordinary file');
  run('mkfifo', [path.join(src, 'queue')]);
  chmodSync(path.join(src, 'queue'), 0o640);
  if (asRoot) run('mknod', [path.join(src, 'null'), 'c', '1', '3']); // the same device as /dev/null
  run('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(src, 'listener.sock')]);
  await init();
}, 60_000);
afterAll(() => s?.dispose());

describe('special files', () => {
  it('FIFOs and device nodes are made again with their mode; a socket is left out quietly; from either tool\'s snapshot', async () => {
    if (!asRoot) console.log('special-files: not root, so no device node is made (mknod needs CAP_MKNOD); FIFOs and sockets are still checked');
    const res = await withRepository((repo) => backup(repo, { paths: [src] }));
    expect(res.errors).toEqual([]);
    const out = ok(restic(['-r', repoDir, 'backup', '--json', src], s.passwordFile), 'restic backup').stdout.trim().split('\n').pop()!;
    // Opened after restic's backup, so its index has restic's trees too.
    await withRepository(async (repo) => {
      for (const [which, id] of [['lifeboat', res.snapshot.id], ['restic', (JSON.parse(out) as { snapshot_id: string }).snapshot_id]] as const) {
        const target = path.join(s.dir, `restore-${which}`);
        const restored = await restore(repo, await repo.findSnapshot(id), { target });
        expect(restored.errors, which).toEqual([]);
        const at = (p: string) => path.join(target, src, p);
        const fifo = lstatSync(at('queue'), { bigint: true });
        expect(fifo.isFIFO(), which).toBe(true);
        expect(Number(fifo.mode) & 0o7777, which).toBe(0o640);
        expect(fifo.mtimeNs, which).toBe(lstatSync(path.join(src, 'queue'), { bigint: true }).mtimeNs); // to the nanosecond
        if (asRoot) {
          const dev = lstatSync(at('null'));
          expect(dev.isCharacterDevice(), which).toBe(true);
          expect(dev.rdev, which).toBe(lstatSync('/dev/null').rdev);
        }
        expect(() => lstatSync(at('listener.sock')), which).toThrow(/ENOENT/);
        expect(readFileSync(at('file.txt'), 'utf8'), which).toBe('an ordinary file');
      }
    });
  });

  it('a restore into a folder where a FIFO, a device node or another name of an outside file sits at a file\'s place replaces it, never writes through it', async () => {
    const files = path.join(s.dir, 'plain-src');
    mkdirSync(files);
    for (const n of ['over-fifo.txt', 'over-device.txt', 'over-hardlink.txt']) writeFileSync(path.join(files, n), `the real ${n}`);
    writeFileSync(path.join(files, 'big-over-fifo.bin'), Buffer.alloc(9 * 1024 * 1024, 5)); // written in parts: created first by the plan
    await withRepository(async (repo) => {
      const res = await backup(repo, { paths: [files] });
      expect(res.errors).toEqual([]);
      const target = path.join(s.dir, 'restore-over');
      const at = (p: string) => path.join(target, files, p);
      mkdirSync(path.join(target, files), { recursive: true });
      run('mkfifo', [at('over-fifo.txt')]);
      run('mkfifo', [at('big-over-fifo.bin')]);
      if (asRoot) run('mknod', [at('over-device.txt'), 'c', '1', '3']);
      const outside = path.join(s.dir, 'outside.txt');
      writeFileSync(outside, 'must stay as it is');
      linkSync(outside, at('over-hardlink.txt'));
      const restored = await restore(repo, res.snapshot, { target });
      expect(restored.errors).toEqual([]);
      for (const n of ['over-fifo.txt', 'over-device.txt', 'over-hardlink.txt']) {
        const st = lstatSync(at(n));
        expect(st.isFile() && st.nlink === 1, n).toBe(true);
        expect(readFileSync(at(n), 'utf8'), n).toBe(`the real ${n}`);
      }
      expect(readFileSync(at('big-over-fifo.bin')).equals(readFileSync(path.join(files, 'big-over-fifo.bin')))).toBe(true);
      expect(readFileSync(outside, 'utf8')).toBe('must stay as it is');
    });
  }, 60_000);
});
