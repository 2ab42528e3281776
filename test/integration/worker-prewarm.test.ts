import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { restore } from '../../main/engine/restore.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { EngineWorkerPool } from '../../main/engine/worker-pool.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { scratch } from '../helpers/tools.js';

// `lifeboat restore` starts its workers while the key is derived; the restore then takes them.
describe('prewarmed engine workers', () => {
  const s = scratch('lifeboat-prewarm-');
  afterAll(() => s.dispose());

  it('are taken by the next pool, which restores with them', async () => {
    const src = path.join(s.dir, 'src');
    makeSourceTree(src);
    await Repository.init(new LocalTarget(path.join(s.dir, 'repo')), 'pw');
    const repo = await Repository.open(new LocalTarget(path.join(s.dir, 'repo')), 'pw');
    const snap = (await backup(repo, { paths: [src], workers: 2 })).snapshot;

    EngineWorkerPool.prewarm(2, 60_000);
    expect(EngineWorkerPool.warmCount).toBe(2);
    const target = path.join(s.dir, 'restored');
    const res = await restore(repo, snap, { target, workers: 2 });
    expect(EngineWorkerPool.warmCount).toBe(0);
    expect(res.errors).toEqual([]);
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
    await repo.close();
  });

  it('end when no pool takes them in time', async () => {
    EngineWorkerPool.prewarm(1, 100);
    expect(EngineWorkerPool.warmCount).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(EngineWorkerPool.warmCount).toBe(0);
  });
});
