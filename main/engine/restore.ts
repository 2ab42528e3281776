import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { withRates, type OperationProgress } from '../../shared/progress.js';
import { posixPermissionsFromGo } from '../../shared/repo/gomode.js';
import { isSafeNodeName } from '../../shared/repo/tree.js';
import type { Snapshot, TreeNode } from '../../shared/repo/types.js';
import { CIPHERTEXT_OVERHEAD } from '../../workers/crypto/crypto.js';
import type { RestoreFile, RestoreItem } from '../../workers/engine-messages.js';
import { exclusiveArrayBuffer } from '../../workers/engine-messages.js';
import { OperationCancelledError } from './errors.js';
import { RepositoryLock } from './lock.js';
import { mapLimit, type Repository } from './repository.js';
import { walkTree } from './snapshot-walk.js';
import { EngineWorkerPool, defaultWorkerCount } from './worker-pool.js';
import { fsPath } from '../../workers/engine/fs-path.js';
import { systemErrorMessage } from '../../workers/engine/errno.js';
import { restoreXattrs } from '../../workers/engine/xattrs.js';
import { setTimesSync } from '../../workers/engine/file-times.js';
import { loadNative } from '../../workers/crypto/native.js';

export interface RestoreOptions {
  /** Folder to restore into; created if missing. Snapshot paths are recreated below it. */
  target: string;
  /** Snapshot paths to restore (files or folders, with everything below); default: everything. */
  include?: string[];
  workers?: number;
  onProgress?: (p: OperationProgress) => void;
  signal?: AbortSignal;
}

export interface RestoreResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  errors: { path: string; message: string }[];
}

interface Planned {
  dest: string;
  node: TreeNode;
}

const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_ITEMS = 128;

/** Splits "/a/b/" into ["a","b"]. */
function components(p: string): string[] {
  return p.split('/').filter((x) => x !== '' && x !== '.');
}

/** A blob to restore, with where it is stored. */
type PlannedItem = RestoreItem & { pack: string; offset: number; length: number };

/** Reads spanning gaps up to this size are merged into one read (fewer requests, a little more data). */
const MERGE_GAP = 64 * 1024;

/**
 * Restores a snapshot (or chosen paths of it) into a folder, with modes,
 * times and symlinks (and ownership when running as root). Never writes
 * outside the target: unsafe names from a hostile repository are refused,
 * folders are verified to be real folders (not symlinks) before anything is
 * created in them, files are opened with O_NOFOLLOW (a symlink or folder in
 * a file's place is replaced, never followed), and symlinks are created last.
 * Every blob is verified (MAC and content hash) before it is written.
 *
 * The snapshot is restored as it is walked: folders are made when reached,
 * and files go to the engine workers in tasks of up to 8 MiB while the walk
 * goes on. A file whose blobs fit in one task is created, written and
 * finished (metadata) by the worker that writes it; a larger one (or an
 * empty one) is created here first and gets its metadata at the end.
 * Folder metadata comes last, deepest first.
 */
export async function restore(repo: Repository, snapshot: Snapshot, opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const root = path.resolve(opts.target);
  await fsp.mkdir(root, { recursive: true });
  const includes = (opts.include ?? []).map(components);
  const errors: RestoreResult['errors'] = [];
  // Workers load their code while the lock is taken and the index and trees are read.
  let pool: EngineWorkerPool | undefined = EngineWorkerPool.spawn(opts.workers ?? defaultWorkerCount());
  const initialised = pool.init({ key: repo.wireKey() });
  initialised.catch(() => {}); // awaited before the first task
  const inflight = new Set<Promise<void>>();
  let failure: unknown;
  let lock: RepositoryLock | undefined;
  try {
    lock = await RepositoryLock.acquire(repo, { exclusive: false });
    await repo.loadIndex();
    // Lookups by path prefix, so that a long include list (a restore test's sample) costs O(depth) per node.
    const key = (c: string[]) => c.join('\u0000');
    const included = new Set(includes.map(key));
    const aboveIncluded = new Set<string>();
    for (const inc of includes) for (let i = 0; i < inc.length; i++) aboveIncluded.add(key(inc.slice(0, i)));
    const selected = (p: string): 'all' | 'ancestor' | 'none' => {
      if (includes.length === 0) return 'all';
      const c = components(p);
      for (let i = 0; i <= c.length; i++) if (included.has(key(c.slice(0, i)))) return 'all';
      return aboveIncluded.has(key(c)) ? 'ancestor' : 'none';
    };

    const progress = { operation: 'restore' as const, phase: 'writing' as OperationProgress['phase'], filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, bytesAdded: 0, bytesStored: 0, errors: 0 };
    let lastEmit = 0;
    const emit = (force = false) => {
      const now = Date.now();
      if (!opts.onProgress || (!force && now - lastEmit < 200)) return;
      lastEmit = now;
      opts.onProgress(withRates({ ...progress, errors: errors.length, elapsedMs: now - started }));
    };

    const asRoot = process.getuid?.() === 0;
    const dirs: Planned[] = [];
    const links: Planned[] = [];
    /** FIFOs and device nodes, made with the files' metadata once the files are written. */
    const specials: Planned[] = [];
    /**
     * Hard links: the first file restored of each (device, inode) with more than
     * one link, and the later ones to link to it once it is written (as restic
     * restores them; never for files whose recorded contents differ).
     */
    const firstOfInode = new Map<string, Planned>();
    const hardLinks: { link: Planned; to: Planned }[] = [];
    const badDirs = new Set<string>();
    const inBadDir = (p: string) => {
      for (let d = path.dirname(p); d.length >= root.length && d !== path.dirname(d); d = path.dirname(d)) if (badDirs.has(d)) return true;
      return false;
    };
    /** Files created here (empty ones, and those spanning tasks): their metadata is set at the end once complete. */
    const mainFiles = new Map<string, Planned>();
    /** Blobs still to be written, per file. */
    const remaining = new Map<string, { left: number; f: Planned }>();
    const failedFiles = new Set<string>();
    const finished: Planned[] = [];

    const wireFile = (f: Planned): RestoreFile => {
      const n = f.node;
      return {
        path: f.dest,
        mode: posixPermissionsFromGo(n.mode),
        atimeNs: n.atime,
        mtimeNs: n.mtime,
        ...(asRoot ? { uid: n.uid, gid: n.gid } : {}),
        ...(n.extended_attributes?.length ? { xattrs: n.extended_attributes } : {}),
      };
    };

    /** Reads the task's blobs (neighbours in one request) and has a worker verify and write them. */
    const runTask = async (items: PlannedItem[], owned: RestoreFile[]) => {
      const workerPool = pool!;
      await initialised;
      const sorted = [...items].sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.offset - b.offset));
      const transfer: ArrayBuffer[] = [];
      for (let i = 0; i < sorted.length; ) {
        const first = sorted[i]!;
        let end = first.offset + first.length;
        let j = i + 1;
        while (j < sorted.length && sorted[j]!.pack === first.pack && sorted[j]!.offset <= end + MERGE_GAP) {
          end = Math.max(end, sorted[j]!.offset + sorted[j]!.length);
          j++;
        }
        const bytes = await repo.target.load({ type: 'data', name: first.pack }, end - first.offset, first.offset, (buf) => buf);
        // One transfer per read; the items point into it.
        const shared = exclusiveArrayBuffer(bytes);
        transfer.push(shared);
        for (let k = i; k < j; k++) {
          const it = sorted[k]!;
          it.stored = shared;
          it.storedOffset = it.offset - first.offset;
        }
        i = j;
      }
      const wire: RestoreItem[] = sorted.map(({ path: p, fileOffset, id, stored, storedOffset, storedLength, uncompressedLength }) => ({ path: p, fileOffset, id, stored, storedOffset, storedLength, ...(uncompressedLength !== undefined ? { uncompressedLength } : {}) }));
      const reply = await workerPool.run({ kind: 'restore-blobs', items: wire, files: owned }, transfer);
      for (const e of reply.errors) {
        errors.push({ path: e.path, message: e.id ? `blob ${e.id.slice(0, 12)}: ${e.message}` : e.message });
        failedFiles.add(e.path);
      }
      for (const e of reply.metadataErrors) errors.push({ path: e.path, message: `metadata: ${e.message}` });
      progress.bytesDone += reply.bytesWritten;
      for (const it of items) {
        const r = remaining.get(it.path);
        if (r && --r.left === 0) {
          progress.filesDone++;
          if (!failedFiles.has(it.path)) finished.push(r.f);
        }
      }
      emit();
    };

    // Tasks in flight are bounded (each holds up to a task's worth of read data).
    let batch: PlannedItem[] = [];
    let batchBytes = 0;
    let owned: RestoreFile[] = [];
    const dispatch = async () => {
      if (batch.length === 0) return;
      const items = batch;
      const files = owned;
      batch = [];
      batchBytes = 0;
      owned = [];
      if (failure !== undefined) return;
      while (inflight.size >= pool!.size * 2) await Promise.race(inflight);
      const t = runTask(items, files).catch((e: unknown) => {
        failure ??= e;
      });
      inflight.add(t);
      void t.finally(() => inflight.delete(t));
    };
    const addFile = async (f: Planned) => {
      const items: PlannedItem[] = [];
      let offset = 0;
      for (const id of f.node.content ?? []) {
        const loc = repo.index.get('data', id);
        if (!loc) {
          errors.push({ path: f.dest, message: `data blob ${id} is missing from the repository` });
          return;
        }
        const item: PlannedItem = { path: f.dest, fileOffset: offset, id, stored: new ArrayBuffer(0), storedOffset: 0, storedLength: loc.length, pack: loc.pack, offset: loc.offset, length: loc.length };
        if (loc.uncompressed_length !== undefined) item.uncompressedLength = loc.uncompressed_length;
        offset += loc.uncompressed_length ?? loc.length - CIPHERTEXT_OVERHEAD;
        items.push(item);
      }
      const bytes = items.reduce((n, it) => n + it.length, 0);
      const alone = items.length > 0 && bytes <= BATCH_BYTES && items.length <= BATCH_ITEMS;
      if (!alone) {
        // Empty, or spread over several tasks: created here, before any of its blobs is written.
        try {
          await createEmpty(f.dest);
        } catch (e) {
          errors.push({ path: f.dest, message: (e as Error).message });
          return;
        }
        mainFiles.set(f.dest, f);
        if (items.length === 0) {
          finished.push(f);
          return;
        }
      } else if (batchBytes + bytes > BATCH_BYTES || batch.length + items.length > BATCH_ITEMS) {
        await dispatch();
      }
      remaining.set(f.dest, { left: items.length, f });
      if (alone) owned.push(wireFile(f));
      for (const it of items) {
        batch.push(it);
        batchBytes += it.length;
        if (!alone && (batchBytes >= BATCH_BYTES || batch.length >= BATCH_ITEMS)) await dispatch();
      }
    };

    const unsafe = new Set<string>();
    const destinations = new Set<string>();
    let matched = 0;
    for await (const { path: p, node } of walkTree(repo, snapshot.tree, '', (dp) => selected(dp) !== 'none' && !unsafe.has(dp))) {
      if (opts.signal?.aborted) throw new OperationCancelledError('restore');
      if (failure !== undefined) break;
      const parentPath = p.slice(0, p.lastIndexOf('/'));
      if (unsafe.has(parentPath)) {
        unsafe.add(p);
        continue;
      }
      if (!isSafeNodeName(node.name, { windows: process.platform === 'win32' })) {
        errors.push({ path: p, message: `refused: unsafe name ${JSON.stringify(node.name)} would escape the target` });
        unsafe.add(p);
        continue;
      }
      const sel = selected(p);
      if (sel === 'none') continue;
      const dest = path.join(root, ...components(p));
      // Two entries of one folder with the same name (a damaged or hostile tree): the second would be written into the first.
      if (destinations.has(dest)) {
        errors.push({ path: p, message: 'refused: another entry of its folder has the same name' });
        if (node.type === 'dir') unsafe.add(p);
        continue;
      }
      destinations.add(dest);
      if (node.type === 'dir') {
        matched++;
        dirs.push({ dest, node });
        if (inBadDir(dest)) {
          errors.push({ path: dest, message: 'not restored: its folder could not be created safely' });
          badDirs.add(dest);
          continue;
        }
        // Each folder is verified to be a real folder before anything is created in it: nothing is written through a symlink.
        try {
          await fsp.mkdir(fsPath(dest), { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
            if (e.code !== 'EEXIST') throw e;
          });
          const st = await fsp.lstat(fsPath(dest));
          if (!st.isDirectory()) throw new Error('exists and is not a folder; refusing to write through it');
        } catch (e) {
          errors.push({ path: dest, message: (e as Error).message });
          badDirs.add(dest);
        }
      } else if (sel === 'all') {
        if (node.type === 'file') {
          matched++;
          progress.filesTotal++;
          progress.bytesTotal += node.size ?? 0;
          if (inBadDir(dest)) {
            errors.push({ path: dest, message: 'not restored: its folder could not be created safely' });
            continue;
          }
          const inode = (node.links ?? 0) > 1 && node.inode ? `${node.device_id ?? 0}:${node.inode}` : undefined;
          const first = inode !== undefined ? firstOfInode.get(inode) : undefined;
          if (first && sameContent(first.node, node)) {
            hardLinks.push({ link: { dest, node }, to: first });
            progress.bytesTotal -= node.size ?? 0; // nothing to write: the link shares the first file's bytes
            continue;
          }
          const planned: Planned = { dest, node };
          if (inode !== undefined && !first) firstOfInode.set(inode, planned);
          await addFile(planned);
        } else if (node.type === 'symlink') {
          matched++;
          links.push({ dest, node });
        } else if (node.type === 'fifo' || node.type === 'dev' || node.type === 'chardev') {
          matched++;
          specials.push({ dest, node });
        } else if (node.type === 'socket') {
          // A socket belongs to the process that listened on it: like restic, none is recreated.
          matched++;
        } else errors.push({ path: p, message: `not restored: ${node.type} entries are not supported` });
      }
    }
    await dispatch();
    while (inflight.size > 0) await Promise.race(inflight);
    if (failure !== undefined) throw failure;
    if (includes.length > 0 && matched === 0) {
      throw new Error(`include: no path in snapshot ${snapshot.id.slice(0, 8)} matches ${opts.include!.join(', ')}`);
    }
    // The workers are done; the rest is metadata.
    const closing = pool?.close();
    pool = undefined;
    progress.phase = 'finishing';
    emit(true);

    await mapLimit(
      finished.filter((f) => mainFiles.has(f.dest)),
      32,
      (f) => applyMetadata(f, asRoot, errors).catch((e) => void errors.push({ path: f.dest, message: `metadata: ${(e as Error).message}` })),
    );
    // Hard links once the file they share is complete (its metadata is theirs too), before folder times.
    let linked = 0;
    const complete = new Set(finished.map((f) => f.dest));
    for (const { link, to } of hardLinks) {
      if (failedFiles.has(to.dest) || !complete.has(to.dest)) {
        errors.push({ path: link.dest, message: `not restored: a hard link to ${to.dest}, which could not be restored` });
        continue;
      }
      try {
        await fsp.rm(fsPath(link.dest), { force: true });
        await fsp.link(fsPath(to.dest), fsPath(link.dest));
        linked++;
        progress.filesDone++;
      } catch (e) {
        errors.push({ path: link.dest, message: `hard link to ${to.dest}: ${(e as Error).message}` });
      }
    }
    for (const sp of specials) {
      if (inBadDir(sp.dest)) continue;
      try {
        await makeSpecial(sp);
        await applyMetadata(sp, asRoot, errors);
      } catch (e) {
        errors.push({ path: sp.dest, message: (e as Error).message });
      }
    }
    let symlinks = 0;
    for (const l of links) {
      if (inBadDir(l.dest)) continue;
      try {
        const at = fsPath(l.dest);
        await fsp.rm(at, { force: true });
        await fsp.symlink(fsPath(l.node.linktarget ?? ''), at);
        setTimesSync(at, l.node.atime, l.node.mtime);
        if (asRoot) await fsp.lchown(at, l.node.uid, l.node.gid).catch(() => {});
        symlinks++;
      } catch (e) {
        errors.push({ path: l.dest, message: (e as Error).message });
      }
    }
    // Folder times last, deepest first: writing inside a folder changes its mtime.
    for (const d of [...dirs].reverse()) {
      if (badDirs.has(d.dest)) continue;
      await applyMetadata(d, asRoot, errors).catch((e) => errors.push({ path: d.dest, message: `metadata: ${(e as Error).message}` }));
    }
    await closing;
    progress.phase = 'done';
    emit(true);
    return { files: finished.length + linked, dirs: dirs.length - badDirs.size, symlinks, bytes: progress.bytesDone, errors };
  } finally {
    // Never leave a task writing after returning (or throwing).
    while (inflight.size > 0) await Promise.race(inflight);
    await pool?.close();
    await lock?.release();
  }
}

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

/** Makes a FIFO or a device node where `p.dest` is (a device only as root, as the system allows). */
async function makeSpecial(p: Planned): Promise<void> {
  const mknod = loadNative().mknod;
  const what = p.node.type === 'fifo' ? 'FIFO' : 'device node';
  if (!mknod) throw new Error(`not restored: this build cannot make a ${what}`);
  const type = p.node.type === 'fifo' ? S_IFIFO : p.node.type === 'chardev' ? S_IFCHR : S_IFBLK;
  const dest = fsPath(p.dest);
  await fsp.rm(dest, { force: true });
  try {
    mknod(dest, type | 0o600, p.node.type === 'fifo' ? 0 : (p.node.device ?? 0));
  } catch (e) {
    throw new Error(`not restored: ${systemErrorMessage(e, 'mknod', p.dest)}`);
  }
}

/** Whether two file nodes record the same contents (hard links always do; a file changed between reading its links may not). */
function sameContent(a: TreeNode, b: TreeNode): boolean {
  const x = a.content ?? [];
  const y = b.content ?? [];
  return (a.size ?? 0) === (b.size ?? 0) && x.length === y.length && x.every((id, i) => id === y[i]);
}

/** Creates a new empty file; whatever is in its place is removed first, never opened (see the worker's `createFile`). */
async function createEmpty(file: string): Promise<void> {
  const dest = fsPath(file);
  const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(dest, flags, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    await fsp.rm(dest, { recursive: true, force: true });
    fh = await fsp.open(dest, flags, 0o600);
  }
  await fh.close();
}

/** Ownership (as root), extended attributes, mode, times, in that order; attributes that cannot be set are added to `errors`. */
async function applyMetadata(p: Planned, asRoot: boolean, errors: RestoreResult['errors']): Promise<void> {
  const n = p.node;
  const dest = fsPath(p.dest);
  if (asRoot) await fsp.lchown(dest, n.uid, n.gid).catch(() => {});
  for (const message of restoreXattrs(dest, n.extended_attributes)) errors.push({ path: p.dest, message: `metadata: ${message}` });
  await fsp.chmod(dest, posixPermissionsFromGo(n.mode));
  setTimesSync(dest, n.atime, n.mtime);
}
