/** Prune on a real repository, judged by restic. */
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { RepositoryLockedError } from '../../main/engine/errors.js';
import { RepositoryLock } from '../../main/engine/lock.js';
import { prune } from '../../main/engine/prune.js';
import { Repository } from '../../main/engine/repository.js';
import { restore } from '../../main/engine/restore.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { ok, requireTool, restic, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let repoDir: string;
const PASSWORD = 'correct horse battery staple'; // the scratch password file's content

function repoBytes(dir: string): number {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .reduce((n, d) => n + statSync(path.join(d.parentPath, d.name)).size, 0);
}

const open = () => Repository.open(new LocalTarget(repoDir), PASSWORD);

beforeAll(() => {
  requireTool('restic');
  s = scratch();
  repoDir = path.join(s.dir, 'repo');
});
afterAll(() => s?.dispose());

describe('prune', () => {
  it('deletes unused packs, repacks partly used ones, and leaves a repository restic verifies', async () => {
    const mixed = path.join(s.dir, 'mixed');
    const keepOnly = path.join(s.dir, 'keep-only');
    const gone = path.join(s.dir, 'gone');
    for (const d of [mixed, keepOnly, gone]) mkdirSync(d, { recursive: true });
    const keepData = pseudoRandom('keep', 2 * 1024 * 1024);
    writeFileSync(path.join(mixed, 'keep.bin'), keepData);
    writeFileSync(path.join(mixed, 'drop.bin'), pseudoRandom('drop', 6 * 1024 * 1024));
    writeFileSync(path.join(keepOnly, 'keep.bin'), keepData);
    writeFileSync(path.join(gone, 'gone.bin'), pseudoRandom('gone', 3 * 1024 * 1024));

    await Repository.init(new LocalTarget(repoDir), PASSWORD);
    // keep.bin and drop.bin share one data pack; gone.bin gets its own.
    const a = await backup(await open(), { paths: [mixed], workers: 1 });
    const b = await backup(await open(), { paths: [keepOnly], workers: 1 });
    const c = await backup(await open(), { paths: [gone], workers: 1 });
    // Forget the snapshots of "mixed" and "gone" the way restic does: remove their files.
    const r = await open();
    await r.target.remove({ type: 'snapshots', name: a.snapshot.id });
    await r.target.remove({ type: 'snapshots', name: c.snapshot.id });

    const before = repoBytes(repoDir);
    const plan = await prune(await open(), { dryRun: true });
    expect(repoBytes(repoDir)).toBe(before); // a dry run changes nothing
    expect(plan.repackPacks.length).toBe(1);
    expect(plan.deletePacks.length).toBeGreaterThanOrEqual(2); // gone.bin's data pack and stale tree packs
    expect(plan.bytesFreed).toBeGreaterThan(9 * 1024 * 1024 - 200_000);

    const res = await prune(await open());
    expect(res.bytesFreed).toBe(plan.bytesFreed);
    const after = repoBytes(repoDir);
    // The repository shrank by what was freed (index files change too, by a few hundred bytes).
    expect(Math.abs(before - after - res.bytesFreed)).toBeLessThan(4096);

    const check = restic(['-r', repoDir, 'check', '--read-data'], s.passwordFile);
    expect(check.stdout + check.stderr).toContain('no errors were found');
    expect(check.stdout + check.stderr).not.toContain('additional files');

    // The remaining snapshot restores completely, through restic and through Lifeboat.
    const viaRestic = path.join(s.dir, 'restic-restore');
    ok(restic(['-r', repoDir, 'restore', b.snapshot.id, '--target', viaRestic], s.passwordFile), 'restic restore');
    expect(diffTrees(describeTree(keepOnly), describeTree(path.join(viaRestic, keepOnly)))).toEqual([]);
    const viaLifeboat = path.join(s.dir, 'lb-restore');
    const fresh = await open();
    await restore(fresh, await fresh.findSnapshot(b.snapshot.id), { target: viaLifeboat, workers: 1 });
    expect(diffTrees(describeTree(keepOnly), describeTree(path.join(viaLifeboat, keepOnly)))).toEqual([]);

    // Nothing left to do.
    const again = await prune(await open(), { dryRun: true, maxUnusedPercent: 0 });
    expect(again.deletePacks).toEqual([]);
    expect(again.repackPacks).toEqual([]);
    expect(again.unusedBytes).toBe(0);
  });

  it("removes the temporary files killed saves left over an hour ago, not a younger one (whose save may still be someone's)", async () => {
    const prefix = readdirSync(path.join(repoDir, 'data')).find((d) => readdirSync(path.join(repoDir, 'data', d)).length > 0)!;
    const old = [path.join(repoDir, 'data', prefix, '.tmp-00112233445566aa'), path.join(repoDir, 'snapshots', '.tmp-00112233445566bb')];
    const young = path.join(repoDir, 'index', '.tmp-00112233445566cc');
    for (const f of [...old, young]) writeFileSync(f, Buffer.alloc(4096, 1));
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const f of old) utimesSync(f, twoHoursAgo, twoHoursAgo);
    const lines: string[] = [];
    const res = await prune(await open(), { onLog: (l) => lines.push(l) });
    expect(res.temporaryFilesRemoved).toBe(2);
    expect(lines.join('\n')).toContain('removed 2 temporary files left by interrupted saves');
    for (const f of old) expect(existsSync(f), f).toBe(false);
    expect(existsSync(young)).toBe(true);
    // A dry run removes nothing.
    utimesSync(young, twoHoursAgo, twoHoursAgo);
    expect((await prune(await open(), { dryRun: true })).temporaryFilesRemoved).toBe(0);
    expect(existsSync(young)).toBe(true);
  });

  it('refuses while a backup holds the repository, naming the holder', async () => {
    const held = await RepositoryLock.acquire(await open(), { exclusive: false });
    await expect(prune(await open())).rejects.toThrow(RepositoryLockedError);
    await expect(prune(await open())).rejects.toThrow(/locked for backup \(shared\) by .* pid/);
    await held.release();
  });
});
