import { createHash } from 'node:crypto';
import { lstatSync, promises as fsp, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileExcludes, type ExcludeMatcher } from '../../shared/glob.js';
import { withRates, type OperationProgress } from '../../shared/progress.js';
import { formatGoTime } from '../../shared/repo/gotime.js';
import { goModeFromPosix } from '../../shared/repo/gomode.js';
import { encodeTree } from '../../shared/repo/tree.js';
import type { Id, NodeType, Snapshot, SnapshotJSON, SnapshotSummary, TreeNode } from '../../shared/repo/types.js';
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
}

/** A file or folder that could not be backed up, and why. */
export interface BackupError {
  path: string;
  message: string;
}

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

interface FileEntry {
  kind: 'file';
  name: string;
  path: string;
  /** Size when scanned. */
  size: number;
  node: TreeNode;
  parentNode?: TreeNode;
  failed?: boolean;
  /** The folder holding this file. */
  dir?: DirEntry;
}
interface OtherEntry {
  kind: 'other';
  name: string;
  path: string;
  node: TreeNode;
}
interface DirEntry {
  kind: 'dir';
  name: string;
  path: string;
  /** The folder's own node (its subtree is set when saved); undefined only for the virtual root. */
  node?: TreeNode;
  /** Device of the folder: a child on another device is a mount point. */
  dev?: number;
  /** Scanned with synchronous calls (a local file system), or asynchronous ones. */
  sync?: boolean;
  children: Map<string, Entry>;
  parentNode?: TreeNode;
  /** The folder holding this one (undefined for the virtual root). */
  parent?: DirEntry;
  /** Children whose final node is not known yet: files being read, folders whose tree is not saved. */
  pending: number;
  /** This folder's tree ID, once saved. */
  subtree?: Id;
}
type Entry = FileEntry | OtherEntry | DirEntry;

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
  const excludes = compileExcludes(opts.excludes ?? []);
  const includes = opts.includes?.length ? compileExcludes(opts.includes, 'include') : undefined;
  const sources = [...new Set(opts.paths.map((p) => path.resolve(p)))].sort();
  for (const s of sources) {
    try {
      await fsp.lstat(s);
    } catch (e) {
      throw new Error(`paths: cannot read ${s}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

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
    const [, parent] = await Promise.all([repo.loadIndex(), findParent()]);
    // Resume: packs an interrupted backup uploaded but never indexed are indexed and reused. Listing the
    // packs runs while the sources are scanned; it is awaited before any blob is claimed.
    orphansIndexed = repo.findUnindexedPacks().then(async (orphans) => {
      if (orphans.length > 0) await repo.saveIndex(orphans);
    });
    orphansIndexed.catch(() => {}); // awaited below

    const errors: BackupError[] = [];

    const packSize = opts.packSize ?? DEFAULT_PACK_SIZE;
    const workers = opts.workers ?? defaultWorkerCount();
    const uploadConnections = opts.uploadConnections ?? 4;
    const progress = new ProgressTracker('backup', started, opts.onProgress);
    const root: DirEntry = { kind: 'dir', name: '', path: '/', children: new Map(), pending: 0 };
    // Workers start loading their code as soon as the scan meets a file to read (never for an unchanged re-run).
    const walker = new Walker(repo, excludes, includes, errors, progress, opts.full ?? false, () => {
      pool ??= EngineWorkerPool.spawn(workers);
    });
    await walker.addSources(root, sources, parent?.tree);
    checkAborted(opts.signal);

    await orphansIndexed;

    const toRead = walker.files.filter((f) => !walker.unchanged.has(f));
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
    const counts = { files_new: 0, files_changed: 0, files_unmodified: 0, dirs_new: 0, dirs_changed: 0, dirs_unmodified: 0 };
    const finishFile = (f: FileEntry) => {
      const dir = f.dir!;
      if (--dir.pending === 0) settleDir(dir, trees, counts, walker.unchanged);
    };
    for (const f of toRead) f.dir!.pending++;
    for (const d of walker.dirs) if (d.pending === 0 && !d.subtree) settleDir(d, trees, counts, walker.unchanged);

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
    const summary: SnapshotSummary = {
      backup_start: formatGoTime(startNs),
      backup_end: formatGoTime(endNs),
      ...counts,
      data_blobs: dataBlobs,
      tree_blobs: trees.added,
      data_added: progress.bytesAdded + trees.bytesAdded,
      data_added_packed: progress.bytesStored + trees.bytesStored,
      total_files_processed: walker.files.length - errors.filter((e) => walker.filePaths.has(e.path)).length,
      total_bytes_processed: walker.files.reduce((n, f) => n + (f.failed ? 0 : (f.node.size ?? 0)), 0),
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
  fileDone(file?: string): void {
    this.p.filesDone++;
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
  error(): void {
    this.p.errors++;
  }

  private emit(force: boolean): void {
    if (!this.sink) return;
    const now = Date.now();
    if (!force && now - this.last < PROGRESS_INTERVAL_MS) return;
    this.last = now;
    this.sink(withRates({ ...this.p, elapsedMs: now - this.started }));
  }
}

const userNames = new Map<number, string>();
function userName(uid: number): string | undefined {
  if (!userNames.size) {
    const me = os.userInfo();
    userNames.set(me.uid, me.username);
  }
  return userNames.get(uid);
}

function nodeType(st: BigIntStats): NodeType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'dev';
  return 'irregular';
}

function nodeFromStat(name: string, st: BigIntStats): TreeNode {
  const type = nodeType(st);
  const node: TreeNode = {
    name,
    type,
    mode: goModeFromPosix(Number(st.mode)),
    mtime: st.mtimeNs,
    atime: st.atimeNs,
    ctime: st.ctimeNs,
    uid: Number(st.uid),
    gid: Number(st.gid),
    inode: Number(st.ino),
    device_id: Number(st.dev),
    links: Number(st.nlink),
    content: null,
  };
  const user = userName(node.uid);
  if (user) node.user = user;
  if (type === 'file') {
    node.size = Number(st.size);
    node.content = [];
  }
  if (type === 'dev' || type === 'chardev') node.device = Number(st.rdev);
  return node;
}

/** File systems scanned with synchronous calls: local ones, where a call takes microseconds. */
const LOCAL_FS_TYPES = new Set([
  'ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'bcachefs', 'zfs', 'f2fs', 'jfs', 'reiserfs', 'nilfs2', 'tmpfs', 'ramfs',
  'vfat', 'exfat', 'ntfs', 'ntfs3', 'hfsplus', 'overlay', 'squashfs', 'erofs', 'iso9660', 'udf',
]);

/**
 * Mount points and their file-system types (Linux, from /proc/self/mountinfo),
 * or undefined where that is not available: then every path counts as remote.
 */
async function readMounts(): Promise<Map<string, string> | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const text = await fsp.readFile('/proc/self/mountinfo', 'utf8');
    const mounts = new Map<string, string>();
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    for (const line of text.split('\n')) {
      const [left, right] = line.split(' - ');
      if (!left || !right) continue;
      const mountPoint = left.split(' ')[4];
      const type = right.split(' ')[0];
      if (mountPoint && type) mounts.set(unescape(mountPoint), type);
    }
    return mounts;
  } catch {
    return undefined;
  }
}

/** Yield to the event loop this often during a synchronous scan, so timers and I/O callbacks keep running. */
const SYNC_SLICE = 1024;

/**
 * Walks the sources into an in-memory tree, matching each entry with its node
 * in the parent snapshot. On local file systems entries are read with
 * synchronous calls (several times cheaper than a thread-pool round trip
 * each), in slices between which the event loop runs; on network or unknown
 * file systems, and below any mount point of one, with asynchronous calls
 * (a hung mount never blocks the process). Parent trees load asynchronously
 * ahead of the scan.
 */
class Walker {
  readonly files: FileEntry[] = [];
  /** Every folder entry, the virtual root included. */
  readonly dirs: DirEntry[] = [];
  readonly filePaths = new Set<string>();
  readonly unchanged = new Set<FileEntry>();
  private readonly io = new Limiter(64);
  private readonly treeLoads = new Limiter(16);
  private mounts: Map<string, string> | undefined;
  private sinceYield = 0;

  constructor(
    private readonly repo: Repository,
    private readonly excludes: ExcludeMatcher,
    private readonly includes: ExcludeMatcher | undefined,
    private readonly errors: BackupError[],
    private readonly progress: ProgressTracker,
    private readonly full: boolean,
    /** Called for each file that will have to be read. */
    private readonly onFileToRead: () => void = () => {},
  ) {}

  private addDir(parent: DirEntry, d: DirEntry): void {
    d.parent = parent;
    parent.children.set(d.name, d);
    parent.pending++;
    this.dirs.push(d);
  }

  /** Whether `p` (a folder) is on a local file system, judged by the mount it is on. */
  private isLocal(p: string): boolean {
    if (!this.mounts) return false;
    for (let dir = p; ; dir = path.dirname(dir)) {
      const type = this.mounts.get(dir);
      if (type !== undefined) return LOCAL_FS_TYPES.has(type);
      if (dir === path.dirname(dir)) return false;
    }
  }

  async addSources(root: DirEntry, sources: string[], parentTree: Id | undefined): Promise<void> {
    this.dirs.push(root);
    this.mounts = await readMounts();
    const rootParent = parentTree ? await this.parentChildren(parentTree) : undefined;
    for (const src of sources) {
      const parts = src.split(path.sep).filter(Boolean);
      let dir = root;
      let parentKids = rootParent;
      let cur = '/';
      if (parts.length === 0) {
        // Backing up "/" itself: the root is the source.
        root.sync = this.isLocal('/');
        await this.walkDir(root, rootParent);
        continue;
      }
      for (let i = 0; i < parts.length - 1; i++) {
        const name = parts[i]!;
        cur = path.join(cur, name);
        let next = dir.children.get(name);
        const pnode = parentKids?.get(name);
        if (!next || next.kind !== 'dir') {
          const st = await fsp.lstat(cur, { bigint: true });
          next = { kind: 'dir', name, path: cur, node: nodeFromStat(name, st), dev: Number(st.dev), children: new Map(), pending: 0, ...(pnode ? { parentNode: pnode } : {}) };
          this.addDir(dir, next);
        }
        dir = next;
        parentKids = pnode?.subtree ? await this.parentChildren(pnode.subtree) : undefined;
      }
      const name = parts[parts.length - 1]!;
      dir.sync = this.isLocal(src);
      const d = await this.addEntry(dir, name, src, parentKids?.get(name));
      if (d) await this.walkDir(d.dir, await d.kids);
    }
  }

  private parentChildren(treeId: Id): Promise<Map<string, TreeNode> | undefined> {
    return this.treeLoads.run(async () => {
      try {
        const t = await this.repo.loadTree(treeId);
        return new Map(t.nodes.map((n) => [n.name, n]));
      } catch {
        // An unreadable parent tree only costs re-reading; it is not an error of this backup.
        return undefined;
      }
    });
  }

  /**
   * Stats one entry and adds it to `dir`. For a folder, returns it with its
   * parent-snapshot children loading (the caller walks it).
   */
  private async addEntry(
    dir: DirEntry,
    name: string,
    full: string,
    parentNode: TreeNode | undefined,
  ): Promise<{ dir: DirEntry; kids: Promise<Map<string, TreeNode> | undefined> | undefined } | undefined> {
    if (this.excludes(full)) return undefined;
    // The mount point of a network file system is never touched synchronously (its server may hang).
    const mountType = this.mounts?.get(full);
    const sync = dir.sync === true && (mountType === undefined || LOCAL_FS_TYPES.has(mountType));
    let st: BigIntStats;
    try {
      st = sync ? lstatSync(full, { bigint: true }) : await this.io.run(() => fsp.lstat(full, { bigint: true }));
    } catch (e) {
      this.errors.push({ path: full, message: (e as Error).message });
      this.progress.error();
      return undefined;
    }
    const node = nodeFromStat(name, st);
    if (st.isDirectory()) {
      const dev = Number(st.dev);
      // Another device (a mount point, a subvolume): its own file system decides how it is scanned.
      const subSync = dev === dir.dev ? sync : this.isLocal(full);
      const d: DirEntry = { kind: 'dir', name, path: full, node, dev, sync: subSync, children: new Map(), pending: 0, ...(parentNode ? { parentNode } : {}) };
      this.addDir(dir, d);
      return { dir: d, kids: parentNode?.type === 'dir' && parentNode.subtree ? this.parentChildren(parentNode.subtree) : undefined };
    }
    if (st.isFile()) {
      if (this.includes && !this.includes(full)) return undefined;
      const size = Number(st.size);
      const f: FileEntry = { kind: 'file', name, path: full, size, node, dir, ...(parentNode ? { parentNode } : {}) };
      dir.children.set(name, f);
      this.files.push(f);
      this.filePaths.add(full);
      this.progress.total(1, size);
      if (!this.full && parentNode && this.isUnchanged(parentNode, st)) {
        node.content = parentNode.content;
        this.unchanged.add(f);
        this.progress.addBytes(size);
        this.progress.fileDone();
      } else {
        this.onFileToRead();
      }
      return undefined;
    }
    if (st.isSymbolicLink()) {
      try {
        node.linktarget = sync ? readlinkSync(full) : await this.io.run(() => fsp.readlink(full));
      } catch (e) {
        this.errors.push({ path: full, message: (e as Error).message });
        this.progress.error();
        return undefined;
      }
    }
    dir.children.set(name, { kind: 'other', name, path: full, node });
    return undefined;
  }

  private isUnchanged(p: TreeNode, st: BigIntStats): boolean {
    return (
      p.type === 'file' &&
      (p.size ?? 0) === Number(st.size) &&
      p.mtime === st.mtimeNs &&
      p.ctime === st.ctimeNs &&
      p.inode === Number(st.ino) &&
      Array.isArray(p.content) &&
      p.content.every((id) => this.repo.index.has('data', id))
    );
  }

  private async walkDir(dir: DirEntry, parentKids: Map<string, TreeNode> | undefined): Promise<void> {
    let names: string[];
    try {
      names = dir.sync ? readdirSync(dir.path) : await this.io.run(() => fsp.readdir(dir.path));
    } catch (e) {
      this.errors.push({ path: dir.path, message: (e as Error).message });
      this.progress.error();
      return;
    }
    const base = dir.path.endsWith(path.sep) ? dir.path : dir.path + path.sep;
    let subdirs: { dir: DirEntry; kids: Promise<Map<string, TreeNode> | undefined> | undefined }[];
    if (dir.sync) {
      subdirs = [];
      for (const name of names) {
        const d = await this.addEntry(dir, name, base + name, parentKids?.get(name));
        if (d) subdirs.push(d);
        if (++this.sinceYield >= SYNC_SLICE) {
          this.sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
    } else {
      // All entries at once; the limiter bounds the file-system calls in flight.
      const added = await Promise.all(names.map((name) => this.addEntry(dir, name, base + name, parentKids?.get(name))));
      subdirs = added.filter((d) => d !== undefined);
    }
    if (dir.sync) {
      // Depth first; the parent trees of all subfolders load meanwhile.
      for (const d of subdirs) await this.walkDir(d.dir, await d.kids);
    } else {
      await Promise.all(subdirs.map(async (d) => this.walkDir(d.dir, await d.kids)));
    }
  }
}


/** Serialises trees, deduplicates them and packs new ones (in the main thread: trees are small). */
class TreeSaver {
  private writer: PackWriter;
  private seen = new Set<Id>();
  added = 0;
  bytesAdded = 0;
  bytesStored = 0;

  constructor(private readonly repo: Repository, packSize: number, private readonly enqueue: (p: PendingPack) => void) {
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

const nameOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

type Counts = Pick<SnapshotSummary, 'files_new' | 'files_changed' | 'files_unmodified' | 'dirs_new' | 'dirs_changed' | 'dirs_unmodified'>;

/**
 * Saves a folder's tree once all its children are final (files read, subfolders
 * saved), then settles its parent if this was the last thing it waited for.
 * Failed files are left out.
 */
function settleDir(dir: DirEntry, trees: TreeSaver, counts: Counts, unchanged: Set<FileEntry>): void {
  for (let d: DirEntry | undefined = dir; d; d = d.parent) {
    const nodes: TreeNode[] = [];
    for (const name of [...d.children.keys()].sort(nameOrder)) {
      const e = d.children.get(name)!;
      if (e.kind === 'file') {
        if (e.failed) continue;
        if (unchanged.has(e)) counts.files_unmodified++;
        else if (e.parentNode) counts.files_changed++;
        else counts.files_new++;
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
    d.subtree = trees.save(nodes);
    if (!d.parent || --d.parent.pending > 0) return;
  }
}
