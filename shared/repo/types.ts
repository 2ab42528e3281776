/**
 * The JSON documents of a restic repository (format version 2), as restic's
 * design document defines them. Field order in these types follows restic's Go
 * structs, because tree encoding must be deterministic (see tree.ts).
 */

/** Lower-case hex SHA-256: a blob ID (of plaintext) or a storage ID (of a file's bytes). */
export type Id = string;

export type BlobType = 'data' | 'tree';

/** The encrypted `config` file. */
export interface RepoConfig {
  version: 1 | 2;
  id: Id;
  chunker_polynomial: string;
}

export type NodeType = 'file' | 'dir' | 'symlink' | 'dev' | 'chardev' | 'fifo' | 'socket' | 'irregular';

/**
 * One entry of a tree. Times are nanoseconds since the epoch. `name` is the
 * real name (Go quoting is applied only when encoding).
 */
export interface TreeNode {
  name: string;
  type: NodeType;
  /** Go os.FileMode (see gomode.ts). */
  mode: number;
  mtime: bigint;
  atime: bigint;
  ctime: bigint;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  inode?: number;
  device_id?: number;
  size?: number;
  links?: number;
  linktarget?: string;
  /** Extended attributes in the order the file system listed them (never a symlink's). */
  extended_attributes?: ExtendedAttribute[];
  device?: number;
  /** Data blob IDs in order; null for non-files. */
  content: Id[] | null;
  subtree?: Id;
  error?: string;
}

/** One extended attribute of a node, as restic records it: the value base64 (Go's []byte), null for Go's nil. */
export interface ExtendedAttribute {
  name: string;
  value: string | null;
}

export interface Tree {
  nodes: TreeNode[];
  /**
   * Set by `decodeTree` when a node had fields TreeNode does not model
   * (restic's extended attributes, for one): encoding the nodes again would
   * not give this tree back.
   */
  foreignFields?: true;
}

export interface SnapshotSummary {
  backup_start: string;
  backup_end: string;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number;
  data_added_packed: number;
  total_files_processed: number;
  total_bytes_processed: number;
}

/** A snapshot file's JSON (times as Go RFC 3339 strings, as stored). */
export interface SnapshotJSON {
  time: string;
  parent?: Id;
  tree: Id;
  paths: string[];
  hostname?: string;
  username?: string;
  uid?: number;
  gid?: number;
  excludes?: string[];
  tags?: string[];
  original?: Id;
  program_version?: string;
  summary?: SnapshotSummary;
}

/** A snapshot with its storage ID. */
export interface Snapshot extends SnapshotJSON {
  id: Id;
}

/** Where one blob lives: its pack and byte range (of the encrypted blob). */
export interface BlobLocation {
  id: Id;
  type: BlobType;
  pack: Id;
  offset: number;
  length: number;
  /** Present only for compressed blobs: the plaintext length. */
  uncompressed_length?: number;
}

export interface IndexJSON {
  supersedes?: Id[];
  packs: { id: Id; blobs: { id: Id; type: BlobType; offset: number; length: number; uncompressed_length?: number }[] }[];
}

export interface LockJSON {
  time: string;
  exclusive: boolean;
  hostname: string;
  username: string;
  pid: number;
  uid: number;
  gid: number;
}

/** The kinds of files in a repository, by the folder they live in. */
export type FileType = 'config' | 'keys' | 'snapshots' | 'index' | 'data' | 'locks';
