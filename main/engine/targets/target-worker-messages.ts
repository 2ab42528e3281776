import type { FileType } from '../../../shared/repo/types.js';
import type { OpenTargetOptions } from './open-target.js';
import type { FileHandle, FileInfo } from './target.js';

/**
 * What a target worker opens: a location and options that survive structured
 * cloning (no callbacks), and the bandwidth buckets' SharedArrayBuffers, so
 * the worker's transfers draw on the same buckets as every other thread.
 */
export interface TargetWorkerSpec {
  location: string;
  /** The location as it may be shown (no secrets). */
  displayLocation: string;
  options: Omit<OpenTargetOptions, 'sftp'> & { sftp?: Omit<NonNullable<OpenTargetOptions['sftp']>, 'onNewHostKey'> };
  upload?: SharedArrayBuffer[];
  download?: SharedArrayBuffer[];
  /** Retry transient errors inside the worker (default: the caller wraps the WorkerTarget in its own RetryingTarget). */
  retry?: boolean;
}

/** One operation, as the caller asks for it. */
export type TargetWorkerCall =
  | { kind: 'create' }
  | { kind: 'save'; handle: FileHandle; data: Uint8Array }
  /** A save whose buffer was transferred: the reply transfers it back, on success ('saved') and on failure ('error' with data). */
  | { kind: 'save-owned'; handle: FileHandle; data: Uint8Array }
  | { kind: 'load'; handle: FileHandle; length: number; offset: number }
  | { kind: 'stat'; handle: FileHandle }
  | { kind: 'list'; type: FileType }
  | { kind: 'remove'; handle: FileHandle }
  | { kind: 'remove-leftovers'; olderThan: number }
  | { kind: 'close' };

export type TargetWorkerRequest = { id: number } & TargetWorkerCall;

/** An error as it crosses the thread boundary (what callers test: not found, code, transient). */
export interface WireError {
  name: string;
  message: string;
  code?: string | number;
  transient?: boolean;
  notFound?: { handle: FileHandle; location: string };
}

export type TargetWorkerReply = { id: number } & (
  | { kind: 'done' }
  | { kind: 'saved'; data: Uint8Array }
  | { kind: 'loaded'; data: Uint8Array }
  | { kind: 'info'; info: FileInfo }
  | { kind: 'listed'; files: FileInfo[] }
  | { kind: 'removed'; count: number }
  | { kind: 'error'; error: WireError; data?: Uint8Array }
);

/**
 * What the worker tells its owner outside any reply: an SFTP host key was
 * pinned on first use (the owner runs its `onNewHostKey`). Messages keep their
 * order, so this arrives before the reply to the operation that connected.
 */
export interface TargetWorkerEvent {
  kind: 'new-host-key';
  fingerprint: string;
  info: { hostPort: string; keyType: string; file: string };
}

/** Everything the worker posts. */
export type TargetWorkerMessage = TargetWorkerReply | TargetWorkerEvent;
