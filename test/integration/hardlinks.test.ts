/**
 * Hard links, on real files, a real local repository and the real restic:
 * Lifeboat restores files that shared an inode as links to one file again
 * (as restic does), whichever tool made the snapshot, and a link restored
 * without the others is a file with its bytes.
 */
import { linkSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { restore } from '../../main/engine/restore.js';
import { repositoryScratch } from '../helpers/repository-scratch.js';
import { ok, restic } from '../helpers/tools.js';

let s: ReturnType<typeof repositoryScratch>['s'];
let src: string;
let repoDir: string;
let init: () => Promise<void>;
let withRepository: ReturnType<typeof repositoryScratch>['withRepository'];
let lifeboatSnapshot: string;
let resticSnapshot: string;

beforeAll(async () => {
  ({ s, src, repoDir, init, withRepository } = repositoryScratch());
  mkdirSync(path.join(src, 'sub'), { recursive: true });
  writeFileSync(path.join(src, 'a.txt'), 'shared by three names');
  linkSync(path.join(src, 'a.txt'), path.join(src, 'b.txt'));
  linkSync(path.join(src, 'a.txt'), path.join(src, 'sub', 'c.txt'));
  // Larger than one restore task: written in parts by the main thread's plan.
  writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(20 * 1024 * 1024, 3));
  linkSync(path.join(src, 'big.bin'), path.join(src, 'sub', 'big-link.bin'));
  writeFileSync(path.join(src, 'single.txt'), 'one name only');
  await init();
  await withRepository(async (repo) => {
    const res = await backup(repo, { paths: [src] });
    expect(res.errors).toEqual([]);
    lifeboatSnapshot = res.snapshot.id;
  });
  const out = ok(restic(['-r', repoDir, 'backup', '--json', src], s.passwordFile), 'restic backup').stdout.trim().split('\n').pop()!;
  resticSnapshot = (JSON.parse(out) as { snapshot_id: string }).snapshot_id;
}, 60_000);
afterAll(() => s?.dispose());

function restoreTo(snapshot: string, target: string, include?: string[]) {
  return withRepository(async (repo) => restore(repo, await repo.findSnapshot(snapshot), { target, ...(include ? { include } : {}) }));
}

describe('hard links', () => {
  it('are restored as links to one file again, from a snapshot of either tool', async () => {
    for (const [which, id] of [['lifeboat', lifeboatSnapshot], ['restic', resticSnapshot]] as const) {
      const target = path.join(s.dir, `restore-${which}`);
      const res = await restoreTo(id, target);
      expect(res.errors, which).toEqual([]);
      expect(res.files, which).toBe(6);
      const at = (p: string) => path.join(target, src, p);
      const ino = (p: string) => lstatSync(at(p)).ino;
      expect([ino('b.txt'), ino('sub/c.txt')], which).toEqual([ino('a.txt'), ino('a.txt')]);
      expect(lstatSync(at('a.txt')).nlink, which).toBe(3);
      expect(ino('sub/big-link.bin'), which).toBe(ino('big.bin'));
      expect(lstatSync(at('single.txt')).nlink, which).toBe(1);
      for (const p of ['a.txt', 'b.txt', 'sub/c.txt', 'big.bin', 'sub/big-link.bin', 'single.txt']) {
        expect(readFileSync(at(p)).equals(readFileSync(path.join(src, p))), `${which} ${p}`).toBe(true);
      }
      // The times of the shared file are those recorded, to the nanosecond.
      expect(lstatSync(at('b.txt'), { bigint: true }).mtimeNs, which).toBe(lstatSync(path.join(src, 'b.txt'), { bigint: true }).mtimeNs);
      expect(lstatSync(at('sub/big-link.bin'), { bigint: true }).mtimeNs, which).toBe(lstatSync(path.join(src, 'big.bin'), { bigint: true }).mtimeNs);
    }
  });

  it('one link restored without the others is a file with its bytes', async () => {
    const target = path.join(s.dir, 'restore-one');
    const res = await restoreTo(lifeboatSnapshot, target, [path.join(src, 'sub')]);
    expect(res.errors).toEqual([]);
    const c = path.join(target, src, 'sub', 'c.txt');
    expect(readFileSync(c, 'utf8')).toBe('shared by three names');
    expect(lstatSync(c).nlink).toBe(1);
    expect(readFileSync(path.join(target, src, 'sub', 'big-link.bin')).equals(readFileSync(path.join(src, 'big.bin')))).toBe(true);
  });
});
