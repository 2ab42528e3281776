/**
 * The message contract between the main thread and engine workers. Every
 * request carries a `taskId`; the worker answers each with exactly one reply
 * of the matching kind (or `failed`), and may send `progress` in between.
 * ArrayBuffers in requests and replies are transferred, never shared, except
 * the known-blob set and the pack-buffer signal, which are SharedArrayBuffers
 * by design. Pack buffers make a round trip: a worker transfers a finished
 * pack's buffer to the main thread, which gives it back on the worker's
 * pack-buffer channel once the pack is stored (see `PackBufferExchange`).
 */
import type { PackedBlob } from '../shared/repo/pack.js';
import type { ExtendedAttribute } from '../shared/repo/types.js';
import type { CompressionMode } from './engine/blob.js';
import type { KnownSetBuffers } from './engine/known-set.js';
import type { PackBufferWire } from './engine/pack-buffers.js';

export interface WireKey {
  encrypt: Uint8Array;
  macK: Uint8Array;
  macR: Uint8Array;
}

/** Sent once to each worker before any task. */
export interface InitRequest {
  kind: 'init';
  taskId: number;
  key: WireKey;
  /** Chunker polynomial, hex as in the config (only needed for backups). */
  polynomial?: string;
  knownSet?: KnownSetBuffers;
  packSize?: number;
  compression?: CompressionMode;
  /** This worker's pack-buffer budget and return channel (backups); its port is transferred with the message. */
  packBuffers?: PackBufferWire;
}

export interface BackupFile {
  /** Caller's handle for the file, echoed in the reply. */
  index: number;
  path: string;
}

/** Read, chunk, hash these files; seal and pack blobs this worker claims first. */
export interface BackupFilesRequest {
  kind: 'backup-files';
  taskId: number;
  files: BackupFile[];
}

export interface BackupFileResult {
  index: number;
  /** Data blob IDs in order; absent when the file could not be read. */
  content?: string[];
  size: number;
  error?: string;
}

export interface WirePack {
  id: string;
  /** The pack file is the first `length` bytes of `bytes` (a reusable pack buffer, usually larger). */
  bytes: ArrayBuffer;
  length: number;
  blobs: PackedBlob[];
  /** Index of the worker whose pack buffer this is (give it back there once stored); absent for a one-off buffer. */
  owner?: number;
}

export interface BackupFilesReply {
  kind: 'backup-files';
  taskId: number;
  files: BackupFileResult[];
  /** Plaintext bytes of blobs this worker added (new to the repository). */
  bytesAdded: number;
  /** Bytes those blobs take in packs (compressed and encrypted). */
  bytesStored: number;
  blobsAdded: number;
}

/** Finish the worker's partly filled pack, if any. */
export interface FlushRequest {
  kind: 'flush';
  taskId: number;
}

export interface FlushReply {
  kind: 'flush';
  taskId: number;
  packs: WirePack[];
}

export interface RestoreItem {
  /**
   * Absolute path of the file being restored: already created by the caller,
   * unless the request lists it in `files` (then the worker creates it).
   */
  path: string;
  /** Where this blob's plaintext goes in the file. */
  fileOffset: number;
  id: string;
  /** Holds the stored (encrypted) blob at `storedOffset`; several items may share one buffer (one read of neighbouring blobs). */
  stored: ArrayBuffer;
  storedOffset: number;
  storedLength: number;
  uncompressedLength?: number;
}

/**
 * A file whose blobs are ALL in one restore-blobs request: the worker
 * creates it (O_CREAT | O_TRUNC | O_NOFOLLOW; a symlink or folder in its
 * place is removed first, never followed), writes its blobs, and, when every
 * blob was written, sets its metadata on the open descriptor: owner (only
 * when `uid`/`gid` are given), permissions, then times (last, after the writes).
 */
export interface RestoreFile {
  path: string;
  /** Permission bits for fchmod. */
  mode: number;
  /** Access and modification times, nanoseconds since the epoch. */
  atimeNs: bigint;
  mtimeNs: bigint;
  uid?: number;
  gid?: number;
  /** Extended attributes to set (after ownership, before the mode). */
  xattrs?: ExtendedAttribute[];
}

/** Verify, decrypt, decompress and write blobs into files. */
export interface RestoreBlobsRequest {
  kind: 'restore-blobs';
  taskId: number;
  items: RestoreItem[];
  /** Files this request completes and the worker creates and finishes (see RestoreFile). */
  files?: RestoreFile[];
}

export interface RestoreBlobsReply {
  kind: 'restore-blobs';
  taskId: number;
  bytesWritten: number;
  /** One entry per item that failed, naming the file and blob (id '' when the file itself could not be created). */
  errors: { path: string; id: string; message: string }[];
  /** Files of `files` whose blobs were all written but whose metadata could not be set. */
  metadataErrors: { path: string; message: string }[];
}

/** Read-data check of one whole pack. */
export interface VerifyPackRequest {
  kind: 'verify-pack';
  taskId: number;
  packId: string;
  bytes: ArrayBuffer;
  /** What the index says the pack holds (may be empty for unindexed packs). */
  indexed: PackedBlob[];
}

export interface VerifyPackReply {
  kind: 'verify-pack';
  taskId: number;
  packId: string;
  errors: string[];
  blobs: number;
}

/**
 * Packs a worker finished while processing a backup-files task, sent at once
 * (before the task's reply, in order): the buffers of stored packs come back
 * to the worker while it goes on reading.
 */
export interface PacksMessage {
  kind: 'packs';
  taskId: number;
  packs: WirePack[];
}

export interface ProgressMessage {
  kind: 'progress';
  taskId: number;
  bytes: number;
  path?: string;
}

export interface InitReply {
  kind: 'init';
  taskId: number;
}

export interface FailedReply {
  kind: 'failed';
  taskId: number;
  message: string;
  stack?: string;
}

export type EngineRequest = InitRequest | BackupFilesRequest | FlushRequest | RestoreBlobsRequest | VerifyPackRequest;
export type EngineReply = InitReply | BackupFilesReply | FlushReply | RestoreBlobsReply | VerifyPackReply | FailedReply;
export type EngineMessage = EngineReply | ProgressMessage | PacksMessage;

/** The reply type for each request kind. */
export interface ReplyFor {
  init: InitReply;
  'backup-files': BackupFilesReply;
  flush: FlushReply;
  'restore-blobs': RestoreBlobsReply;
  'verify-pack': VerifyPackReply;
}

/** Returns an ArrayBuffer holding exactly `b`'s bytes, copying only if `b` is a view into a larger (possibly pooled) buffer. */
export function exclusiveArrayBuffer(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return copy.buffer;
}
