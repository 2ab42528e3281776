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
 * - `save` leaves the caller's buffer alone: the caller keeps it and may
 *   reuse it once the promise settles. `saveOwned`, where offered, may take
 *   the buffer away meanwhile (transfer it to another thread) and always
 *   gives the bytes back, whether the save succeeded or failed.
 */
export interface StorageTarget {
  /** Human-readable location, safe to show (no secrets). */
  readonly location: string;
  /** How many operations may run in parallel against this target. */
  readonly connections: number;
  /** Creates the folder structure of an empty repository; fails if a config already exists. */
  create(): Promise<void>;
  save(h: FileHandle, data: Uint8Array): Promise<void>;
  /**
   * Saves like `save`, but the caller hands over `data`'s whole underlying
   * ArrayBuffer until the promise settles (it must not touch it or any other
   * view of it meanwhile), so a target in another thread can move the bytes
   * there without a copy. It never rejects: the result holds the bytes (the
   * same range, maybe in a new ArrayBuffer object) and the error if the save
   * failed, so the caller can retry or reuse the buffer either way. Optional:
   * `saveOwned()` below falls back to `save` for targets without it.
   */
  saveOwned?(h: FileHandle, data: Uint8Array): Promise<OwnedSave>;
  load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T>;
  stat(h: FileHandle): Promise<FileInfo>;
  /** Lists all files of a type. Order is unspecified. */
  list(type: FileType): Promise<FileInfo[]>;
  remove(h: FileHandle): Promise<void>;
  /**
   * Removes the temporary files of saves that never finished (the process was
   * killed, the machine lost power) last written before `olderThan` (ms since
   * the epoch); returns how many. Never touches a repository file. Called
   * under an exclusive lock (by prune), when no save can be in flight.
   * Optional: a target whose saves leave nothing behind omits it; wrappers
   * forward it (0 when the target they wrap has none).
   */
  removeLeftovers?(olderThan: number): Promise<number>;
  close(): Promise<void>;
}

/** The name prefix of the temporary files atomic saves write and then rename (local folders, SFTP). */
export const TEMPORARY_PREFIX = '.tmp-';

/** What `saveOwned` gives back: the caller's bytes, and why the save failed if it did. */
export interface OwnedSave {
  data: Uint8Array;
  /** Set when the save failed (the same error `save` would have rejected with). */
  error?: unknown;
}

/** Saves through `target.saveOwned` when the target offers it, else through `save` (the buffer then never leaves). */
export async function saveOwned(target: StorageTarget, h: FileHandle, data: Uint8Array): Promise<OwnedSave> {
  if (target.saveOwned) return target.saveOwned(h, data);
  try {
    await target.save(h, data);
    return { data };
  } catch (error) {
    return { data, error };
  }
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
