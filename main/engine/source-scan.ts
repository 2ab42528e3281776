import { lstatSync, promises as fsp, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { ExcludeMatcher } from '../../shared/glob.js';
import { goModeFromPosix } from '../../shared/repo/gomode.js';
import type { ExtendedAttribute, Id, NodeType, TreeNode } from '../../shared/repo/types.js';
import { errnoMessage, systemErrorMessage } from '../../workers/engine/errno.js';
import { decodeXattrList } from '../../workers/engine/xattrs.js';
import { loadNative, type NativeDirScan } from '../../workers/crypto/native.js';
import { encodeRawName } from '../../shared/repo/raw-names.js';
import { decodeRawName, fsPath } from '../../workers/engine/fs-path.js';
import { Limiter } from './limiter.js';
import { OwnerNames } from './owner-names.js';

/** A file or folder that could not be backed up, and why. */
export interface BackupError {
  path: string;
  message: string;
}

/** A regular file of the sources. */
export interface FileEntry {
  kind: 'file';
  name: string;
  path: string;
  /** Size when scanned. */
  size: number;
  node: TreeNode;
  parentNode?: TreeNode;
  failed?: boolean;
  /** The folder holding this file. */
  dir: DirEntry;
}
/** A symlink, device, FIFO or socket: its node is all there is. */
export interface OtherEntry {
  kind: 'other';
  name: string;
  path: string;
  node: TreeNode;
}
/** A folder of the sources, or one on the way to a source, or the virtual root. */
export interface DirEntry {
  kind: 'dir';
  name: string;
  path: string;
  /** The folder's own node (its subtree is set when saved); undefined only for the virtual root. */
  node?: TreeNode;
  /** Device of the folder: a child on another device is a mount point. */
  dev?: number;
  /** Scanned with synchronous calls (a local file system, where the native scan is absent). */
  sync?: boolean;
  children: Map<string, Entry>;
  parentNode?: TreeNode;
  /** The parent snapshot's tree of this folder (its nodes by name, and its ID), when it can stand for this one if nothing changed. */
  parentTree?: Map<string, TreeNode>;
  parentTreeId?: Id;
  /** The folder holding this one (undefined for the virtual root). */
  parent?: DirEntry;
  /** Children whose final node is not known yet: files being read, folders whose tree is not saved. */
  pending: number;
  /** This folder's tree ID, once saved. */
  subtree?: Id;
  /**
   * A digest of the folder's listing as read (every entry's name, lstat
   * fields and symlink target, excluded entries included), for the folder
   * cache's signature; absent for folders not listed by a scan.
   */
  listingDigest?: Buffer;
  /**
   * The virtual root, or a folder on the way to a source: never listed, its
   * children are the sources and folders on the way below it, and its
   * `listingDigest` is taken over their nodes once the scan is done.
   */
  unlisted?: boolean;
  /**
   * The folder's listing while its files, symlinks and other non-folder
   * entries are not yet in `children` (subfolders and unreadable entries are
   * added as the folder is read); `SourceScan.materialize` adds them. A folder
   * whose tree comes from the folder cache never needs them.
   */
  pendingListing?: Listing;
  /** Files directly in the folder (excludes and includes applied), and their bytes: known before they are materialized. */
  fileCount: number;
  fileBytes: number;
}
export type Entry = FileEntry | OtherEntry | DirEntry;

/** What a scan needs of an entry's lstat (the native scan and node:fs both give it). */
export interface EntryStat {
  mode: number;
  uid: number;
  gid: number;
  ino: number;
  dev: number;
  nlink: number;
  size: number;
  rdev: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** One entry of a folder as read: its stat, or why it could not be read; a symlink's target; its extended attributes, or why they could not be read. */
export interface RawEntry {
  name: string;
  stat?: EntryStat;
  error?: string;
  linktarget?: string;
  xattrs?: ExtendedAttribute[];
  xattrError?: string;
}

const S_IFMT = 0o170000;
const TYPE_BY_FORMAT = new Map<number, NodeType>([
  [0o100000, 'file'],
  [0o040000, 'dir'],
  [0o120000, 'symlink'],
  [0o010000, 'fifo'],
  [0o140000, 'socket'],
  [0o020000, 'chardev'],
  [0o060000, 'dev'],
]);

function fromBigIntStats(st: BigIntStats): EntryStat {
  return {
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    ino: Number(st.ino),
    dev: Number(st.dev),
    nlink: Number(st.nlink),
    size: Number(st.size),
    rdev: Number(st.rdev),
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
  };
}

const owners = new OwnerNames();

function nodeFromStat(name: string, st: EntryStat, xattrs?: ExtendedAttribute[]): TreeNode {
  const type = TYPE_BY_FORMAT.get(st.mode & S_IFMT) ?? 'irregular';
  const node: TreeNode = {
    name,
    type,
    mode: goModeFromPosix(st.mode),
    mtime: st.mtimeNs,
    // As restic records it (unless told --with-atime): the access time changes at every read, and would change the tree with it.
    atime: st.mtimeNs,
    ctime: st.ctimeNs,
    uid: st.uid,
    gid: st.gid,
    inode: st.ino,
    device_id: st.dev,
    content: null,
  };
  // restic records the link count of files, symlinks and devices only (a folder's would change with every subfolder).
  if (type === 'file' || type === 'symlink' || type === 'dev' || type === 'chardev') node.links = st.nlink;
  const user = owners.user(node.uid);
  if (user) node.user = user;
  const group = owners.group(node.gid);
  if (group) node.group = group;
  if (type === 'file') {
    node.size = st.size;
    node.content = [];
  }
  if (type === 'dev' || type === 'chardev') node.device = st.rdev;
  if (xattrs?.length && type !== 'symlink') node.extended_attributes = xattrs;
  return node;
}

/** File systems scanned with synchronous calls where the native scan is absent: local ones, where a call takes microseconds. */
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
/** Folders read at once by the native scan (each one a thread-pool task). */
const NATIVE_SCANS_IN_FLIGHT = 8;

function nativeScanDir(): ((dir: string | Uint8Array) => Promise<NativeDirScan>) | undefined {
  try {
    return loadNative().scanDir;
  } catch {
    return undefined;
  }
}

/**
 * The sources of a backup, walked (lstat only) into an in-memory tree before
 * anything is compared with the repository, so the walk can run while the
 * repository's key is derived and its index loaded. Folders are read by the
 * native scan (one thread-pool task per folder: readdir and an lstat of each
 * entry, several folders at once) where the addon has it; otherwise with
 * node:fs, synchronously on local file systems (several times cheaper than a
 * thread-pool round trip per entry) in slices between which the event loop
 * runs, and asynchronously on network or unknown ones and below any mount
 * point of one (a hung mount never blocks the process).
 *
 * `done` rejects only when a source itself cannot be read (an error naming
 * `paths`); anything below a source that cannot be read is in `errors`.
 */
export class SourceScan {
  /** The virtual root: the sources hang below it at their absolute paths. */
  readonly root: DirEntry = { kind: 'dir', name: '', path: '/', children: new Map(), pending: 0, unlisted: true, fileCount: 0, fileBytes: 0 };
  /** Files of the folders materialized so far (see `materialize`), and the sources that are files. */
  readonly files: FileEntry[] = [];
  /** Every folder entry, the virtual root included. */
  readonly dirs: DirEntry[] = [this.root];
  readonly errors: BackupError[] = [];
  /** Settles once every source has been found (rejects naming `paths` when one cannot be read). */
  readonly sourcesReadable: Promise<void>;
  /** Settles when the walk is complete. */
  readonly done: Promise<void>;
  /** Files and their bytes found so far. */
  filesFound = 0;
  bytesFound = 0;
  /** Called as files are found, with their count and bytes (progress). */
  onFiles: ((count: number, bytes: number) => void) | undefined;
  private readonly io = new Limiter(64);
  private readonly nativeScans = new Limiter(NATIVE_SCANS_IN_FLIGHT);
  private readonly native = nativeScanDir();
  private mounts: Map<string, string> | undefined;
  private sinceYield = 0;

  private constructor(
    readonly sources: string[],
    private readonly excludes: ExcludeMatcher | undefined,
    private readonly includes: ExcludeMatcher | undefined,
  ) {
    this.sourcesReadable = this.checkSources();
    this.done = this.sourcesReadable.then(() => this.run());
    // Observed by whoever awaits them; never an unhandled rejection.
    this.sourcesReadable.catch(() => {});
    this.done.catch(() => {});
  }

  /** Starts walking `sources` (absolute, sorted, distinct); `excludes` and `includes` are absent when there are none. */
  static start(sources: string[], excludes: ExcludeMatcher | undefined, includes: ExcludeMatcher | undefined): SourceScan {
    return new SourceScan(sources, excludes, includes);
  }

  private async checkSources(): Promise<void> {
    for (const s of this.sources) {
      try {
        await fsp.lstat(s);
      } catch (e) {
        throw new Error(`paths: cannot read ${s}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  private async run(): Promise<void> {
    if (!this.native) this.mounts = await readMounts();
    const walked: string[] = [];
    for (const src of this.sources) {
      // A source inside another one is walked with it: walked again, its entries would be there twice.
      if (walked.some((w) => src === w || src.startsWith(w.endsWith(path.sep) ? w : w + path.sep))) continue;
      walked.push(src);
      const parts = src.split(path.sep).filter(Boolean);
      let dir = this.root;
      let cur = '/';
      if (parts.length === 0) {
        // Backing up "/" itself: the root is the source.
        this.root.sync = this.isLocal('/');
        await this.walkDir(this.root);
        continue;
      }
      for (let i = 0; i < parts.length - 1; i++) {
        const name = parts[i]!;
        cur = path.join(cur, name);
        let next = dir.children.get(name);
        if (!next || next.kind !== 'dir') {
          const st = fromBigIntStats(await fsp.lstat(cur, { bigint: true }));
          const { xattrs, xattrError } = this.readXattrs(cur, st);
          if (xattrError) this.errors.push({ path: cur, message: xattrError });
          next = { kind: 'dir', name, path: cur, node: nodeFromStat(name, st, xattrs), dev: st.dev, children: new Map(), pending: 0, unlisted: true, fileCount: 0, fileBytes: 0 };
          this.addDir(dir, next);
        }
        dir = next;
      }
      const name = parts[parts.length - 1]!;
      dir.sync = this.isLocal(src);
      let raw: RawEntry;
      try {
        const st = fromBigIntStats(await fsp.lstat(src, { bigint: true }));
        raw = { name, stat: st, ...this.readXattrs(src, st) };
        if ((st.mode & S_IFMT) === 0o120000) raw.linktarget = decodeRawName(await fsp.readlink(fsPath(src), { encoding: 'buffer' }));
      } catch (e) {
        raw = { name, error: (e as Error).message };
      }
      const d = this.addEntry(dir, raw, src);
      if (d) await this.walkDir(d);
    }
    for (const d of this.dirs) if (d.unlisted && !d.listingDigest) d.listingDigest = unlistedDigest(d);
  }

  /** A source's or a folder on the way's extended attributes (the native scan reads those of every entry below). */
  private readXattrs(file: string, st: EntryStat): Pick<RawEntry, 'xattrs' | 'xattrError'> {
    const read = this.native ? loadNative().readXattrs : undefined;
    if (!read || (st.mode & S_IFMT) === 0o120000) return {};
    try {
      const list = read(fsPath(file));
      return list ? { xattrs: decodeXattrList(list) } : {};
    } catch (e) {
      return { xattrError: `backed up without its extended attributes: ${systemErrorMessage(e, 'listxattr', file)}` };
    }
  }

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

  /**
   * Adds `dir`'s files, symlinks and other entries not added while it was
   * read (see `DirEntry.pendingListing`); nothing when they are already there.
   */
  materialize(dir: DirEntry): void {
    const listing = dir.pendingListing;
    if (!listing) return;
    dir.pendingListing = undefined;
    const base = dir.path.endsWith(path.sep) ? dir.path : dir.path + path.sep;
    for (let i = 0; i < listing.names.length; i++) {
      const format = listing.format(i);
      if (format !== S_IFDIR && format !== FORMAT_ERROR) this.addEntry(dir, listing.entry(i), base + listing.names[i]!, false);
    }
  }

  /** Materializes every folder (for those that need every entry at once). */
  materializeAll(): void {
    for (const d of this.dirs) this.materialize(d);
  }

  /**
   * Adds one read entry to `dir`; returns it when it is a folder to walk.
   * `count`: a file is counted in the folder's `fileCount` (false when it was
   * counted as the folder was read).
   */
  private addEntry(dir: DirEntry, raw: RawEntry, full: string, count = true): DirEntry | undefined {
    if (this.excludes?.(full)) return undefined;
    const st = raw.stat;
    if (!st || raw.error !== undefined) {
      this.errors.push({ path: full, message: raw.error ?? 'cannot be read' });
      return undefined;
    }
    const node = nodeFromStat(raw.name, st, raw.xattrs);
    // The entry is backed up, but without what could not be read: that is said, never left out silently.
    if (raw.xattrError) this.errors.push({ path: full, message: raw.xattrError });
    if (node.type === 'dir') {
      // Another device (a mount point, a subvolume): its own file system decides how it is scanned.
      const sync = st.dev === dir.dev ? dir.sync === true : this.isLocal(full);
      const d: DirEntry = { kind: 'dir', name: raw.name, path: full, node, dev: st.dev, sync, children: new Map(), pending: 0, fileCount: 0, fileBytes: 0 };
      this.addDir(dir, d);
      return d;
    }
    if (node.type === 'file') {
      if (this.includes && !this.includes(full)) return undefined;
      const f: FileEntry = { kind: 'file', name: raw.name, path: full, size: st.size, node, dir };
      dir.children.set(raw.name, f);
      this.files.push(f);
      if (count) this.countFiles(dir, 1, st.size);
      return undefined;
    }
    if (node.type === 'symlink') node.linktarget = raw.linktarget ?? '';
    dir.children.set(raw.name, { kind: 'other', name: raw.name, path: full, node });
    return undefined;
  }

  private countFiles(dir: DirEntry, count: number, bytes: number): void {
    dir.fileCount += count;
    dir.fileBytes += bytes;
    this.filesFound += count;
    this.bytesFound += bytes;
    this.onFiles?.(count, bytes);
  }

  /**
   * Reads a folder: its subfolders and unreadable entries are added at once
   * (the walk goes on into the former, the latter are errors), its files are
   * counted, and the rest waits in `pendingListing` until `materialize`.
   */
  private async walkDir(dir: DirEntry): Promise<void> {
    const base = dir.path.endsWith(path.sep) ? dir.path : dir.path + path.sep;
    let listing: Listing;
    try {
      ({ listing, digest: dir.listingDigest } = await this.readDir(dir, base));
    } catch (e) {
      this.errors.push({ path: dir.path, message: (e as Error).message });
      return;
    }
    const subdirs: DirEntry[] = [];
    let files = 0;
    let bytes = 0;
    for (let i = 0; i < listing.names.length; i++) {
      const format = listing.format(i);
      if (format === S_IFDIR || format === FORMAT_ERROR) {
        const d = this.addEntry(dir, listing.entry(i), base + listing.names[i]!);
        if (d) subdirs.push(d);
      } else if (format === S_IFREG && (this.excludes || this.includes)) {
        const full = base + listing.names[i]!;
        if (!this.excludes?.(full) && (!this.includes || this.includes(full))) {
          files++;
          bytes += listing.size(i);
        }
      } else if (format === S_IFREG) {
        files++;
        bytes += listing.size(i);
      }
    }
    dir.pendingListing = listing;
    if (files > 0) this.countFiles(dir, files, bytes);
    if (dir.sync && !this.native) {
      for (const d of subdirs) await this.walkDir(d); // depth first, one call at a time
    } else {
      await Promise.all(subdirs.map((d) => this.walkDir(d)));
    }
  }

  /** A folder's entries with their stats (the native scan, or node:fs), and the listing's digest. */
  private async readDir(dir: DirEntry, base: string): Promise<{ listing: Listing; digest: Buffer }> {
    if (this.native) {
      const scanDir = this.native;
      const r = await this.nativeScans.run(() => scanDir(fsPath(dir.path)));
      if (r.errno !== undefined) throw new Error(errnoMessage(r.errno, 'scandir', dir.path));
      // The listing's digest straight from the scan's bytes: the names, every entry's fields, the symlink targets.
      // Access times are not recorded (see nodeFromStat), so they are left out: reading a file changes nothing.
      const words = new Int32Array(r.stats.buffer, r.stats.byteOffset, r.stats.length * 2);
      for (let o = ATIME_FIELD * 2; o < words.length; o += SCAN_FIELDS * 2) words[o] = words[o + 1] = 0;
      const digest = createHash('sha256')
        .update(r.names ?? r.rawNames!)
        .update('\0\0')
        .update(new Uint8Array(r.stats.buffer, r.stats.byteOffset, r.stats.byteLength))
        .update(r.links.map((l) => l ?? '').join('\0'));
      if (r.xattrs && r.xattrEnds) digest.update('\0xattrs\0').update(r.xattrs).update(new Uint8Array(r.xattrEnds.buffer, r.xattrEnds.byteOffset, r.xattrEnds.byteLength));
      const digestBytes = digest.digest();
      const names = r.names !== undefined ? (r.names === '' ? [] : r.names.split('\0')) : splitRawNames(r.rawNames);
      return { listing: new NativeListing(names, r.stats, r.links, base, r.xattrs, r.xattrEnds), digest: digestBytes };
    }
    const out = await this.readDirFs(dir, base);
    const h = createHash('sha256');
    for (const e of out) {
      const st = e.stat;
      h.update(encodeRawName(e.name)).update(`\0${e.error ?? ''}\0${st ? `${st.mode}\0${st.uid}\0${st.gid}\0${st.ino}\0${st.dev}\0${st.nlink}\0${st.size}\0${st.rdev}\0${st.mtimeNs}\0${st.ctimeNs}` : ''}\0${e.linktarget ?? ''}\n`);
    }
    return { listing: new RawListing(out), digest: h.digest() };
  }

  private async readDirFs(dir: DirEntry, base: string): Promise<RawEntry[]> {
    // Names as bytes: one that is not UTF-8 keeps its bytes (escaped), so the file can still be read.
    if (dir.sync) {
      const names = readdirSync(fsPath(dir.path), { encoding: 'buffer' }).map(decodeRawName);
      const out: RawEntry[] = [];
      for (const name of names) {
        const full = base + name;
        const at = fsPath(full);
        // The mount point of a network file system is never touched synchronously (its server may hang).
        const mountType = this.mounts?.get(full);
        try {
          const st = fromBigIntStats(
            mountType === undefined || LOCAL_FS_TYPES.has(mountType) ? lstatSync(at, { bigint: true }) : await this.io.run(() => fsp.lstat(at, { bigint: true })),
          );
          const raw: RawEntry = { name, stat: st };
          if ((st.mode & S_IFMT) === 0o120000) raw.linktarget = decodeRawName(readlinkSync(at, { encoding: 'buffer' }));
          out.push(raw);
        } catch (e) {
          out.push({ name, error: (e as Error).message });
        }
        if (++this.sinceYield >= SYNC_SLICE) {
          this.sinceYield = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      }
      return out;
    }
    const names = (await this.io.run(() => fsp.readdir(fsPath(dir.path), { encoding: 'buffer' }))).map(decodeRawName);
    // All entries at once; the limiter bounds the file-system calls in flight.
    return Promise.all(
      names.map(async (name): Promise<RawEntry> => {
        const at = fsPath(base + name);
        try {
          const st = fromBigIntStats(await this.io.run(() => fsp.lstat(at, { bigint: true })));
          const raw: RawEntry = { name, stat: st };
          if ((st.mode & S_IFMT) === 0o120000) raw.linktarget = decodeRawName(await this.io.run(() => fsp.readlink(at, { encoding: 'buffer' })));
          return raw;
        } catch (e) {
          return { name, error: (e as Error).message };
        }
      }),
    );
  }
}

/**
 * The listing digest of a folder that was not listed (the virtual root, a
 * folder on the way to a source): over its children's names and nodes as
 * scanned (their lstat fields), which is all its tree records of them
 * besides their contents and subtrees.
 */
function unlistedDigest(dir: DirEntry): Buffer {
  const h = createHash('sha256').update('unlisted\0');
  for (const name of [...dir.children.keys()].sort()) {
    const e = dir.children.get(name)!;
    h.update(`${name}\0${e.kind}\0${JSON.stringify(e.node ?? null, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  }
  return h.digest();
}

/** Names joined by NUL as bytes (some not UTF-8), decoded without loss (see shared/repo/raw-names.ts). */
function splitRawNames(joined: Buffer): string[] {
  const out: string[] = [];
  for (let from = 0; ; ) {
    const end = joined.indexOf(0, from);
    out.push(decodeRawName(joined.subarray(from, end < 0 ? joined.length : end)));
    if (end < 0) return out;
    from = end + 1;
  }
}

/** int64 fields per entry in the native scan's `stats` (native/src/scan.h). */
const SCAN_FIELDS = 14;
/** The extended attributes' errno field in the native scan's `stats`. */
const XATTR_ERRNO_FIELD = 13;
/** The access time's field in the native scan's `stats`. */
const ATIME_FIELD = 9;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
/** `Listing.format` of an entry that could not be read. */
const FORMAT_ERROR = -1;
/** Index of an int64's low 32 bits in an Int32Array over the same bytes. */
const LOW_WORD = os.endianness() === 'LE' ? 0 : 1;

/**
 * A folder's entries as read, decoded one at a time: the walk needs only each
 * entry's kind and a file's size, and a folder whose tree the folder cache
 * supplies never needs more, so no per-entry objects are made for it.
 */
export interface Listing {
  readonly names: readonly string[];
  /** Entry i's file-type bits (`mode & S_IFMT`), or FORMAT_ERROR when it could not be read. */
  format(i: number): number;
  /** Entry i's size (meaningful for regular files). */
  size(i: number): number;
  /** Entry i in full. */
  entry(i: number): RawEntry;
}

/** A listing as the native scan gives it: int64 fields per entry (see `NativeDirScan`). */
class NativeListing implements Listing {
  private readonly words: Int32Array;

  constructor(
    readonly names: readonly string[],
    private readonly stats: BigInt64Array,
    private readonly links: (string | Buffer | undefined)[],
    private readonly base: string,
    private readonly xattrs?: Buffer,
    private readonly xattrEnds?: Uint32Array,
  ) {
    // The low 32 bits of errno and mode fields, read without making a BigInt per field.
    this.words = new Int32Array(stats.buffer, stats.byteOffset, stats.length * 2);
  }

  private low(i: number, field: number): number {
    return this.words[(i * SCAN_FIELDS + field) * 2 + LOW_WORD]!;
  }

  format(i: number): number {
    if (this.low(i, 0) !== 0 || this.low(i, 12) !== 0) return FORMAT_ERROR;
    return this.low(i, 1) & S_IFMT;
  }

  size(i: number): number {
    const o = (i * SCAN_FIELDS + 7) * 2;
    // An int64 from its two halves, exact below 2^53 (any file size).
    return (this.words[o + LOW_WORD]! >>> 0) + this.words[o + 1 - LOW_WORD]! * 2 ** 32;
  }

  entry(i: number): RawEntry {
    const s = this.stats;
    const o = i * SCAN_FIELDS;
    const name = this.names[i]!;
    const errno = Number(s[o]);
    if (errno !== 0) return { name, error: errnoMessage(errno, 'lstat', this.base + name) };
    const linkErrno = Number(s[o + 12]);
    if (linkErrno !== 0) return { name, error: errnoMessage(linkErrno, 'readlink', this.base + name) };
    const stat: EntryStat = {
      mode: Number(s[o + 1]),
      uid: Number(s[o + 2]),
      gid: Number(s[o + 3]),
      ino: Number(s[o + 4]),
      dev: Number(s[o + 5]),
      nlink: Number(s[o + 6]),
      size: Number(s[o + 7]),
      rdev: Number(s[o + 8]),
      mtimeNs: s[o + 10]!,
      ctimeNs: s[o + 11]!,
    };
    const raw: RawEntry = { name, stat };
    const link = this.links[i];
    if (link !== undefined) raw.linktarget = typeof link === 'string' ? link : decodeRawName(link);
    const xattrErrno = Number(s[o + XATTR_ERRNO_FIELD]);
    // An attribute that could not be read is left out (and said); the others are kept.
    if (xattrErrno !== 0) raw.xattrError = `backed up without some of its extended attributes: ${errnoMessage(xattrErrno, 'getxattr', this.base + name)}`;
    if (this.xattrs && this.xattrEnds) {
      const from = i > 0 ? this.xattrEnds[i - 1]! : 0;
      const to = this.xattrEnds[i]!;
      if (to > from) raw.xattrs = decodeXattrList(this.xattrs.subarray(from, to));
    }
    return raw;
  }
}

/** A listing read with node:fs (entries already decoded). */
class RawListing implements Listing {
  readonly names: readonly string[];

  constructor(private readonly entries: RawEntry[]) {
    this.names = entries.map((e) => e.name);
  }

  format(i: number): number {
    const e = this.entries[i]!;
    return e.stat && e.error === undefined ? e.stat.mode & S_IFMT : FORMAT_ERROR;
  }

  size(i: number): number {
    return this.entries[i]!.stat?.size ?? 0;
  }

  entry(i: number): RawEntry {
    return this.entries[i]!;
  }
}
