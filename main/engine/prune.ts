import { createHash } from 'node:crypto';
import type { PackedBlob } from '../../shared/repo/pack.js';
import type { BlobType, Id } from '../../shared/repo/types.js';
import { openBlob } from '../../workers/engine/blob.js';
import { PackWriter, type FinishedPack } from '../../workers/engine/pack-writer.js';
import { RepositoryLock } from './lock.js';
import { encodeIndexFiles } from './master-index.js';
import { mapLimit, type Repository } from './repository.js';
import { isNotFound } from './targets/target.js';

export interface PruneOptions {
  /** Compute and report the plan without changing the repository. */
  dryRun?: boolean;
  /**
   * A partly used pack is repacked when its unused bytes exceed this
   * percentage of the pack (0 repacks every partly used pack). Default 5.
   */
  maxUnusedPercent?: number;
  /** How long to wait for backups holding the repository (ms). Default: fail at once. */
  lockWaitMs?: number;
  onLog?: (line: string) => void;
  /** Plan as if these snapshots had been forgotten (dry runs only: the retention preview's "space freed"). */
  assumeForgotten?: readonly Id[];
}

/** What a prune does (or would do). All sizes are bytes in the repository. */
export interface PrunePlan {
  snapshots: number;
  packs: number;
  totalBytes: number;
  usedBlobs: number;
  usedBytes: number;
  unusedBlobs: number;
  unusedBytes: number;
  /** Packs with no used blob: deleted. */
  deletePacks: Id[];
  /** Partly used packs whose used blobs are copied to new packs before deletion. */
  repackPacks: Id[];
  /** Partly used packs kept as they are (too little to gain). */
  keepPartlyUsed: number;
  /** Bytes removed from the repository (deleted and repacked packs, minus what repacking writes again). */
  bytesFreed: number;
  /** Bytes repacking copies into new packs. */
  bytesRepacked: number;
  /** Used blobs that no pack holds: the repository is damaged; prune refuses to run. */
  missingBlobs: string[];
}

export interface PruneResult extends PrunePlan {
  newPacks: Id[];
  indexFilesWritten: number;
  indexFilesRemoved: number;
  /** Temporary files of saves that never finished (a killed backup's), removed. */
  temporaryFilesRemoved: number;
}

/** A temporary file older than this under the exclusive lock belongs to a save that will never finish. */
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

const key = (type: BlobType, id: Id) => `${type}:${id}`;

/**
 * Removes data no snapshot references. Under an exclusive lock (so no backup
 * runs meanwhile): marks every blob reachable from a snapshot, deletes packs
 * holding none, copies the used blobs of wasteful packs into new packs
 * (verifying each before copying), writes a new index that supersedes all
 * old ones, and only then removes the old index files and packs, in the order
 * restic's design requires so an interruption at any point leaves a valid
 * repository. Packs no index mentions are considered too, never lost.
 */
export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneResult> {
  const log = opts.onLog ?? (() => {});
  const maxUnused = opts.maxUnusedPercent ?? 5;
  if (!(maxUnused >= 0 && maxUnused <= 100)) throw new Error(`max-unused: ${maxUnused} must be a percentage from 0 to 100`);
  if (opts.assumeForgotten?.length && !opts.dryRun) throw new Error('assumeForgotten: only allowed in a dry run');
  const lock = opts.dryRun ? undefined : await RepositoryLock.acquire(repo, { exclusive: true, waitMs: opts.lockWaitMs ?? 0 });
  try {
    let temporaryFilesRemoved = 0;
    if (lock && repo.target.removeLeftovers) {
      // What a killed backup's saves left behind; a failure here costs disk space, never the prune.
      temporaryFilesRemoved = await repo.target.removeLeftovers(Date.now() - LEFTOVER_AGE_MS).catch((e: unknown) => {
        log(`leftover temporary files not removed: ${(e as Error).message}`);
        return 0;
      });
      if (temporaryFilesRemoved > 0) log(`removed ${temporaryFilesRemoved} temporary files left by interrupted saves`);
    }
    const forgotten = new Set(opts.assumeForgotten ?? []);
    const snapshots = (await repo.listSnapshots()).filter((s) => !forgotten.has(s.id));
    await repo.loadIndex();
    const orphans = await repo.findUnindexedPacks();
    for (const o of orphans) repo.index.addPack(o.id, o.blobs);
    const sizes = new Map((await repo.target.list('data')).map((p) => [p.name, p.size]));

    // Mark.
    const used = new Set<string>();
    const walk = async (treeId: Id): Promise<void> => {
      const k = key('tree', treeId);
      if (used.has(k)) return;
      used.add(k);
      const tree = await repo.loadTree(treeId);
      for (const n of tree.nodes) {
        for (const id of n.content ?? []) used.add(key('data', id));
        if (n.subtree) await walk(n.subtree);
      }
    };
    for (const s of snapshots) await walk(s.tree);
    log(`${snapshots.length} snapshots reference ${used.size} blobs`);

    // Each used blob is kept in exactly one place: its first indexed location.
    const keeper = new Map<string, Id>();
    for (const [type, map] of [['data', repo.index.data], ['tree', repo.index.tree]] as const) {
      for (const [id, loc] of map) if (used.has(key(type, id))) keeper.set(key(type, id), loc.pack);
    }
    const missingBlobs = [...used].filter((k) => !keeper.has(k));

    const plan: PrunePlan = {
      snapshots: snapshots.length, packs: 0, totalBytes: 0, usedBlobs: 0, usedBytes: 0, unusedBlobs: 0, unusedBytes: 0,
      deletePacks: [], repackPacks: [], keepPartlyUsed: 0, bytesFreed: 0, bytesRepacked: 0, missingBlobs,
    };
    const repackBlobs = new Map<Id, PackedBlob[]>();
    for (const [packId, blobs] of repo.index.blobsByPack()) {
      const size = sizes.get(packId);
      if (size === undefined) continue; // indexed but gone: check reports it; nothing to free
      plan.packs++;
      plan.totalBytes += size;
      const seen = new Set<string>();
      const keep = blobs.filter((b) => {
        const k = key(b.type, b.id);
        if (keeper.get(k) !== packId || seen.has(k)) return false;
        seen.add(k);
        return true;
      });
      const keepBytes = keep.reduce((n, b) => n + b.length, 0);
      plan.usedBlobs += keep.length;
      plan.usedBytes += keepBytes;
      plan.unusedBlobs += blobs.length - keep.length;
      const unusedBytes = blobs.reduce((n, b) => n + b.length, 0) - keepBytes;
      plan.unusedBytes += unusedBytes;
      if (keep.length === 0) {
        plan.deletePacks.push(packId);
        plan.bytesFreed += size;
      } else if (keep.length < blobs.length) {
        if ((unusedBytes * 100) / size > maxUnused) {
          plan.repackPacks.push(packId);
          repackBlobs.set(packId, keep);
          plan.bytesRepacked += keepBytes;
          plan.bytesFreed += size - keepBytes;
        } else plan.keepPartlyUsed++;
      }
    }
    // Packs in the repository that no index or header describes (unreadable headers) are left for check to report.
    if (missingBlobs.length > 0) {
      throw new Error(`prune refused: ${missingBlobs.length} blobs used by snapshots are in no pack (e.g. ${missingBlobs[0]}); run "lifeboat check" and repair first`);
    }
    log(`${plan.deletePacks.length} packs to delete, ${plan.repackPacks.length} to repack, ${plan.keepPartlyUsed} partly used kept`);
    if (opts.dryRun) return { ...plan, newPacks: [], indexFilesWritten: 0, indexFilesRemoved: 0, temporaryFilesRemoved };

    // Repack: copy verified used blobs verbatim (still encrypted) into new packs.
    const writers = { data: new PackWriter(repo.key, 'data'), tree: new PackWriter(repo.key, 'tree') };
    const newPacks: FinishedPack[] = [];
    const save = async (p: FinishedPack | undefined) => {
      if (!p) return;
      await repo.target.save({ type: 'data', name: p.id }, p.bytes);
      newPacks.push({ id: p.id, bytes: new Uint8Array(0), blobs: p.blobs });
    };
    for (const [packId, blobs] of repackBlobs) {
      const bytes = await repo.target.load({ type: 'data', name: packId }, 0, 0, (b) => b);
      for (const b of blobs) {
        const sealed = bytes.subarray(b.offset, b.offset + b.length);
        const plain = openBlob(repo.key, sealed, b.uncompressedLength);
        if (createHash('sha256').update(plain).digest('hex') !== b.id) throw new Error(`prune refused: ${b.type} blob ${b.id} in pack ${packId} is damaged; run "lifeboat check --read-data"`);
        await save(writers[b.type].add(b.id, Buffer.from(sealed), b.uncompressedLength));
      }
    }
    await save(writers.data.finish());
    await save(writers.tree.finish());

    // New index: every kept pack (as listed) plus the new ones, superseding all old index files.
    const gone = new Set([...plan.deletePacks, ...plan.repackPacks]);
    const kept = [...repo.index.blobsByPack()].filter(([id]) => !gone.has(id) && sizes.has(id)).map(([id, blobs]) => ({ id, blobs }));
    const oldIndex = [...repo.index.files];
    const written = await writeSupersedingIndex(repo, [...kept, ...newPacks], oldIndex);
    let removedIndex = 0;
    for (const id of oldIndex) {
      if (written.includes(id)) continue;
      await repo.target.remove({ type: 'index', name: id }).catch((e) => { if (!isNotFound(e)) throw e; });
      removedIndex++;
    }
    await mapLimit([...gone], 8, async (id) => {
      await repo.target.remove({ type: 'data', name: id }).catch((e) => { if (!isNotFound(e)) throw e; });
    });
    log(`wrote ${newPacks.length} packs and ${written.length} index files; removed ${gone.size} packs and ${removedIndex} index files`);
    return { ...plan, newPacks: newPacks.map((p) => p.id), indexFilesWritten: written.length, indexFilesRemoved: removedIndex, temporaryFilesRemoved };
  } finally {
    await lock?.release();
  }
}

async function writeSupersedingIndex(repo: Repository, packs: { id: Id; blobs: readonly PackedBlob[] }[], supersedes: Id[]): Promise<Id[]> {
  const ids: Id[] = [];
  const files = encodeIndexFiles(packs);
  for (const [i, json] of files.entries()) {
    // The first new index file names the ones it replaces.
    const doc = i === 0 && supersedes.length ? JSON.stringify({ supersedes, ...JSON.parse(json) }) : json;
    ids.push(await repo.saveJSON('index', doc));
  }
  return ids;
}
