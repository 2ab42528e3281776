import type { SharedTokenBucket } from '../../../workers/engine/token-bucket.js';
import { openTarget, type OpenTargetOptions } from './open-target.js';
import type { FileType } from '../../../shared/repo/types.js';
import { LocalTarget } from './local.js';
import type { FileHandle, FileInfo, OwnedSave, StorageTarget } from './target.js';
import { ThrottledTarget } from './throttle.js';
import { WorkerTarget } from './worker-target.js';

/** How `openTransferTarget` opens a location. */
export interface TransferTargetOptions {
  /** Run the target (and its throttle) in a worker thread of its own; default true. */
  thread?: boolean;
  /** Buckets every upload and download pays into (shared memory, so rates changed here reach the thread). */
  upload?: SharedTokenBucket[];
  download?: SharedTokenBucket[];
  /** Called once when the target is closed (e.g. to release the buckets). */
  onClose?: () => void;
}

/**
 * Opens the target a location names for a repository's transfers: by
 * default in a worker thread of its own (a WorkerTarget) for every kind of
 * target; for a local folder, only the pack saves go to the thread (measured:
 * a 1 GiB local backup took the same wall and CPU time with the thread as
 * without; see ARCHITECTURE.md), so hashing,
 * encryption and the engine's bookkeeping on the caller's thread never wait
 * behind TLS, SSH or file-system calls, and packs move to it without a copy;
 * with `thread: false`, on the caller's thread. Either way the bandwidth
 * buckets apply and the options' callbacks (SFTP host-key notices) run on
 * the caller's thread. Bad locations and options throw here, at once, with
 * the same messages in both modes. Retries are the caller's (wrap the result
 * in a RetryingTarget), so its retry log stays where it was.
 */
export function openTransferTarget(location: string, options: OpenTargetOptions, how: TransferTargetOptions = {}): StorageTarget {
  // Opened here first to check the location and options on this thread; a target does not connect until used.
  const direct = openTarget(location, options);
  const upload = how.upload ?? [];
  const download = how.download ?? [];
  if (how.thread === false) {
    if (upload.length === 0 && download.length === 0 && !how.onClose) return direct;
    return new ThrottledTarget(direct, upload, download, how.onClose);
  }
  const { onNewHostKey, ...sftp } = options.sftp ?? { knownHostsFile: '' };
  const worker = (onClose?: () => void) =>
    new WorkerTarget(
      {
        location,
        displayLocation: direct.location,
        options: { ...options, ...(options.sftp ? { sftp } : {}) },
        upload: upload.map((b) => b.buffer),
        download: download.map((b) => b.buffer),
      },
      direct.connections,
      { ...(onNewHostKey ? { onNewHostKey } : {}), ...(onClose ? { onClose } : {}) },
    );
  if (direct instanceof LocalTarget) return new LocalPackThreadTarget(new ThrottledTarget(direct, upload, download), () => worker(), how.onClose);
  void direct.close().catch(() => {});
  return worker(how.onClose);
}

/**
 * A local folder whose packs are saved by a transfer thread, started at the
 * first pack, while everything else (config, keys, index, snapshots, locks,
 * reads) runs on the caller's thread: those are small, a local file-system
 * call is asynchronous anyway, and a run that writes no pack (an unchanged
 * re-run) never waits for a thread to start (about 0.1 s, on the critical
 * path of opening the repository). Both sides pay into the same buckets.
 */
export class LocalPackThreadTarget implements StorageTarget {
  private thread: WorkerTarget | undefined;
  private closed = false;

  constructor(
    private readonly direct: StorageTarget,
    private readonly startThread: () => WorkerTarget,
    private readonly onClose?: () => void,
  ) {}

  get location(): string {
    return this.direct.location;
  }
  get connections(): number {
    return this.direct.connections;
  }
  /** Whether the transfer thread has been started (by a first pack). */
  get threadStarted(): boolean {
    return this.thread !== undefined;
  }
  create(): Promise<void> {
    return this.direct.create();
  }
  save(h: FileHandle, data: Uint8Array): Promise<void> {
    return this.direct.save(h, data);
  }
  saveOwned(h: FileHandle, data: Uint8Array): Promise<OwnedSave> {
    if (this.closed) return Promise.resolve({ data, error: new Error(`${this.location}: the target is closed`) });
    this.thread ??= this.startThread();
    return this.thread.saveOwned(h, data);
  }
  load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    return this.direct.load(h, length, offset, consume);
  }
  stat(h: FileHandle): Promise<FileInfo> {
    return this.direct.stat(h);
  }
  list(type: FileType): Promise<FileInfo[]> {
    return this.direct.list(type);
  }
  remove(h: FileHandle): Promise<void> {
    return this.direct.remove(h);
  }
  async removeLeftovers(olderThan: number): Promise<number> {
    return (await this.direct.removeLeftovers?.(olderThan)) ?? 0;
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.all([this.thread?.close(), this.direct.close()]);
    } finally {
      this.onClose?.();
    }
  }
}
