/** The engine API in-process, on real files, real worker threads and a real local repository. */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationProgress } from '../../shared/progress.js';
import { formatGoTime } from '../../shared/repo/gotime.js';
import { encodeTree } from '../../shared/repo/tree.js';
import type { TreeNode } from '../../shared/repo/types.js';
import { backup } from '../../main/engine/backup.js';
import { check } from '../../main/engine/check.js';
import { RepositoryLockedError } from '../../main/engine/errors.js';
import { judgeLock, listLocks, RepositoryLock } from '../../main/engine/lock.js';
import { Repository } from '../../main/engine/repository.js';
import { restore } from '../../main/engine/restore.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { sealBlob } from '../../workers/engine/blob.js';
import { PackWriter } from '../../workers/engine/pack-writer.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let src: string;
const PASSWORD = 'engine test password';

beforeAll(async () => {
  s = scratch();
  src = path.join(s.dir, 'src');
  makeSourceTree(src);
  await Repository.init(new LocalTarget(path.join(s.dir, 'repo')), PASSWORD);
});
afterAll(() => s?.dispose());

async function reopen(): Promise<Repository> {
  return Repository.open(new LocalTarget(path.join(s.dir, 'repo')), PASSWORD);
}

describe('backup', () => {
  it('reads only what changed since the parent snapshot, and everything in full mode', async () => {
    const events: OperationProgress[] = [];
    const first = await backup(await reopen(), { paths: [src], workers: 2, onProgress: (p) => events.push(p) });
    const total = first.summary.total_bytes_processed;
    expect(first.filesRead).toBe(first.summary.total_files_processed);
    expect(first.bytesRead).toBe(total);

    // Progress: phases in order, and the totals reached at the end.
    const phases = events.map((e) => e.phase).filter((p, i, a) => a[i - 1] !== p);
    expect(phases).toEqual(['scanning', 'reading', 'finishing', 'done']);
    const last = events[events.length - 1]!;
    expect(last.bytesDone).toBe(last.bytesTotal);
    expect(last.filesDone).toBe(last.filesTotal);
    expect(last.bytesAdded).toBeGreaterThan(0);

    const second = await backup(await reopen(), { paths: [src], workers: 2 });
    expect(second.parent).toBe(first.snapshot.id);
    expect(second.filesRead).toBe(0);
    expect(second.bytesRead).toBe(0);
    expect(second.summary.files_unmodified).toBe(first.summary.total_files_processed);
    expect(second.summary.data_blobs).toBe(0);

    appendFileSync(path.join(src, 'big/text.txt'), 'changed\n');
    const third = await backup(await reopen(), { paths: [src], workers: 2 });
    expect(third.filesRead).toBe(1);
    expect(third.summary.files_changed).toBe(1);
    expect(third.bytesRead).toBe(readFileSync(path.join(src, 'big/text.txt')).length);

    const full = await backup(await reopen(), { paths: [src], workers: 2, full: true });
    expect(full.bytesRead).toBe(full.summary.total_bytes_processed);
    expect(full.summary.data_blobs).toBe(0); // re-read and re-hashed, still deduplicated
  });

  it('refuses to run while another process holds an exclusive lock, and ignores a dead one', async () => {
    const r = await reopen();
    const held = await RepositoryLock.acquire(r, { exclusive: true });
    await expect(backup(await reopen(), { paths: [path.join(src, 'docs')] })).rejects.toThrow(RepositoryLockedError);
    await expect(backup(await reopen(), { paths: [path.join(src, 'docs')] })).rejects.toThrow(/locked exclusively by .* pid \d+/);
    await held.release();

    // A lock left by a process that no longer exists on this host does not block.
    const dead = JSON.stringify({ time: formatGoTime(BigInt(Date.now()) * 1_000_000n), exclusive: true, hostname: os.hostname(), username: 'x', pid: 2 ** 22 + 12345, uid: 0, gid: 0 });
    const deadId = await r.saveJSON('locks', dead);
    const locks = await listLocks(r);
    expect(locks.find((l) => l.id === deadId)?.stale).toBe(true);
    await expect(backup(await reopen(), { paths: [path.join(src, 'docs')] })).resolves.toMatchObject({ partial: false });
    await r.target.remove({ type: 'locks', name: deadId });
  });

  it('judges locks by age and by whether their process lives', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    const at = (min: number) => formatGoTime(BigInt(now - min * 60000) * 1_000_000n, 0);
    const base = { exclusive: false, username: 'u', uid: 0, gid: 0 };
    expect(judgeLock({ ...base, time: at(31), hostname: 'other', pid: 1 }, now, 'me', () => true).stale).toBe(true);
    expect(judgeLock({ ...base, time: at(5), hostname: 'other', pid: 1 }, now, 'me', () => false).stale).toBe(false);
    expect(judgeLock({ ...base, time: at(5), hostname: 'me', pid: 42 }, now, 'me', () => false)).toEqual({ stale: true, reason: 'process 42 on this host (me) is gone' });
    expect(judgeLock({ ...base, time: at(5), hostname: 'me', pid: 42 }, now, 'me', () => true).stale).toBe(false);
  });
});

describe('check', () => {
  it('names a pack that the index lists but the repository lost', async () => {
    const dir = path.join(s.dir, 'check-repo');
    const r = await Repository.init(new LocalTarget(dir), PASSWORD);
    await backup(r, { paths: [path.join(src, 'dupes')], workers: 1 });
    const fresh = await Repository.open(new LocalTarget(dir), PASSWORD);
    expect((await check(fresh)).errors).toEqual([]);
    const packs = readdirSync(path.join(dir, 'data'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    const victim = packs[0]!;
    rmSync(path.join(victim.parentPath, victim.name));
    const res = await check(await Repository.open(new LocalTarget(dir), PASSWORD));
    expect(res.errors.some((e) => e.includes(`pack ${victim.name}`) && e.includes('missing'))).toBe(true);
  });
});

describe('restore from a hostile repository', () => {
  it('never writes outside the target folder', async () => {
    const dir = path.join(s.dir, 'hostile-repo');
    const r = await Repository.init(new LocalTarget(dir), PASSWORD);
    const outside = path.join(s.dir, 'outside');
    mkdirSync(outside);

    const data = Buffer.from('pwned\n');
    const dataId = createHash('sha256').update(data).digest('hex');
    const t = BigInt(Date.now()) * 1_000_000n;
    const file = (name: string): TreeNode => ({ name, type: 'file', mode: 0o644, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, size: data.length, content: [dataId] });
    const dir_ = (name: string, subtree: string): TreeNode => ({ name, type: 'dir', mode: 2 ** 31 + 0o755, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, content: null, subtree });
    const link = (name: string, target: string): TreeNode => ({ name, type: 'symlink', mode: 2 ** 27 + 0o777, mtime: t, atime: t, ctime: t, uid: 0, gid: 0, linktarget: target, content: null });

    const dataPack = new PackWriter(r.key, 'data');
    const sealed = sealBlob(r.key, data, 'auto');
    dataPack.add(dataId, sealed.sealed, sealed.uncompressedLength);
    const treePack = new PackWriter(r.key, 'tree');
    const saveTree = (nodes: TreeNode[]) => {
      const json = Buffer.from(encodeTree({ nodes }));
      const id = createHash('sha256').update(json).digest('hex');
      const b = sealBlob(r.key, json, 'auto');
      treePack.add(id, b.sealed, b.uncompressedLength);
      return id;
    };
    const inner = saveTree([file('pwned.txt')]);
    const root = saveTree([
      dir_('..', inner), // climbs out of the target
      file('a/b'), // a name with a separator
      link('evil', outside), // a symlink to outside...
      dir_('evil', inner), // ...and a folder of the same name to write through it
      dir_('pre', inner), // the target already has a symlink "pre" pointing outside
      file('good.txt'),
      file('twice.txt'), // two entries, one name: the second would be written into the first
      file('twice.txt'),
    ]);
    const packs = [dataPack.finish()!, treePack.finish()!];
    for (const p of packs) await r.target.save({ type: 'data', name: p.id }, p.bytes);
    await r.saveIndex(packs);
    const snapId = await r.saveJSON('snapshots', JSON.stringify({ time: formatGoTime(t), tree: root, paths: ['/x'], hostname: 'h' }));

    const target = path.join(s.dir, 'hostile-target');
    mkdirSync(target);
    symlinkSync(outside, path.join(target, 'pre'));
    const fresh = await Repository.open(new LocalTarget(dir), PASSWORD);
    const res = await restore(fresh, await fresh.findSnapshot(snapId), { target, workers: 1 });

    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(path.join(s.dir, 'pwned.txt'))).toBe(false);
    expect(readFileSync(path.join(target, 'good.txt'), 'utf8')).toBe('pwned\n');
    const messages = res.errors.map((e) => `${e.path}: ${e.message}`).join('\n');
    expect(messages).toMatch(/\/\.\.: refused: unsafe name/);
    expect(messages).toMatch(/a\/b: refused: unsafe name/);
    expect(messages).toMatch(/pre: exists and is not a folder/);
    expect(messages).toMatch(/\/evil: refused: another entry of its folder has the same name/);
    expect(messages).toMatch(/\/twice\.txt: refused: another entry of its folder has the same name/);
    expect(readFileSync(path.join(target, 'twice.txt'), 'utf8')).toBe('pwned\n');
  });
});

describe('a restore of the same snapshot by path', () => {
  it('equals the source', async () => {
    const r = await reopen();
    const snap = await r.findSnapshot('latest', (x) => x.paths.length === 1 && x.paths[0] === src);
    const target = path.join(s.dir, 'restore-again');
    const res = await restore(r, snap, { target, workers: 2 });
    expect(res.errors).toEqual([]);
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });
});
