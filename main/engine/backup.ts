import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { compileExcludes } from '../../shared/glob.js';
import { withRates, type OperationProgress } from '../../shared/progress.js';
import { formatGoTime } from '../../shared/repo/gotime.js';
import { compareUtf8, encodeTree, sameNode } from '../../shared/repo/tree.js';
import type { Id, Snapshot, SnapshotJSON, SnapshotSummary, TreeNode } from '../../shared/repo/types.js';
import { hexToBytes } from '../../shared/repo/pack.js';
import { CHUNK_MIN_SIZE } from '../../shared/chunker/index.js';
import { sealBlob, type CompressionMode } from '../../workers/engine/blob.js';
import { KnownBlobSet } from '../../workers/engine/known-set.js';
import { PackWriter, DEFAULT_PACK_SIZE } from '../../workers/engine/pack-writer.js';
import { PackBufferExchange } from '../../workers/engine/pack-buffers.js';
import type { BackupFilesReply, WirePack } from '../../workers/engine-messages.js';
import { OperationCancelledError } from './errors.js';
import { Limiter } from './limiter.js';
import { RepositoryLock } from './lock.js';
import { PackUploader, type PendingPack } from './pack-uploader.js';
import { PROGRAM_VERSION, type Repository } from './repository.js';
import { cacheableFolders, everyBlob, FolderCache, folderSignature, sameFolders, type CachedFolder, type FolderCacheState } from './folder-cache.js';
import { SourceScan, type BackupError, type DirEntry, type FileEntry } from './source-scan.js';
import { EngineWorkerPool, defaultWorkerCount } from './worker-pool.js';

export interface BackupOptions {
  /** Files and folders to back up; stored as absolute paths like restic. */
  paths: string[];
  tags?: string[];
  hostname?: string;
  /** Snapshot time in nanoseconds since the epoch (default: now). */
  time?: bigint;
  excludes?: string[];
  /** When not empty, only files matching one of these globs are backed up (folders are still walked). */
  includes?: string[];
  /** Parent snapshot ID; default: the latest snapshot with the same host and paths. Null: none. */
  parent?: Id | null;
  /** Full mode: re-read and re-hash every file even when it looks unchanged (still deduplicated). */
  full?: boolean;
  /** Engine worker threads (chunking, hashing, compression, encryption). */
  workers?: number;
  /** Parallel pack uploads. */
  uploadConnections?: number;
  compression?: CompressionMode;
  packSize?: number;
  onProgress?: (p: OperationProgress) => void;
  signal?: AbortSignal;
  /** How long to wait for an exclusive lock (a prune by another process) before failing (ms). Default: fail at once. */
  lockWaitMs?: number;
  /**
   * The walk of these sources, started earlier with `startSourceScan` (e.g.
   * while the repository's key was derived). Default: started here, before
   * the lock is taken and the index loaded, so those overlap it.
   */
  scan?: SourceScan;
  /**
   * Where the folder cache lives (`folder-cache.ts`): an unchanged folder's
   * tree is then taken from it instead of from the parent's trees. Absent: no
   * cache. Never used in full mode.
   */
  cacheDir?: string;
}

/**
 * Starts walking the sources of a backup (lstat only; nothing is read) so that
 * the walk overlaps opening the repository; hand the result to `backup` as
 * `scan` with the same paths, excludes and includes.
 */
export function startSourceScan(opts: Pick<BackupOptions, 'paths' | 'excludes' | 'includes'>): SourceScan {
  const includes = opts.includes?.length ? compileExcludes(opts.includes, 'include') : undefined;
  const excludes = opts.excludes?.length ? compileExcludes(opts.excludes) : undefined;
  return SourceScan.start(sourcePaths(opts.paths), excludes, includes);
}

/** Sources as stored: absolute, distinct, sorted. */
function sourcePaths(paths: string[]): string[] {
  return [...new Set(paths.map((p) => path.resolve(p)))].sort();
}

export type { BackupError } from './source-scan.js';

export interface BackupResult {
  snapshot: Snapshot;
  /** True when some files could not be read; they are listed in `errors` and absent from the snapshot. */
  partial: boolean;
  errors: BackupError[];
  summary: SnapshotSummary;
  parent?: Id;
  /** Files actually opened and read (unchanged files are not). */
  filesRead: number;
  /** Bytes actually read from sources. */
  bytesRead: number;
}

const PROGRESS_INTERVAL_MS = 200;
const BATCH_BYTES = 4 * 1024 * 1024;
const BATCH_FILES = 256;
/**
 * Pack buffers each worker may have at once (the one it fills, the ones being
 * stored): this bounds a backup's pack memory to workers × 3 × (pack size + 1 MiB).
 */
const PACK_BUFFERS_PER_WORKER = 3;

/**
 * Backs up `paths` into `repo` and writes a snapshot. The main thread walks
 * the sources, skips files unchanged since the parent snapshot, and hands the
 * rest in batches to engine workers, which read, chunk, hash, deduplicate
 * (through a shared known-blob set), compress, encrypt and pack. Finished
 * packs are uploaded in parallel; then index files, then the snapshot are
 * written, in the order restic's design requires. Unreadable files are
 * reported, left out of the snapshot, and make the result `partial`.
 */
export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  if (opts.paths.length === 0) throw new Error('paths: at least one file or folder to back up is required');
  const started = Date.now();
  const startNs = BigInt(started) * 1_000_000n;
  const hostname = opts.hostname ?? os.hostname();
  const sources = sourcePaths(opts.paths);
  if (opts.scan && opts.scan.sources.join('\0') !== sources.join('\0')) throw new Error('internal error: the scan given is of other paths');
  const scan = opts.scan ?? startSourceScan(opts);
  const progress = new ProgressTracker('backup', started, opts.onProgress);
  progress.total(scan.filesFound, scan.bytesFound);
  scan.onFiles = (count, bytes) => progress.total(count, bytes);
  await scan.sourcesReadable; // a source that cannot be read fails the backup before it takes a lock

  let bytesRead = 0;
  const lock = await RepositoryLock.acquire(repo, { exclusive: false, waitMs: opts.lockWaitMs ?? 0, ...(opts.signal ? { signal: opts.signal } : {}) });
  let pool: EngineWorkerPool | undefined;
  let exchange: PackBufferExchange | undefined;
  let orphansIndexed: Promise<void> | undefined;
  let failed = false;
  try {
    // The index (under the lock, so never one a prune is rewriting) and the parent snapshot load together.
    const findParent = async (): Promise<Snapshot | undefined> => {
      if (opts.parent) return repo.findSnapshot(opts.parent);
      if (opts.parent === null) return undefined;
      const key = JSON.stringify(sources);
      const all = await repo.listSnapshots(() => {});
      return all.filter((s) => s.hostname === hostname && JSON.stringify([...s.paths].sort()) === key).pop();
    };
    const folderCache = opts.cacheDir && !opts.full ? FolderCache.for(opts.cacheDir, repo.config.id, hostname, sources, opts.excludes ?? [], opts.includes ?? []) : undefined;
    const [indexFiles, cached, parent] = await Promise.all([repo.target.list('index'), folderCache?.load(repo.key), findParent()]);
    // While every index file the cache was confirmed against is still there, so is every tree and blob it names:
    // then the index is loaded only if something has to be compared with it or written.
    const present = new Set(indexFiles.map((f) => f.name));
    const indexKept = cached !== undefined && cached.indexFiles.length > 0 && cached.indexFiles.every((f) => present.has(f));
    let indexLoaded = indexKept ? undefined : repo.loadIndex(indexFiles);
    indexLoaded?.catch(() => {}); // awaited below
    await scan.done;

    const packSize = opts.packSize ?? DEFAULT_PACK_SIZE;
    const workers = opts.workers ?? defaultWorkerCount();
    const uploadConnections = opts.uploadConnections ?? 4;
    const errors: BackupError[] = scan.errors;
    progress.error(errors.length);
    const root = scan.root;
    // Folder signatures, subfolders first (a folder is always found after the one holding it).
    const sigs = new Map<DirEntry, string | undefined>();
    if (folderCache) for (let i = scan.dirs.length - 1; i >= 0; i--) sigs.set(scan.dirs[i]!, folderSignature(scan.dirs[i]!, sigs));
    // Workers start loading their code as soon as a file has to be read (never for an unchanged re-run).
    const matcher = new ParentMatcher(repo, scan, progress, opts.full ?? false, () => {
      pool ??= EngineWorkerPool.spawn(workers);
    }, cached?.folders, sigs);
    // Nothing changed anywhere since the cache was written: the snapshot is all that is left to write.
    let unchanged = indexKept && matcher.reuseCached(root, { indexChecked: true });
    // Should anything be left to read or encode after all (which the scan's invariants rule out), it is
    // deduplicated against the real index, never an empty one.
    if (unchanged && (scan.files.some((f) => !matcher.unchanged.has(f)) || scan.dirs.some((d) => d.subtree === undefined))) {
      unchanged = false;
      await (indexLoaded ??= repo.loadIndex(indexFiles));
    }
    if (!unchanged && !matcher.reused.has(root)) {
      await (indexLoaded ??= repo.loadIndex(indexFiles));
      // Resume: packs an interrupted backup uploaded but never indexed are indexed and reused. Listing the
      // packs runs while the parent is matched; it is awaited before any blob is claimed.
      orphansIndexed = repo.findUnindexedPacks().then(async (orphans) => {
        if (orphans.length > 0) await repo.saveIndex(orphans);
      });
      orphansIndexed.catch(() => {}); // awaited below
      await matcher.match(root, parent?.tree);
    }
    checkAborted(opts.signal);

    await orphansIndexed;

    const toRead = scan.files.filter((f) => !matcher.unchanged.has(f));
    let maxNewBlobs = 0;
    for (const f of toRead) maxNewBlobs += Math.ceil(f.size / CHUNK_MIN_SIZE) + 2;

    // Packs reach the index in batches while the backup runs, so an interrupted run leaves indexed packs behind.
    let unindexed: PendingPack[] = [];
    let indexing = Promise.resolve();
    const indexBatch = () => {
      const batch = unindexed;
      unindexed = [];
      if (batch.length > 0) indexing = indexing.then(() => repo.saveIndex(batch).then(() => {}));
    };
    // Buffers of stored data packs go back to the worker that built them, for its next packs. Keyed by the
    // pack, not its buffer: a target in another thread gives the bytes back in a new ArrayBuffer object.
    const owners = new Map<PendingPack, number>();
    const uploader = new PackUploader(repo.target, uploadConnections, (p) => {
      progress.uploaded(uploader.uploadedBytes);
      unindexed.push({ id: p.id, bytes: new Uint8Array(0), blobs: p.blobs });
      if (unindexed.length >= 64) indexBatch();
      const owner = owners.get(p);
      if (owner !== undefined) {
        owners.delete(p);
        exchange?.giveBack(owner, p.bytes.buffer as ArrayBuffer);
      }
    });
    // Once an upload failed, workers waiting for a pack buffer stop (their buffers will not come back).
    uploader.onFailure = () => exchange?.abort();
    const enqueuePacks = (packs: WirePack[]) => {
      for (const p of packs) {
        const pack: PendingPack = { id: p.id, bytes: new Uint8Array(p.bytes, 0, p.length), blobs: p.blobs };
        if (p.owner !== undefined) owners.set(pack, p.owner);
        uploader.enqueue(pack);
      }
    };

    // Trees are saved bottom-up as soon as everything below a folder is known, mostly while workers still read.
    const trees = new TreeSaver(repo, packSize, (p) => uploader.enqueue(p));
    const counts: Counts = {
      files_new: 0,
      files_changed: 0,
      files_unmodified: matcher.reusedFiles,
      dirs_new: 0,
      dirs_changed: 0,
      dirs_unmodified: matcher.reusedDirs,
      bytes: matcher.reusedBytes,
    };
    const finishFile = (f: FileEntry) => {
      const dir = f.dir!;
      if (--dir.pending === 0) settleDir(dir, trees, counts, matcher.unchanged);
    };
    for (const f of toRead) f.dir!.pending++;
    for (const d of scan.dirs) if (d.pending === 0 && !d.subtree) settleDir(d, trees, counts, matcher.unchanged);

    let dataBlobs = 0;
    progress.setPhase('reading');
    try {
      if (toRead.length > 0) {
        pool ??= EngineWorkerPool.spawn(workers);
        const known = KnownBlobSet.create(repo.index.data.size + maxNewBlobs);
        for (const id of repo.index.data.keys()) known.claim(hexToBytes(id));
        exchange = new PackBufferExchange(pool.size, PACK_BUFFERS_PER_WORKER);
        const ex = exchange;
        await pool.init((i) => {
          const packBuffers = ex.wireFor(i);
          return {
            init: { key: repo.wireKey(), polynomial: repo.config.chunker_polynomial, knownSet: known.buffers, packSize, compression: opts.compression ?? 'auto', packBuffers },
            transfer: [packBuffers.port],
          };
        });
        pool.onProgress = (m) => {
          bytesRead += m.bytes;
          progress.addBytes(m.bytes, m.path);
        };
        pool.onPacks = (m) => {
          try {
            enqueuePacks(m.packs);
          } catch {
            // The uploader has failed (it refuses packs): that failure ends the run below, not this worker event.
          }
        };
        const workerPool = pool;
        const inflight = new Set<Promise<void>>();
        const maxInflight = workerPool.size * 2;
        // Packs waiting to be stored, beyond those being stored: reading pauses above this (bounded memory).
        const maxBacklog = Math.max(2, uploadConnections) * packSize;
        const handle = (reply: BackupFilesReply, batch: FileEntry[]) => {
          progress.added(reply.bytesAdded, reply.bytesStored);
          dataBlobs += reply.blobsAdded;
          for (const r of reply.files) {
            const entry = batch[r.index]!;
            if (r.error !== undefined || !r.content) {
              entry.failed = true;
              errors.push({ path: entry.path, message: r.error ?? 'unreadable' });
              progress.error();
            } else {
              entry.node.content = r.content;
              entry.node.size = r.size;
            }
            progress.fileDone();
            finishFile(entry);
          }
        };
        for (const batch of batches(toRead)) {
          checkAborted(opts.signal);
          while (inflight.size >= maxInflight) await Promise.race(inflight);
          await uploader.waitForRoom(maxBacklog);
          const p = workerPool
            .run({ kind: 'backup-files', files: batch.map((f, index) => ({ index, path: f.path })) })
            .then((reply) => handle(reply, batch));
          inflight.add(p);
          void p.finally(() => inflight.delete(p)).catch(() => {});
        }
        await Promise.all(inflight);
        for (const r of await workerPool.broadcast({ kind: 'flush' })) enqueuePacks(r.packs);
      }
    } catch (e) {
      // Workers waiting for a pack buffer stop; keep what reached the target usable: finish uploads in flight and index them.
      exchange?.abort();
      await uploader.drain().catch(() => {});
      indexBatch();
      await indexing.catch(() => {});
      // When an upload failed, that is the cause (workers may have stopped because of it): report it.
      await uploader.waitForRoom(Infinity);
      throw e;
    }
    // The workers are done; free their memory before the last uploads.
    const closing = pool?.close();
    pool = undefined;
    exchange?.close();

    progress.setPhase('finishing');
    const rootTree = root.subtree;
    if (!rootTree) throw new Error('internal error: the root tree was not saved');
    trees.finish();
    await uploader.drain();
    indexBatch();
    await indexing;
    await closing;

    const user = os.userInfo();
    const endNs = BigInt(Date.now()) * 1_000_000n;
    if (!parent) {
      // Counts are against the parent, as restic's: without one, what the folder cache supplied is new too.
      counts.files_new += counts.files_unmodified;
      counts.files_unmodified = 0;
      counts.dirs_new += counts.dirs_unmodified;
      counts.dirs_unmodified = 0;
    }
    const summary: SnapshotSummary = {
      backup_start: formatGoTime(startNs),
      backup_end: formatGoTime(endNs),
      files_new: counts.files_new,
      files_changed: counts.files_changed,
      files_unmodified: counts.files_unmodified,
      dirs_new: counts.dirs_new,
      dirs_changed: counts.dirs_changed,
      dirs_unmodified: counts.dirs_unmodified,
      data_blobs: dataBlobs,
      tree_blobs: trees.added,
      data_added: progress.bytesAdded + trees.bytesAdded,
      data_added_packed: progress.bytesStored + trees.bytesStored,
      total_files_processed: counts.files_new + counts.files_changed + counts.files_unmodified,
      total_bytes_processed: counts.bytes,
    };
    const snap: SnapshotJSON = {
      time: formatGoTime(opts.time ?? startNs),
      ...(parent ? { parent: parent.id } : {}),
      tree: rootTree,
      paths: sources,
      hostname,
      username: user.username,
      uid: user.uid,
      gid: user.gid,
      ...(opts.excludes?.length ? { excludes: opts.excludes } : {}),
      ...(opts.tags?.length ? { tags: opts.tags } : {}),
      program_version: PROGRAM_VERSION,
      summary,
    };
    const id = await repo.saveJSON('snapshots', JSON.stringify(snap));
    if (folderCache && !unchanged) {
      const folders = cacheableFolders(scan, sigs, matcher.reused);
      const sameIndex = cached !== undefined && cached.indexFiles.length === repo.index.files.size && cached.indexFiles.every((f) => repo.index.files.has(f));
      // A cache that cannot be written costs the next run time, not this run its snapshot.
      if (!cached || !sameIndex || !sameFolders(folders, cached.folders)) await folderCache.save(repo.key, folders, repo.index.files).catch(() => {});
    }
    progress.setPhase('done');
    const result: BackupResult = { snapshot: { ...snap, id }, partial: errors.length > 0, errors, summary, filesRead: toRead.length, bytesRead };
    if (parent) result.parent = parent.id;
    return result;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    exchange?.close();
    await pool?.close();
    // Nothing may be written once the lock is gone.
    await orphansIndexed?.catch(() => {});
    // After a failure, the run's own error is the one to report; a lock left behind is stale once this process is gone.
    await lock.release().catch((e: unknown) => {
      if (!failed) throw e;
    });
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new OperationCancelledError('backup');
}

/**
 * Groups files into worker tasks: many small files per task, large files
 * alone. Large files go first (largest first), so that no worker is left with
 * one big file while the others have nothing more to do.
 */
function* batches(files: FileEntry[]): Generator<FileEntry[]> {
  const large = files.filter((f) => f.size >= BATCH_BYTES).sort((a, b) => b.size - a.size);
  for (const f of large) yield [f];
  let batch: FileEntry[] = [];
  let bytes = 0;
  for (const f of files) {
    if (f.size >= BATCH_BYTES) continue;
    batch.push(f);
    bytes += f.size;
    if (bytes >= BATCH_BYTES || batch.length >= BATCH_FILES) {
      yield batch;
      batch = [];
      bytes = 0;
    }
  }
  if (batch.length > 0) yield batch;
}

/** Throttled progress reporting shared by the walker, the workers and the finisher. */
export class ProgressTracker {
  private p: Omit<OperationProgress, 'throughput' | 'etaMs' | 'elapsedMs'>;
  private last = 0;

  constructor(operation: OperationProgress['operation'], private readonly started: number, private readonly sink?: (p: OperationProgress) => void) {
    this.p = { operation, phase: 'scanning', filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, bytesAdded: 0, bytesStored: 0, errors: 0 };
  }

  get bytesAdded(): number {
    return this.p.bytesAdded;
  }
  get bytesStored(): number {
    return this.p.bytesStored;
  }

  setPhase(phase: OperationProgress['phase']): void {
    this.p.phase = phase;
    this.emit(true);
  }
  total(files: number, bytes: number): void {
    this.p.filesTotal += files;
    this.p.bytesTotal += bytes;
    this.emit(false);
  }
  addBytes(bytes: number, file?: string): void {
    this.p.bytesDone += bytes;
    if (file) this.p.currentFile = file;
    this.emit(false);
  }
  fileDone(count = 1, file?: string): void {
    this.p.filesDone += count;
    if (file) this.p.currentFile = file;
    this.emit(false);
  }
  /** Total bytes of packs the target has stored. */
  uploaded(total: number): void {
    this.p.bytesUploaded = total;
    this.emit(false);
  }
  added(plain: number, stored: number): void {
    this.p.bytesAdded += plain;
    this.p.bytesStored += stored;
  }
  error(count = 1): void {
    this.p.errors += count;
  }

  private emit(force: boolean): void {
    if (!this.sink) return;
    const now = Date.now();
    if (!force && now - this.last < PROGRESS_INTERVAL_MS) return;
    this.last = now;
    this.sink(withRates({ ...this.p, elapsedMs: now - this.started }));
  }
}

/** Serialises trees, deduplicates them and packs new ones (in the main thread: trees are small). */
class TreeSaver {
  private writer: PackWriter;
  private seen = new Set<Id>();
  added = 0;
  bytesAdded = 0;
  bytesStored = 0;

  constructor(readonly repo: Repository, packSize: number, private readonly enqueue: (p: PendingPack) => void) {
    this.writer = new PackWriter(repo.key, 'tree', packSize);
  }

  save(nodes: TreeNode[]): Id {
    const json = Buffer.from(encodeTree({ nodes }), 'utf8');
    const id = createHash('sha256').update(json).digest('hex');
    if (this.seen.has(id) || this.repo.index.has('tree', id)) return id;
    this.seen.add(id);
    const sealed = sealBlob(this.repo.key, json, 'auto');
    this.added++;
    this.bytesAdded += json.length;
    this.bytesStored += sealed.sealed.length;
    const pack = this.writer.add(id, sealed.sealed, sealed.uncompressedLength);
    if (pack) this.enqueue(pack);
    return id;
  }

  finish(): void {
    const pack = this.writer.finish();
    if (pack) this.enqueue(pack);
  }
}

/**
 * Matches the scanned entries with the parent snapshot's nodes, loading the
 * parent's trees as it goes (several at once): a file with the same size,
 * mtime, ctime and inode whose blobs are all indexed is unchanged and keeps
 * its content list without being read; a folder keeps the parent's tree, so
 * that if nothing in it changed, that tree stands for it unencoded.
 */
class ParentMatcher {
  readonly unchanged = new Set<FileEntry>();
  /** Folders whose tree came from the folder cache, with their cache entry. */
  readonly reused = new Map<DirEntry, CachedFolder>();
  /** Files (and their bytes) and folders below a reused folder (the reused folder itself is counted with its parent's tree). */
  reusedFiles = 0;
  reusedBytes = 0;
  reusedDirs = 0;
  private readonly treeLoads = new Limiter(16);

  constructor(
    private readonly repo: Repository,
    private readonly scan: SourceScan,
    private readonly progress: ProgressTracker,
    private readonly full: boolean,
    /** Called for each file that will have to be read. */
    private readonly onFileToRead: () => void,
    private readonly cache?: FolderCacheState,
    private readonly sigs?: Map<DirEntry, string | undefined>,
  ) {}

  async match(root: DirEntry, parentTree: Id | undefined): Promise<void> {
    await this.matchDir(root, parentTree);
  }

  /**
   * Takes `dir`'s tree, and those of every folder below it, from the folder
   * cache when its signature is unchanged and the index still has each tree
   * and each file's blobs (`indexChecked`: known without looking, see
   * `LoadedFolderCache.indexFiles`). Its files are then unchanged and not read.
   */
  reuseCached(dir: DirEntry, opts: { indexChecked?: boolean } = {}): boolean {
    const hit = this.cache?.get(dir.path);
    if (!hit || hit.sig !== this.sigs?.get(dir)) return false;
    const index = this.repo.index;
    const below: [DirEntry, CachedFolder][] = [];
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop()!;
      const c = this.cache!.get(d.path);
      if (!c) return false;
      if (!opts.indexChecked && (!index.has('tree', c.tree) || !everyBlob(c, (b) => index.has('data', b)))) return false;
      below.push([d, c]);
      for (const e of d.children.values()) if (e.kind === 'dir') stack.push(e);
    }
    for (const [d, c] of below) {
      d.subtree = c.tree;
      this.reused.set(d, c);
      if (d !== dir) this.reusedDirs++;
      this.reusedFiles += d.fileCount;
      this.reusedBytes += d.fileBytes;
      this.progress.addBytes(d.fileBytes);
      this.progress.fileDone(d.fileCount);
      // Files already materialized (a source that is a file, a folder someone materialized) are not to be read.
      if (!d.pendingListing) for (const e of d.children.values()) if (e.kind === 'file') this.unchanged.add(e);
    }
    if (dir.parent) dir.parent.pending--; // its tree is known: the folder holding it waits for it no more
    return true;
  }

  private async matchDir(dir: DirEntry, treeId: Id | undefined): Promise<void> {
    if (this.reuseCached(dir)) return;
    this.scan.materialize(dir);
    const kids = treeId ? await this.parentChildren(dir, treeId) : undefined;
    const below: Promise<void>[] = [];
    for (const e of dir.children.values()) {
      const p = kids?.get(e.name);
      if (e.kind === 'file') {
        if (p) e.parentNode = p;
        if (!this.full && p && this.isUnchanged(p, e.node)) {
          e.node.content = p.content;
          this.unchanged.add(e);
          this.progress.addBytes(e.size);
          this.progress.fileDone();
        } else {
          this.onFileToRead();
        }
      } else if (e.kind === 'dir') {
        if (p) e.parentNode = p;
        below.push(this.matchDir(e, p?.type === 'dir' ? p.subtree : undefined));
      }
    }
    await Promise.all(below);
  }

  private parentChildren(dir: DirEntry, treeId: Id): Promise<Map<string, TreeNode> | undefined> {
    return this.treeLoads.run(async () => {
      try {
        const t = await this.repo.loadTree(treeId);
        const kids = new Map(t.nodes.map((n) => [n.name, n]));
        // A tree with fields Lifeboat does not model never stands for a folder: they would be carried over unchecked.
        if (!t.foreignFields) {
          dir.parentTree = kids;
          dir.parentTreeId = treeId;
        }
        return kids;
      } catch {
        // An unreadable parent tree only costs re-reading; it is not an error of this backup.
        return undefined;
      }
    });
  }

  private isUnchanged(p: TreeNode, node: TreeNode): boolean {
    return (
      p.type === 'file' &&
      (p.size ?? 0) === (node.size ?? 0) &&
      p.mtime === node.mtime &&
      p.ctime === node.ctime &&
      p.inode === node.inode &&
      Array.isArray(p.content) &&
      p.content.every((id) => this.repo.index.has('data', id))
    );
  }
}

/**
 * The parent snapshot's tree of `dir` when it says exactly what `nodes` say
 * (same names, every field equal) and the repository still has it: then it is
 * the folder's tree as is, and encoding and hashing it again is skipped.
 */
function unchangedParentTree(dir: DirEntry, nodes: TreeNode[], repo: Repository): Id | undefined {
  const kids = dir.parentTree;
  const id = dir.parentTreeId;
  if (!kids || !id || kids.size !== nodes.length) return undefined;
  for (const n of nodes) {
    const p = kids.get(n.name);
    if (!p || !sameNode(n, p)) return undefined;
  }
  return repo.index.has('tree', id) ? id : undefined;
}

/** The snapshot summary's counts, and the bytes of the files it holds. */
type Counts = Pick<SnapshotSummary, 'files_new' | 'files_changed' | 'files_unmodified' | 'dirs_new' | 'dirs_changed' | 'dirs_unmodified'> & { bytes: number };

/**
 * Saves a folder's tree once all its children are final (files read, subfolders
 * saved), then settles its parent if this was the last thing it waited for.
 * Failed files are left out.
 */
function settleDir(dir: DirEntry, trees: TreeSaver, counts: Counts, unchanged: Set<FileEntry>): void {
  for (let d: DirEntry | undefined = dir; d; d = d.parent) {
    const nodes: TreeNode[] = [];
    for (const name of [...d.children.keys()].sort(compareUtf8)) {
      const e = d.children.get(name)!;
      if (e.kind === 'file') {
        if (e.failed) continue;
        if (unchanged.has(e)) counts.files_unmodified++;
        else if (e.parentNode) counts.files_changed++;
        else counts.files_new++;
        counts.bytes += e.node.size ?? 0;
        nodes.push(e.node);
      } else if (e.kind === 'other') {
        nodes.push(e.node);
      } else {
        const subtree = e.subtree;
        if (!subtree) throw new Error(`internal error: tree of ${e.path} saved before its subfolder's`);
        const node = e.node!;
        node.subtree = subtree;
        if (!e.parentNode) counts.dirs_new++;
        else if (e.parentNode.subtree === subtree) counts.dirs_unmodified++;
        else counts.dirs_changed++;
        nodes.push(node);
      }
    }
    d.subtree = unchangedParentTree(d, nodes, trees.repo) ?? trees.save(nodes);
    if (!d.parent || --d.parent.pending > 0) return;
  }
}
