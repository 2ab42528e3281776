/**
 * A snapshot's contents as a flat index (one entry per path, read once by
 * walking its trees) and what the snapshot browser asks of it: a folder's
 * children with sizes (a folder's size is everything below it), search by
 * name, and the difference between two snapshots. Pure.
 */

export type SnapshotEntryType = 'file' | 'dir' | 'symlink' | 'other';

/** One path of a snapshot. */
export interface SnapshotEntry {
  /** Absolute path inside the snapshot, "/home/ann/a.txt". */
  path: string;
  name: string;
  type: SnapshotEntryType;
  /** Files: their size; folders: the total size of the files below them. */
  size: number;
  /** Modification time (ISO). */
  mtime: string;
}

/** What the walk records of a node: the entry, plus what decides whether it changed. */
export interface IndexedNode extends SnapshotEntry {
  /** Content identity: the blob IDs of a file, the target of a symlink, the type otherwise. */
  content: string;
  mode: number;
}

/** A snapshot's index: every path, and each folder's children in name order. */
export interface SnapshotIndex {
  byPath: Map<string, IndexedNode>;
  children: Map<string, IndexedNode[]>;
}

/** Builds the index from the walk's nodes (parents before children), adding up folder sizes. */
export function buildSnapshotIndex(nodes: Iterable<IndexedNode>): SnapshotIndex {
  const byPath = new Map<string, IndexedNode>();
  const children = new Map<string, IndexedNode[]>([['/', []]]);
  for (const n of nodes) {
    const entry = { ...n, size: n.type === 'dir' ? 0 : n.size };
    byPath.set(entry.path, entry);
    const parent = parentOf(entry.path);
    let list = children.get(parent);
    if (!list) children.set(parent, (list = []));
    list.push(entry);
    if (entry.type === 'dir' && !children.has(entry.path)) children.set(entry.path, []);
  }
  // Folder sizes: each file's size added to every folder above it.
  for (const e of byPath.values()) {
    if (e.type === 'dir' || e.size === 0) continue;
    for (let p = parentOf(e.path); p !== '/'; p = parentOf(p)) {
      const d = byPath.get(p);
      if (d) d.size += e.size;
    }
  }
  for (const list of children.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { byPath, children };
}

export function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Strips the walk-only fields. */
export function toEntry(n: IndexedNode): SnapshotEntry {
  return { path: n.path, name: n.name, type: n.type, size: n.size, mtime: n.mtime };
}

/** A folder's children (null when the path is not a folder of the snapshot). */
export function listChildren(index: SnapshotIndex, dir: string): SnapshotEntry[] | null {
  const key = dir === '' ? '/' : dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
  const list = index.children.get(key);
  return list ? list.map(toEntry) : null;
}

/**
 * Entries whose name contains `query` (case-insensitive; `*` and `?` are
 * wildcards when present), in path order, at most `limit`.
 */
export function searchIndex(index: SnapshotIndex, query: string, limit: number): { entries: SnapshotEntry[]; truncated: boolean } {
  const q = query.trim().toLowerCase();
  const wild = /[*?]/.test(q);
  const re = wild ? new RegExp(`^${q.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`) : null;
  const out: SnapshotEntry[] = [];
  const paths = [...index.byPath.keys()].sort();
  for (const p of paths) {
    const e = index.byPath.get(p)!;
    const name = e.name.toLowerCase();
    if (re ? re.test(name) : name.includes(q)) {
      if (out.length === limit) return { entries: out, truncated: true };
      out.push(toEntry(e));
    }
  }
  return { entries: out, truncated: false };
}

/** What changed from one snapshot to another. Folders are listed when added or removed, never as changed. */
export interface SnapshotDiff {
  added: SnapshotEntry[];
  removed: SnapshotEntry[];
  changed: { path: string; before: SnapshotEntry; after: SnapshotEntry }[];
  /** Bytes of the added and changed files in `to`, and of the removed files in `from`. */
  bytesAdded: number;
  bytesRemoved: number;
}

/** Compares two indexes path by path: type, content (blob IDs, link target) and mode decide "changed". */
export function diffIndexes(from: SnapshotIndex, to: SnapshotIndex): SnapshotDiff {
  const added: SnapshotEntry[] = [];
  const removed: SnapshotEntry[] = [];
  const changed: SnapshotDiff['changed'] = [];
  let bytesAdded = 0;
  let bytesRemoved = 0;
  for (const [p, b] of to.byPath) {
    const a = from.byPath.get(p);
    if (!a) {
      added.push(toEntry(b));
      if (b.type !== 'dir') bytesAdded += b.size;
    } else if (a.type !== 'dir' || b.type !== 'dir') {
      if (a.type !== b.type || a.content !== b.content || a.mode !== b.mode) {
        changed.push({ path: p, before: toEntry(a), after: toEntry(b) });
        if (b.type !== 'dir') bytesAdded += b.size;
      }
    }
  }
  for (const [p, a] of from.byPath) {
    if (!to.byPath.has(p)) {
      removed.push(toEntry(a));
      if (a.type !== 'dir') bytesRemoved += a.size;
    }
  }
  const byPath = (x: { path: string }, y: { path: string }) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0);
  return { added: added.sort(byPath), removed: removed.sort(byPath), changed: changed.sort(byPath), bytesAdded, bytesRemoved };
}
