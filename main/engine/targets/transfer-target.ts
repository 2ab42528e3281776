import type { SharedTokenBucket } from '../../../workers/engine/token-bucket.js';
import { openTarget, type OpenTargetOptions } from './open-target.js';
import type { StorageTarget } from './target.js';
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
 * target, local folders included (measured: a 1 GiB local backup took the
 * same wall and CPU time with the thread as without; see ARCHITECTURE.md), so hashing,
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
  void direct.close().catch(() => {});
  const { onNewHostKey, ...sftp } = options.sftp ?? { knownHostsFile: '' };
  return new WorkerTarget(
    {
      location,
      displayLocation: direct.location,
      options: { ...options, ...(options.sftp ? { sftp } : {}) },
      upload: upload.map((b) => b.buffer),
      download: download.map((b) => b.buffer),
    },
    direct.connections,
    { ...(onNewHostKey ? { onNewHostKey } : {}), ...(how.onClose ? { onClose: how.onClose } : {}) },
  );
}
