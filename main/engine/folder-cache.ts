import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Id } from '../../shared/repo/types.js';
import { open as openSealed, seal, type MasterKey } from '../../workers/crypto/crypto.js';
import type { DirEntry, SourceScan } from './source-scan.js';

/** What one folder looked like when it was backed up, and the tree that stands for it. */
export interface CachedFolder {
  /** `folderSignature` of the folder then: its entries' metadata and, recursively, its subfolders'. */
  sig: string;
  /** The folder's tree in the repository. */
  tree: Id;
  /**
   * Data blobs of the files directly in the folder, their hex IDs concatenated
   * (one string per folder parses far faster than one per blob); checked
   * against the index before the tree is reused (`everyBlob`).
   */
  blobs: string;
}

/** The folders of the cache, by path. */
export type FolderCacheState = Map<string, CachedFolder>;

/** A cache file's contents: its folders, and the index files that listed every tree and blob they name. */
export interface LoadedFolderCache {
  folders: FolderCacheState;
  /**
   * IDs of the repository's index files when the cache was written: together
   * they listed every tree and blob the folders name. Index files are
   * immutable and named by their content's hash, and a prune removes the old
   * ones before any pack they list, so while all of them are still there,
   * every tree and blob the cache names is too, without loading the index.
   */
  indexFiles: string[];
}

const FORMAT = 5;
/** A blob list that fails every check (`everyBlob`): what a folder gets when the file's blob part cannot be read. */
const UNREADABLE_BLOBS = 'unreadable';

/**
 * The folder cache: for each folder of a backup's sources, the signature of
 * its metadata and the tree that stood for it, written after each successful
 * snapshot. The next backup of the same sources whose parent is that snapshot
 * reuses the tree of a folder whose signature is unchanged (a Merkle
 * signature, so everything below it is unchanged too) without reading the
 * parent's trees, once it is known that the tree and its files' blobs are
 * still in the repository: without loading the index while every index file
 * the cache was written against is still there (see
 * `LoadedFolderCache.indexFiles`), by looking each one up in the index
 * otherwise. Borg keeps a files cache for the same reason; restic reads every
 * parent tree.
 *
 * The file is sealed with the repository's master key (the same
 * authenticated encryption as the repository's blobs): it names paths and
 * content hashes, and a tampered or foreign file fails its MAC and is
 * ignored. Any problem reading it means no cache, never a failed backup;
 * folders that held an unreadable entry are never cached, so the next run
 * tries those entries again.
 */
export class FolderCache {
  private constructor(readonly file: string) {}

  /**
   * The cache file, under `dir`, of the backups into repository `repoId` of
   * `sources` from `hostname` with these exclude and include rules (a listing
   * includes excluded entries, so the rules are part of what a signature
   * stands for), by this user (whose name the trees record).
   */
  static for(dir: string, repoId: string, hostname: string, sources: string[], excludes: string[], includes: string[]): FolderCache {
    const key = createHash('sha256')
      .update(JSON.stringify({ hostname, sources, excludes, includes, user: os.userInfo().username }))
      .digest('hex')
      .slice(0, 32);
    return new FolderCache(path.join(dir, repoId, `folders-${key}`));
  }

  /**
   * The cache; undefined when there is none, or it is unreadable, of another
   * format or not sealed with this key. The file holds two sealed parts: the
   * folders (path, signature, tree) and the index files, then the folders'
   * blob lists, which are decrypted only when a folder's `blobs` is first read
   * (an unchanged re-run whose index files are all still there never needs
   * them; they are most of the file).
   */
  async load(key: MasterKey): Promise<LoadedFolderCache | undefined> {
    try {
      const file = await fsp.readFile(this.file);
      const headLength = file.readUInt32LE(0);
      const doc = JSON.parse(openSealed(key, file.subarray(4, 4 + headLength)).toString('utf8')) as { format?: unknown; folders?: unknown; indexFiles?: unknown };
      if (doc.format !== FORMAT || !Array.isArray(doc.folders) || !Array.isArray(doc.indexFiles)) return undefined;
      if (!doc.indexFiles.every((f) => typeof f === 'string' && /^[0-9a-f]{64}$/.test(f))) return undefined;
      let blobLists: unknown[] | undefined;
      const blobsOf = (i: number): string => {
        if (!blobLists) {
          try {
            const parsed = JSON.parse(openSealed(key, file.subarray(4 + headLength)).toString('utf8')) as { head?: unknown; blobs?: unknown };
            // The blob part names the folder part it belongs to: one from another cache file is not taken.
            blobLists = parsed.head === headDigest(file.subarray(4, 4 + headLength)) && Array.isArray(parsed.blobs) ? parsed.blobs : [];
          } catch {
            blobLists = [];
          }
        }
        const b = blobLists[i];
        return typeof b === 'string' ? b : UNREADABLE_BLOBS;
      };
      const folders: FolderCacheState = new Map();
      (doc.folders as [string, string, string][]).forEach((f, i) => {
        const folder = { sig: f[1], tree: f[2] } as CachedFolder;
        // An own, enumerable getter: a copy made with spread reads it like a plain field.
        Object.defineProperty(folder, 'blobs', { enumerable: true, configurable: true, get: () => blobsOf(i) });
        folders.set(f[0], folder);
      });
      return { folders, indexFiles: doc.indexFiles as string[] };
    } catch {
      return undefined;
    }
  }

  /**
   * Replaces the cache atomically (a temporary file renamed over it); failures
   * are the caller's to ignore. `indexFiles`: the index files that list every
   * tree and blob of `state` (see {@link LoadedFolderCache.indexFiles}).
   */
  async save(key: MasterKey, state: FolderCacheState, indexFiles: Iterable<string>): Promise<void> {
    const folders: [string, string, string][] = [];
    const blobLists: string[] = [];
    for (const [p, f] of state) {
      folders.push([p, f.sig, f.tree]);
      blobLists.push(f.blobs);
    }
    const head = seal(key, Buffer.from(JSON.stringify({ format: FORMAT, folders, indexFiles: [...indexFiles].sort() }), 'utf8'));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(head.length, 0);
    const blobPart = seal(key, Buffer.from(JSON.stringify({ head: headDigest(head), blobs: blobLists }), 'utf8'));
    const sealed = Buffer.concat([length, head, blobPart]);
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await fsp.writeFile(tmp, sealed, { mode: 0o600 });
      await fsp.rename(tmp, this.file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }
}

/** What the blob part of a cache file records of the folder part it goes with. */
function headDigest(sealedHead: Uint8Array): string {
  return createHash('sha256').update(sealedHead).digest('hex');
}

/**
 * The folder signature: a SHA-256 over the folder's listing as read (every
 * entry's name, lstat fields and symlink target: everything its tree records
 * but file contents and subtrees) and over each subfolder's own signature, so
 * equal signatures mean a folder unchanged all the way down (for a folder on
 * the way to a source, which is not listed, its digest covers the entries
 * the scan found in it: see `DirEntry.unlisted`). Undefined when the folder or
 * one below has no listing digest (its listing failed). `sigs` must already
 * hold the subfolders'.
 */
export function folderSignature(dir: DirEntry, sigs: Map<DirEntry, string | undefined>): string | undefined {
  if (!dir.listingDigest) return undefined;
  const h = createHash('sha256').update(dir.listingDigest);
  const subdirs: DirEntry[] = [];
  for (const e of dir.children.values()) if (e.kind === 'dir') subdirs.push(e);
  subdirs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of subdirs) {
    const sig = sigs.get(d);
    if (!sig) return undefined;
    h.update(`\0${d.name}\0${sig}`);
  }
  return h.digest('base64');
}

/**
 * The folder cache after a snapshot: every folder with its signature, tree
 * and direct files' blobs, except folders that held an entry that could not be
 * read and the folders above them (their signature would not show it, and
 * reusing their trees would leave that entry out again without trying it).
 */
export function cacheableFolders(scan: Pick<SourceScan, 'errors' | 'files' | 'dirs'>, sigs: Map<DirEntry, string | undefined>, reused: Map<DirEntry, CachedFolder>): Map<string, CachedFolder> {
  const tainted = new Set<string>();
  const failed = [...scan.errors.map((e) => e.path)];
  for (const f of scan.files) if (f.failed) failed.push(f.path);
  for (const p of failed) {
    for (let d = p; !tainted.has(d); d = path.dirname(d)) {
      tainted.add(d);
      if (d === path.dirname(d)) break;
    }
  }
  const out = new Map<string, CachedFolder>();
  for (const d of scan.dirs) {
    const sig = sigs.get(d);
    if (!sig || !d.subtree || tainted.has(d.path)) continue;
    const old = reused.get(d);
    let blobs: string;
    if (old) {
      blobs = old.blobs;
    } else {
      const ids: string[] = [];
      for (const e of d.children.values()) if (e.kind === 'file' && !e.failed && e.node.content) ids.push(...e.node.content);
      blobs = ids.join('');
    }
    out.set(d.path, { sig, tree: d.subtree, blobs });
  }
  return out;
}

/** Whether `test` holds for every blob of a cached folder. */
export function everyBlob(folder: CachedFolder, test: (id: Id) => boolean): boolean {
  const b = folder.blobs;
  if (b.length % 64 !== 0) return false;
  for (let i = 0; i < b.length; i += 64) if (!test(b.slice(i, i + 64))) return false;
  return true;
}

/** Whether two cache states hold the same folders with the same signatures and trees (then there is nothing to write). */
export function sameFolders(a: FolderCacheState, b: FolderCacheState): boolean {
  if (a.size !== b.size) return false;
  for (const [p, f] of a) {
    const g = b.get(p);
    if (!g || g.sig !== f.sig || g.tree !== f.tree) return false;
  }
  return true;
}

/** The platform's folder for a user's caches: `$XDG_CACHE_HOME`, `~/.cache`, `~/Library/Caches`, `%LOCALAPPDATA%`; `lifeboat` inside. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LIFEBOAT_CACHE_DIR) return env.LIFEBOAT_CACHE_DIR;
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(os.homedir(), 'AppData', 'Local'), 'lifeboat', 'cache');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Caches', 'lifeboat');
  return path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'lifeboat');
}
