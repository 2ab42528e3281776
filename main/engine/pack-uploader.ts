import type { PackedBlob } from '../../shared/repo/pack.js';
import type { Id } from '../../shared/repo/types.js';
import { saveOwned, type StorageTarget } from './targets/target.js';

/** A finished pack waiting to be stored. */
export interface PendingPack {
  id: Id;
  bytes: Uint8Array;
  blobs: PackedBlob[];
}

/**
 * Uploads finished packs to a target with a bounded number of parallel
 * uploads. Callers check `backlogBytes`/`waitForRoom` so that reading never
 * runs far ahead of the network (memory stays bounded). The first failed
 * upload stops the uploader; `drain` then rejects with that error.
 * Packs are saved with `saveOwned`: a target in another thread borrows the
 * pack's buffer without a copy and gives it back (as a new ArrayBuffer
 * object, in `pack.bytes`), so the uploader owns each pack's whole buffer
 * until `onUploaded`. `onUploaded` runs once a pack is stored and may take
 * its buffer over (e.g. transfer it back to the worker that built it).
 */
export class PackUploader {
  private queue: PendingPack[] = [];
  private active = 0;
  private error: Error | undefined;
  private waiters: (() => void)[] = [];
  backlogBytes = 0;
  uploadedBytes = 0;
  /** Told once, when the first upload fails (e.g. to stop producers waiting for buffers that will not come back). */
  onFailure: (e: Error) => void = () => {};

  constructor(
    private readonly target: StorageTarget,
    private readonly concurrency: number,
    private readonly onUploaded: (pack: PendingPack) => void | Promise<void>,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) throw new Error(`upload connections: must be 1 to 64, got ${concurrency}`);
  }

  enqueue(pack: PendingPack): void {
    if (this.error) throw this.error;
    this.queue.push(pack);
    this.backlogBytes += pack.bytes.length;
    this.pump();
  }

  /** Resolves once the backlog is below `maxBytes` (or rejects if an upload failed). */
  async waitForRoom(maxBytes: number): Promise<void> {
    while (!this.error && this.backlogBytes > maxBytes) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error) throw this.error;
  }

  /** Resolves when every enqueued pack is stored. */
  async drain(): Promise<void> {
    while (!this.error && (this.queue.length > 0 || this.active > 0)) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error) throw this.error;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private pump(): void {
    while (!this.error && this.active < this.concurrency && this.queue.length > 0) {
      const pack = this.queue.shift()!;
      this.active++;
      void this.upload(pack);
    }
  }

  private async upload(pack: PendingPack): Promise<void> {
    // Measured now: `onUploaded` may hand the buffer on (transfer it), which empties `pack.bytes`.
    const size = pack.bytes.length;
    try {
      const saved = await saveOwned(this.target, { type: 'data', name: pack.id }, pack.bytes);
      pack.bytes = saved.data;
      if ('error' in saved) throw saved.error;
      this.uploadedBytes += size;
      await this.onUploaded(pack);
    } catch (e) {
      if (!this.error) {
        this.error = new Error(`uploading pack ${pack.id.slice(0, 12)} to ${this.target.location} failed: ${(e as Error).message}`);
        this.onFailure(this.error);
      }
    } finally {
      this.active--;
      this.backlogBytes -= size;
      this.pump();
      this.wake();
    }
  }
}
