import type { FileType } from '../../../shared/repo/types.js';
import type { SharedTokenBucket } from '../../../workers/engine/token-bucket.js';
import { saveOwned, type FileHandle, type FileInfo, type OwnedSave, type StorageTarget } from './target.js';

/** Bytes paid for per step: small enough that a changed limit applies within a fraction of a second. */
const SLICE = 64 * 1024;
/** Longest single sleep, so a raised limit (or cancellation) is noticed quickly. */
const MAX_SLEEP_MS = 250;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until `bytes` may pass through every bucket (each may be shared with
 * other jobs and threads). The wait is re-asked in short steps, so a rate
 * changed meanwhile applies to this transfer at once.
 */
export async function payBandwidth(buckets: readonly SharedTokenBucket[], bytes: number, signal?: AbortSignal): Promise<void> {
  for (let left = bytes; left > 0; ) {
    const n = Math.min(SLICE, left);
    left -= n;
    const tickets = buckets.map((b) => b.take(n));
    for (;;) {
      if (signal?.aborted) return;
      let wait = 0;
      for (let i = 0; i < buckets.length; i++) wait = Math.max(wait, buckets[i]!.waitMs(tickets[i]!));
      if (wait <= 0) break;
      await sleep(Math.min(wait, MAX_SLEEP_MS));
    }
  }
}

/**
 * Limits a target's bandwidth: uploads pass through the `upload` buckets,
 * downloads through the `download` buckets (per job and global; a bucket's
 * rate 0 means unlimited). A transfer is admitted at the limited rate and
 * then performed, so the long-run rate equals the limit; rates changed while
 * a job runs apply within a fraction of a second.
 */
export class ThrottledTarget implements StorageTarget {
  constructor(
    private readonly inner: StorageTarget,
    private readonly upload: readonly SharedTokenBucket[],
    private readonly download: readonly SharedTokenBucket[] = [],
    /** Called once when the target is closed (e.g. to release the buckets). */
    private readonly onClose?: () => void,
  ) {}

  get location(): string {
    return this.inner.location;
  }
  get connections(): number {
    return this.inner.connections;
  }
  create(): Promise<void> {
    return this.inner.create();
  }
  async save(h: FileHandle, data: Uint8Array): Promise<void> {
    await payBandwidth(this.upload, data.length);
    await this.inner.save(h, data);
  }
  async saveOwned(h: FileHandle, data: Uint8Array): Promise<OwnedSave> {
    await payBandwidth(this.upload, data.length);
    return saveOwned(this.inner, h, data);
  }
  async load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    return this.inner.load(h, length, offset, async (data) => {
      await payBandwidth(this.download, data.length);
      return consume(data);
    });
  }
  stat(h: FileHandle): Promise<FileInfo> {
    return this.inner.stat(h);
  }
  list(type: FileType): Promise<FileInfo[]> {
    return this.inner.list(type);
  }
  remove(h: FileHandle): Promise<void> {
    return this.inner.remove(h);
  }
  async removeLeftovers(olderThan: number): Promise<number> {
    return (await this.inner.removeLeftovers?.(olderThan)) ?? 0;
  }
  close(): Promise<void> {
    this.onClose?.();
    return this.inner.close();
  }
}
