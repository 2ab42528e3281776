import { withRates, type OperationProgress } from '../../shared/progress.js';
import { packHeaderPlainSize, type PackedBlob } from '../../shared/repo/pack.js';
import type { Id } from '../../shared/repo/types.js';
import { CIPHERTEXT_OVERHEAD } from '../../workers/crypto/crypto.js';
import { exclusiveArrayBuffer } from '../../workers/engine-messages.js';
import { RepositoryLock } from './lock.js';
import { mapLimit, type Repository } from './repository.js';
import { EngineWorkerPool, defaultWorkerCount } from './worker-pool.js';

export interface CheckOptions {
  /** Read every pack and verify every blob (restic's --read-data). */
  readData?: boolean;
  /** Read only part of the packs: "n/t" (group n of t) or "P%" (a random P percent). Implies readData. */
  readDataSubset?: string;
  workers?: number;
  onProgress?: (p: OperationProgress) => void;
}

export interface CheckResult {
  /** Problems that make data unrestorable or the repository inconsistent; each names the file concerned. */
  errors: string[];
  /** Things worth knowing that lose nothing (e.g. packs no index mentions). */
  warnings: string[];
  packs: number;
  snapshots: number;
  trees: number;
  packsRead: number;
  bytesRead: number;
}

/** Chooses the packs a --read-data-subset reads. Throws naming the option when malformed. */
export function selectSubset(packs: Id[], subset: string): Id[] {
  const group = /^(\d+)\/(\d+)$/.exec(subset);
  if (group) {
    const n = Number(group[1]);
    const t = Number(group[2]);
    if (t < 1 || n < 1 || n > t) throw new Error(`read-data-subset: ${subset} must be n/t with 1 <= n <= t`);
    // Like restic: a pack belongs to group (first byte of its ID mod t) + 1.
    return packs.filter((id) => (parseInt(id.slice(0, 2), 16) % t) + 1 === n);
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(subset);
  if (pct) {
    const p = Number(pct[1]);
    if (p <= 0 || p > 100) throw new Error(`read-data-subset: ${subset} must be a percentage above 0 and at most 100`);
    const shuffled = [...packs].sort(() => Math.random() - 0.5);
    return shuffled.slice(0, Math.max(1, Math.round((packs.length * p) / 100)));
  }
  throw new Error(`read-data-subset: ${JSON.stringify(subset)} is neither n/t nor P%`);
}

/**
 * Checks a repository's structure: every index file readable, every
 * indexed pack present with the size its index implies and a header that
 * agrees with the index, every snapshot's trees readable and every blob they
 * reference indexed. With `readData`, also reads every (or a subset of) pack
 * in engine workers and verifies its hash, header and every blob's MAC and
 * content hash. Errors name the pack, snapshot or path concerned.
 */
export async function check(repo: Repository, opts: CheckOptions = {}): Promise<CheckResult> {
  const started = Date.now();
  const result: CheckResult = { errors: [], warnings: [], packs: 0, snapshots: 0, trees: 0, packsRead: 0, bytesRead: 0 };
  const lock = await RepositoryLock.acquire(repo, { exclusive: false });
  let pool: EngineWorkerPool | undefined;
  try {
    // Snapshots first, then the index (restic's read ordering).
    const snapshots = await repo.listSnapshots((id, e) => result.errors.push(`snapshot ${id}: unreadable: ${e.message}`));
    result.snapshots = snapshots.length;
    const indexFiles = await repo.target.list('index');
    await mapLimit(indexFiles, 8, async (f) => {
      try {
        repo.index.addIndexFile(f.name, await repo.loadJSON('index', f.name));
      } catch (e) {
        result.errors.push(`index ${f.name}: unreadable: ${(e as Error).message}`);
      }
    });
    const stored = new Map((await repo.target.list('data')).map((p) => [p.name, p.size]));
    const byPack = repo.index.blobsByPack();
    result.packs = stored.size;

    for (const [packId, blobs] of byPack) {
      const size = stored.get(packId);
      if (size === undefined) {
        result.errors.push(`pack ${packId}: listed in the index but missing from the repository (${blobs.length} blobs lost)`);
        continue;
      }
      const expected = blobs.reduce((n, b) => n + b.length, 0) + packHeaderPlainSize(blobs) + CIPHERTEXT_OVERHEAD + 4;
      if (expected !== size) result.errors.push(`pack ${packId}: size is ${size} bytes, the index implies ${expected}`);
    }
    for (const id of stored.keys()) {
      if (!byPack.has(id)) result.warnings.push(`pack ${id}: not referenced by any index (left by an interrupted backup; the next backup adopts it, prune removes it)`);
    }

    // Without read-data, compare each pack's header with the index.
    if (!opts.readData && !opts.readDataSubset) {
      await mapLimit([...byPack.keys()].filter((id) => stored.has(id)), 8, async (packId) => {
        try {
          const header = await repo.loadPackHeader(packId, stored.get(packId));
          const have = new Map(header.map((b) => [`${b.type}:${b.id}`, b]));
          for (const b of byPack.get(packId)!) {
            const h = have.get(`${b.type}:${b.id}`);
            if (!h || h.offset !== b.offset || h.length !== b.length) result.errors.push(`pack ${packId}: header does not list ${b.type} blob ${b.id} where the index says`);
          }
        } catch (e) {
          result.errors.push(`pack ${packId}: header unreadable: ${(e as Error).message}`);
        }
      });
    }

    // Trees reachable from snapshots.
    const seenTrees = new Set<Id>();
    const walk = async (treeId: Id, where: string): Promise<void> => {
      if (seenTrees.has(treeId)) return;
      seenTrees.add(treeId);
      if (!repo.index.has('tree', treeId)) {
        result.errors.push(`${where}: tree ${treeId} is not in the index`);
        return;
      }
      let nodes;
      try {
        nodes = (await repo.loadTree(treeId)).nodes;
      } catch (e) {
        result.errors.push(`${where}: tree ${treeId}: ${(e as Error).message}`);
        return;
      }
      for (const n of nodes) {
        const p = `${where}/${n.name}`;
        if (n.type === 'file') {
          for (const id of n.content ?? []) if (!repo.index.has('data', id)) result.errors.push(`${p}: data blob ${id} is not in the index`);
        } else if (n.type === 'dir') {
          if (!n.subtree) result.errors.push(`${p}: folder without subtree`);
          else await walk(n.subtree, p);
        }
      }
    };
    for (const s of snapshots) await walk(s.tree, `snapshot ${s.id.slice(0, 8)}:`);
    result.trees = seenTrees.size;

    if (opts.readData || opts.readDataSubset) {
      let toRead = [...stored.keys()].sort();
      if (opts.readDataSubset) toRead = selectSubset(toRead, opts.readDataSubset);
      const bytesTotal = toRead.reduce((n, id) => n + stored.get(id)!, 0);
      let bytesDone = 0;
      let lastEmit = 0;
      pool = await EngineWorkerPool.start(opts.workers ?? defaultWorkerCount(), { key: repo.wireKey() });
      const workerPool = pool;
      await mapLimit(toRead, workerPool.size * 2, async (packId) => {
        let bytes: ArrayBuffer;
        try {
          bytes = await repo.target.load({ type: 'data', name: packId }, 0, 0, (b) => exclusiveArrayBuffer(b));
        } catch (e) {
          result.errors.push(`pack ${packId}: unreadable: ${(e as Error).message}`);
          return;
        }
        const size = bytes.byteLength;
        const indexed: PackedBlob[] = byPack.get(packId) ?? [];
        const reply = await workerPool.run({ kind: 'verify-pack', packId, bytes, indexed }, [bytes]);
        result.errors.push(...reply.errors);
        result.packsRead++;
        result.bytesRead += size;
        bytesDone += size;
        const now = Date.now();
        if (opts.onProgress && now - lastEmit > 200) {
          lastEmit = now;
          opts.onProgress(withRates({ operation: 'check', phase: 'verifying', filesTotal: toRead.length, filesDone: result.packsRead, bytesTotal, bytesDone, bytesAdded: 0, bytesStored: 0, errors: result.errors.length, elapsedMs: now - started }));
        }
      });
    }
    return result;
  } finally {
    await pool?.close();
    await lock.release();
  }
}
