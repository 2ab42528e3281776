import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FileHandle } from '../../main/engine/targets/target.js';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { walkTree } from '../../main/engine/snapshot-walk.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import type { Snapshot } from '../../shared/repo/types.js';
import { scratch } from '../helpers/tools.js';

/** A local target that counts the reads of data packs. */
class CountingTarget extends LocalTarget {
  packReads = 0;
  override load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    if (h.type === 'data') this.packReads++;
    return super.load(h, length, offset, consume);
  }
}

// A snapshot walk (restore, ls, check, and a backup comparing with its parent) needs every tree;
// they sit together in tree-only packs, each read once, not once per tree.
describe('trees read pack by pack', () => {
  const s = scratch('lifeboat-treepacks-');
  const repoDir = path.join(s.dir, 'repo');
  const src = path.join(s.dir, 'src');
  let snap: Snapshot;
  afterAll(() => s.dispose());

  beforeAll(async () => {
    for (let i = 0; i < 60; i++) {
      const dir = path.join(src, `d${i % 6}`, `sub${i}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'f.txt'), `file ${i}\n`);
    }
    await Repository.init(new LocalTarget(repoDir), 'pw');
    const repo = await Repository.open(new LocalTarget(repoDir), 'pw');
    snap = (await backup(repo, { paths: [src], workers: 1 })).snapshot;
    await repo.close();
  });

  it('walks 60+ folders with one read per tree pack', async () => {
    const target = new CountingTarget(repoDir);
    const repo = await Repository.open(target, 'pw');
    await repo.loadIndex();
    const treePacks = [...repo.index.packs.values()].filter((blobs) => blobs.every((b) => b.type === 'tree')).length;
    const trees = repo.index.tree.size;
    expect(trees).toBeGreaterThan(60);
    const files: string[] = [];
    for await (const n of walkTree(repo, snap.tree)) if (n.node.type === 'file') files.push(n.path);
    expect(files).toHaveLength(60);
    // Many trees share few packs, and each pack is read once.
    expect(treePacks).toBeLessThan(trees / 10);
    expect(target.packReads).toBe(treePacks);
    await repo.close();
  });

  it('still names a damaged tree, and reads the others', async () => {
    const repo = await Repository.open(new LocalTarget(repoDir), 'pw');
    await repo.loadIndex();
    // Damage one tree blob in its pack (not the root, so the walk reaches others first).
    const victim = [...repo.index.tree.values()].find((l) => l.id !== snap.tree)!;
    const packFile = path.join(repoDir, 'data', victim.pack.slice(0, 2), victim.pack);
    const bytes = readFileSync(packFile);
    bytes[victim.offset + 20]! ^= 0xff;
    writeFileSync(packFile, bytes);
    const fresh = await Repository.open(new LocalTarget(repoDir), 'pw');
    await expect(fresh.loadTree(victim.id)).rejects.toThrow(new RegExp(`${victim.id}`));
    const other = [...fresh.index.tree.values()].find((l) => l.id !== victim.id && l.pack === victim.pack)!;
    await expect(fresh.loadTree(other.id)).resolves.toHaveProperty('nodes');
    await repo.close();
    await fresh.close();
  });
});
