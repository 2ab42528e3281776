import type { FileType } from '../../../shared/repo/types.js';

/** Names one file in a repository: its type (folder) and name (storage ID, or "config"). */
export interface FileHandle {
  type: FileType;
  /** Storage ID in hex; ignored for type "config". */
  name: string;
}

/** A file found by `list`. */
export interface FileInfo {
  name: string;
  size: number;
}

/**
 * Where a repository's files live: a local folder, SFTP, S3. Modelled on
 * restic's backend interface; everything above it (repository, engine) is
 * target-agnostic, and throttling, retries and logging wrap a target rather
 * than living inside each implementation.
 *
 * Rules every implementation keeps (the contract test suite checks them):
 * - `save` is atomic: readers never observe a partial file; a crashed save
 *   leaves either nothing or the whole file. Saving an existing name replaces it.
 * - `load` calls `consume` with the requested range and returns its result.
 *   `consume` may be called more than once (a retry wrapper re-reads after a
 *   transient error), so it must be idempotent. `length` 0 means "to the end".
 * - Missing files reject with a `NotFoundError`; callers test `isNotFound`.
 * - Transient errors (timeouts, resets, 5xx) are retried by a wrapper, never
 *   by the implementation; permanent ones (auth, no space, not found) surface at once.
 * - All methods may be called concurrently, up to `connections` at a time.
 */
export interface StorageTarget {
  /** Human-readable location, safe to show (no secrets). */
  readonly location: string;
  /** How many operations may run in parallel against this target. */
  readonly connections: number;
  /** Creates the folder structure of an empty repository; fails if a config already exists. */
  create(): Promise<void>;
  save(h: FileHandle, data: Uint8Array): Promise<void>;
  load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T>;
  stat(h: FileHandle): Promise<FileInfo>;
  /** Lists all files of a type. Order is unspecified. */
  list(type: FileType): Promise<FileInfo[]>;
  remove(h: FileHandle): Promise<void>;
  close(): Promise<void>;
}

/** Thrown (rejected) by a target when a file does not exist. */
export class NotFoundError extends Error {
  constructor(readonly handle: FileHandle, location: string) {
    super(`${handle.type === 'config' ? 'config' : `${handle.type}/${handle.name}`} not found in ${location}`);
    this.name = 'NotFoundError';
  }
}

export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}

/** Loads a whole file into memory. */
export function loadAll(target: StorageTarget, h: FileHandle): Promise<Buffer> {
  return target.load(h, 0, 0, (b) => b);
}
