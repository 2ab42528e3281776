import { promises as fsp, constants as fsc } from 'node:fs';
import path from 'node:path';
import { withRates, type OperationProgress } from '../../shared/progress.js';
import { posixPermissionsFromGo } from '../../shared/repo/gomode.js';
import { nanosToMillis } from '../../shared/repo/gotime.js';
import { isSafeNodeName } from '../../shared/repo/tree.js';
import type { Snapshot, TreeNode } from '../../shared/repo/types.js';
import { CIPHERTEXT_OVERHEAD } from '../../workers/crypto/crypto.js';
import type { RestoreItem } from '../../workers/engine-messages.js';
import { exclusiveArrayBuffer } from '../../workers/engine-messages.js';
import { OperationCancelledError } from './errors.js';
import { RepositoryLock } from './lock.js';
import { mapLimit, type Repository } from './repository.js';
import { walkTree } from './snapshot-walk.js';
import { EngineWorkerPool, defaultWorkerCount } from './worker-pool.js';

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

/**
 * Restores a snapshot (or chosen paths of it) into a folder, with modes,
 * times and symlinks (and ownership when running as root). Never writes
 * outside the target: unsafe names from a hostile repository are refused,
 * folders are verified to be real folders (not symlinks) before use, files
 * are opened with O_NOFOLLOW, and symlinks are created last. Every blob is
 * verified (MAC and content hash) before it is written.
 */
export async function restore(repo: Repository, snapshot: Snapshot, opts: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const root = path.resolve(opts.target);
  await fsp.mkdir(root, { recursive: true });
  const includes = (opts.include ?? []).map(components);
  const errors: RestoreResult['errors'] = [];
  const lock = await RepositoryLock.acquire(repo, { exclusive: false });
  let pool: EngineWorkerPool | undefined;
  try {
    await repo.loadIndex();
    // Plan: which nodes, where.
    const dirs: Planned[] = [];
    const files: Planned[] = [];
    const links: Planned[] = [];
    const selected = (p: string): 'all' | 'ancestor' | 'none' => {
      if (includes.length === 0) return 'all';
      const c = components(p);
      let ancestor = false;
      for (const inc of includes) {
        const n = Math.min(inc.length, c.length);
        let same = true;
        for (let i = 0; i < n; i++) if (inc[i] !== c[i]) same = false;
        if (!same) continue;
        if (c.length >= inc.length) return 'all';
        ancestor = true;
      }
      return ancestor ? 'ancestor' : 'none';
    };
    let bytesTotal = 0;
    const unsafe = new Set<string>();
    for await (const { path: p, node } of walkTree(repo, snapshot.tree, '', (dp) => selected(dp) !== 'none' && !unsafe.has(dp))) {
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
      if (node.type === 'dir') dirs.push({ dest, node });
      else if (sel === 'all') {
        if (node.type === 'file') {
          files.push({ dest, node });
          bytesTotal += node.size ?? 0;
        } else if (node.type === 'symlink') links.push({ dest, node });
        else errors.push({ path: p, message: `not restored: ${node.type} entries are not supported` });
      }
    }
    if (includes.length > 0 && dirs.length + files.length + links.length === 0) {
      throw new Error(`include: no path in snapshot ${snapshot.id.slice(0, 8)} matches ${opts.include!.join(', ')}`);
    }

    const progress = { operation: 'restore' as const, phase: 'writing' as OperationProgress['phase'], filesTotal: files.length, filesDone: 0, bytesTotal, bytesDone: 0, bytesAdded: 0, bytesStored: 0, errors: 0 };
    let lastEmit = 0;
    const emit = (force = false) => {
      const now = Date.now();
      if (!opts.onProgress || (!force && now - lastEmit < 200)) return;
      lastEmit = now;
      opts.onProgress(withRates({ ...progress, errors: errors.length, elapsedMs: now - started }));
    };

    // Folders first, each verified to be a real folder so nothing is written through a symlink.
    for (const d of dirs) {
      try {
        await fsp.mkdir(d.dest, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        const st = await fsp.lstat(d.dest);
        if (!st.isDirectory()) throw new Error('exists and is not a folder; refusing to write through it');
      } catch (e) {
        errors.push({ path: d.dest, message: (e as Error).message });
      }
    }
    const badDirs = new Set(errors.map((e) => e.path));
    const inBadDir = (p: string) => {
      for (let d = path.dirname(p); d.length >= root.length && d !== path.dirname(d); d = path.dirname(d)) if (badDirs.has(d)) return true;
      return false;
    };

    // Files: create empty (replacing a symlink planted in their place), many at once.
    const creatable = files.filter((f) => {
      if (!inBadDir(f.dest)) return true;
      errors.push({ path: f.dest, message: 'not restored: its folder could not be created safely' });
      return false;
    });
    const created: Planned[] = [];
    await mapLimit(creatable, 32, async (f) => {
      try {
        await createEmpty(f.dest);
        created.push(f);
      } catch (e) {
        errors.push({ path: f.dest, message: (e as Error).message });
      }
    });

    // Then every blob, in pack order so neighbouring blobs are read together, filled in by workers.
    type Planned_ = RestoreItem & { pack: string; offset: number; length: number };
    const all: Planned_[] = [];
    const remaining = new Map<string, { left: number; f: Planned }>();
    for (const f of created) {
      const content = f.node.content ?? [];
      const mine: Planned_[] = [];
      let offset = 0;
      let missing = false;
      for (const id of content) {
        const loc = repo.index.get('data', id);
        if (!loc) {
          errors.push({ path: f.dest, message: `data blob ${id} is missing from the repository` });
          missing = true;
          break;
        }
        const item: Planned_ = { path: f.dest, fileOffset: offset, id, stored: new ArrayBuffer(0), storedOffset: 0, storedLength: loc.length, pack: loc.pack, offset: loc.offset, length: loc.length };
        if (loc.uncompressed_length !== undefined) item.uncompressedLength = loc.uncompressed_length;
        offset += loc.uncompressed_length ?? loc.length - CIPHERTEXT_OVERHEAD;
        mine.push(item);
      }
      if (missing) continue;
      remaining.set(f.dest, { left: mine.length, f });
      all.push(...mine);
    }
    all.sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : a.offset - b.offset));
    const items: Planned_[][] = [];
    let batch: Planned_[] = [];
    let batchBytes = 0;
    for (const it of all) {
      batch.push(it);
      batchBytes += it.length;
      if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_ITEMS) {
        items.push(batch);
        batch = [];
        batchBytes = 0;
      }
    }
    if (batch.length > 0) items.push(batch);

    const finished: Planned[] = [];
    for (const r of remaining.values()) if (r.left === 0) finished.push(r.f);
    const failedFiles = new Set<string>();
    if (items.length > 0) {
      pool = await EngineWorkerPool.start(opts.workers ?? defaultWorkerCount(), { key: repo.wireKey() });
      const workerPool = pool;
      await mapLimit(items, workerPool.size * 2, async (b) => {
        if (opts.signal?.aborted) throw new OperationCancelledError('restore');
        // Runs of blobs that sit next to each other in one pack are read with one request.
        const transfer: ArrayBuffer[] = [];
        for (let i = 0; i < b.length; ) {
          let j = i + 1;
          while (j < b.length && b[j]!.pack === b[i]!.pack && b[j]!.offset === b[j - 1]!.offset + b[j - 1]!.length) j++;
          const first = b[i]!;
          const span = b[j - 1]!.offset + b[j - 1]!.length - first.offset;
          const bytes = await repo.target.load({ type: 'data', name: first.pack }, span, first.offset, (buf) => buf);
          // One transfer per read; the items point into it.
          const shared = exclusiveArrayBuffer(bytes);
          transfer.push(shared);
          for (let k = i; k < j; k++) {
            const it = b[k]!;
            it.stored = shared;
            it.storedOffset = it.offset - first.offset;
          }
          i = j;
        }
        const wire: RestoreItem[] = b.map(({ path: p, fileOffset, id, stored, storedOffset, storedLength, uncompressedLength }) => ({ path: p, fileOffset, id, stored, storedOffset, storedLength, ...(uncompressedLength !== undefined ? { uncompressedLength } : {}) }));
        const reply = await workerPool.run({ kind: 'restore-blobs', items: wire }, transfer);
        for (const e of reply.errors) {
          errors.push({ path: e.path, message: `blob ${e.id.slice(0, 12)}: ${e.message}` });
          failedFiles.add(e.path);
        }
        progress.bytesDone += reply.bytesWritten;
        for (const it of b) {
          const r = remaining.get(it.path);
          if (r && --r.left === 0) {
            progress.filesDone++;
            if (!failedFiles.has(it.path)) finished.push(r.f);
          }
        }
        emit();
      });
    }
    progress.phase = 'finishing';
    emit(true);

    const asRoot = process.getuid?.() === 0;
    await mapLimit(finished, 32, (f) => applyMetadata(f, asRoot).catch((e) => void errors.push({ path: f.dest, message: `metadata: ${(e as Error).message}` })));
    let symlinks = 0;
    for (const l of links) {
      if (inBadDir(l.dest)) continue;
      try {
        await fsp.rm(l.dest, { force: true });
        await fsp.symlink(l.node.linktarget ?? '', l.dest);
        const t = (ns: bigint) => nanosToMillis(ns) / 1000;
        await fsp.lutimes(l.dest, t(l.node.atime), t(l.node.mtime));
        if (asRoot) await fsp.lchown(l.dest, l.node.uid, l.node.gid).catch(() => {});
        symlinks++;
      } catch (e) {
        errors.push({ path: l.dest, message: (e as Error).message });
      }
    }
    // Folder times last, deepest first: writing inside a folder changes its mtime.
    for (const d of [...dirs].reverse()) {
      if (badDirs.has(d.dest)) continue;
      await applyMetadata(d, asRoot).catch((e) => errors.push({ path: d.dest, message: `metadata: ${(e as Error).message}` }));
    }
    progress.phase = 'done';
    emit(true);
    return { files: finished.length, dirs: dirs.length - badDirs.size, symlinks, bytes: progress.bytesDone, errors };
  } finally {
    await pool?.close();
    await lock.release();
  }
}

async function createEmpty(dest: string): Promise<void> {
  const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | (fsc.O_NOFOLLOW ?? 0);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(dest, flags, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ELOOP' && code !== 'EISDIR') throw e;
    // A symlink (or folder) sits where the file belongs: replace it, never follow it.
    await fsp.rm(dest, { recursive: true, force: true });
    fh = await fsp.open(dest, flags, 0o600);
  }
  await fh.close();
}

async function applyMetadata(p: Planned, asRoot: boolean): Promise<void> {
  const n = p.node;
  if (asRoot) await fsp.lchown(p.dest, n.uid, n.gid).catch(() => {});
  await fsp.chmod(p.dest, posixPermissionsFromGo(n.mode));
  const secs = (ns: bigint) => Number(ns / 1000n) / 1e6;
  await fsp.utimes(p.dest, secs(n.atime), secs(n.mtime));
}
