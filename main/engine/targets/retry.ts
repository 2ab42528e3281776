import type { FileType } from '../../../shared/repo/types.js';
import { isNotFound, saveOwned, type FileHandle, type FileInfo, type OwnedSave, type StorageTarget } from './target.js';

/** Decides whether an error is worth another attempt. */
export type TransientClassifier = (e: unknown) => boolean;

const TRANSIENT_CODES = new Set(['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EAGAIN', 'EBUSY', 'EIO']);

/**
 * The default classification: network and busy errors are transient; not
 * found, permissions, authentication, a full or read-only disk are permanent.
 * Targets with their own error vocabulary pass their own classifier.
 */
export function isTransientError(e: unknown): boolean {
  if (isNotFound(e)) return false;
  const err = e as { code?: unknown; statusCode?: unknown; $metadata?: { httpStatusCode?: number }; transient?: unknown };
  if (err?.transient === true) return true;
  if (typeof err?.code === 'string') return TRANSIENT_CODES.has(err.code);
  const status = typeof err?.statusCode === 'number' ? err.statusCode : err?.$metadata?.httpStatusCode;
  if (typeof status === 'number') return status >= 500 || status === 429 || status === 408;
  return false;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  /** First backoff (ms); doubles each time, with full jitter, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
  isTransient: TransientClassifier;
  /** Told about each retry (for the run log). */
  onRetry?: (what: string, attempt: number, delayMs: number, e: Error) => void;
  /** Random source for the jitter (tests pin it). */
  random?: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 7, baseDelayMs: 500, maxDelayMs: 30_000, isTransient: isTransientError };

/** Raised when a target operation fails for good; names the target and the operation. */
export class TargetError extends Error {
  constructor(message: string, readonly transient: boolean, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'TargetError';
  }
}

/**
 * Retries a target's transient failures with exponential backoff and full
 * jitter, per operation (a pack upload is retried alone); permanent ones
 * fail at once. The final error names the target and the operation; it
 * never contains credentials (targets keep secrets out of their messages).
 * `load`'s consumer is idempotent by the target contract, so a load may be
 * retried whole. Once an operation has spent the whole budget on transient
 * errors the target counts as unreachable: later operations (releasing a
 * lock after the failed upload, say) get one attempt each, until one
 * succeeds, so a run against a vanished server ends within one budget.
 */
export class RetryingTarget implements StorageTarget {
  private readonly policy: RetryPolicy;
  /** Set when an operation gave up after the whole budget; cleared by any success. */
  private unreachable = false;

  constructor(private readonly inner: StorageTarget, policy: Partial<RetryPolicy> = {}) {
    this.policy = { ...DEFAULT_RETRY, ...policy };
    if (!Number.isInteger(this.policy.attempts) || this.policy.attempts < 1) throw new Error('retry attempts: must be at least 1');
  }

  get location(): string {
    return this.inner.location;
  }
  get connections(): number {
    return this.inner.connections;
  }

  private async attempt<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { attempts, baseDelayMs, maxDelayMs, isTransient, onRetry } = this.policy;
    const random = this.policy.random ?? Math.random;
    for (let i = 1; ; i++) {
      try {
        const result = await fn();
        this.unreachable = false;
        return result;
      } catch (e) {
        if (isNotFound(e)) throw e; // callers test for it; never retried
        const transient = isTransient(e);
        const msg = (e as Error).message;
        if (!transient) throw new TargetError(`${what} on ${this.location} failed: ${msg}`, false, { cause: e });
        if (this.unreachable) throw new TargetError(`${what} on ${this.location} failed (still unreachable after an earlier operation spent ${attempts} attempts): ${msg}`, true, { cause: e });
        if (i >= attempts) {
          this.unreachable = true;
          throw new TargetError(`${what} on ${this.location} failed after ${attempts} attempts: ${msg}`, true, { cause: e });
        }
        const delay = Math.round(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (i - 1)));
        onRetry?.(what, i, delay, e as Error);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private static describe(h: FileHandle): string {
    return h.type === 'config' ? 'config' : `${h.type}/${h.name.slice(0, 12)}`;
  }

  create(): Promise<void> {
    return this.attempt('creating the repository', () => this.inner.create());
  }
  save(h: FileHandle, data: Uint8Array): Promise<void> {
    return this.attempt(`saving ${RetryingTarget.describe(h)}`, () => this.inner.save(h, data));
  }
  /** Retries like `save`; each attempt gets the bytes the previous one gave back. */
  async saveOwned(h: FileHandle, data: Uint8Array): Promise<OwnedSave> {
    let bytes = data;
    const length = data.byteLength; // `data` itself may be detached by the first attempt
    try {
      await this.attempt(`saving ${RetryingTarget.describe(h)}`, async () => {
        const r = await saveOwned(this.inner, h, bytes);
        // Bytes lost with a failed thread are never retried (that would store a short file).
        if (r.data.byteLength !== length) throw new TargetError(`the bytes did not come back from ${this.location}: ${String((r.error as Error)?.message ?? r.error)}`, false);
        bytes = r.data;
        if ('error' in r) throw r.error;
      });
      return { data: bytes };
    } catch (error) {
      return { data: bytes, error };
    }
  }
  load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    return this.attempt(`loading ${RetryingTarget.describe(h)}`, () => this.inner.load(h, length, offset, consume));
  }
  stat(h: FileHandle): Promise<FileInfo> {
    return this.attempt(`stat of ${RetryingTarget.describe(h)}`, () => this.inner.stat(h));
  }
  list(type: FileType): Promise<FileInfo[]> {
    return this.attempt(`listing ${type}`, () => this.inner.list(type));
  }
  remove(h: FileHandle): Promise<void> {
    return this.attempt(`removing ${RetryingTarget.describe(h)}`, () => this.inner.remove(h));
  }
  async removeLeftovers(olderThan: number): Promise<number> {
    const inner = this.inner;
    return inner.removeLeftovers ? this.attempt('removing leftover temporary files', () => inner.removeLeftovers!(olderThan)) : 0;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
