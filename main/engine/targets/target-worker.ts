/**
 * The target worker's entry point (see WorkerTarget): opens the target its
 * spec names, with bandwidth buckets shared with the other threads, and
 * serves one request per message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SharedTokenBucket } from '../../../workers/engine/token-bucket.js';
import { openTarget } from './open-target.js';
import { RetryingTarget } from './retry.js';
import { isNotFound, type StorageTarget } from './target.js';
import type { TargetWorkerEvent, TargetWorkerReply, TargetWorkerRequest, TargetWorkerSpec, WireError } from './target-worker-messages.js';
import { ThrottledTarget } from './throttle.js';

const spec = workerData as TargetWorkerSpec;
// The host-key callback cannot cross the thread: it becomes a message the owner acts on.
// A Buffer arrives as a plain Uint8Array (structured clone), which the SSH library would not take for a key.
const key: unknown = spec.options.sftp?.privateKey;
const sftp = spec.options.sftp && {
  ...spec.options.sftp,
  ...(key instanceof Uint8Array && !Buffer.isBuffer(key) ? { privateKey: Buffer.from(key.buffer, key.byteOffset, key.byteLength) } : {}),
  onNewHostKey: (fingerprint: string, info: { hostPort: string; keyType: string; file: string }) =>
    parentPort!.postMessage({ kind: 'new-host-key', fingerprint, info } satisfies TargetWorkerEvent),
};
let target: StorageTarget = openTarget(spec.location, { ...spec.options, ...(sftp ? { sftp } : {}) });
const buckets = (list?: SharedArrayBuffer[]) => (list ?? []).map((b) => new SharedTokenBucket(b));
if (spec.upload?.length || spec.download?.length) target = new ThrottledTarget(target, buckets(spec.upload), buckets(spec.download));
if (spec.retry) target = new RetryingTarget(target);

function wire(e: unknown): WireError {
  const err = e as { name?: unknown; message?: unknown; code?: unknown; transient?: unknown };
  const out: WireError = { name: typeof err?.name === 'string' ? err.name : 'Error', message: typeof err?.message === 'string' ? err.message : String(e) };
  if (typeof err?.code === 'string' || typeof err?.code === 'number') out.code = err.code;
  if (typeof err?.transient === 'boolean') out.transient = err.transient;
  if (isNotFound(e)) out.notFound = { handle: e.handle, location: target.location };
  return out;
}

async function serve(req: TargetWorkerRequest): Promise<[TargetWorkerReply, ArrayBuffer[]]> {
  const id = req.id;
  switch (req.kind) {
    case 'create':
      await target.create();
      return [{ id, kind: 'done' }, []];
    case 'save':
      await target.save(req.handle, req.data);
      return [{ id, kind: 'done' }, []];
    case 'save-owned':
      // The bytes go back whatever happens, so the owner can retry or reuse the buffer.
      try {
        await target.save(req.handle, req.data);
      } catch (e) {
        return [{ id, kind: 'error', error: wire(e), data: req.data }, [req.data.buffer as ArrayBuffer]];
      }
      return [{ id, kind: 'saved', data: req.data }, [req.data.buffer as ArrayBuffer]];
    case 'load': {
      // The bytes are copied once out of the target's buffer into one that is transferred, not cloned.
      const data = await target.load(req.handle, req.length, req.offset, (b) => new Uint8Array(b));
      return [{ id, kind: 'loaded', data }, [data.buffer as ArrayBuffer]];
    }
    case 'stat':
      return [{ id, kind: 'info', info: await target.stat(req.handle) }, []];
    case 'list':
      return [{ id, kind: 'listed', files: await target.list(req.type) }, []];
    case 'remove':
      await target.remove(req.handle);
      return [{ id, kind: 'done' }, []];
    case 'remove-leftovers':
      return [{ id, kind: 'removed', count: (await target.removeLeftovers?.(req.olderThan)) ?? 0 }, []];
    case 'close':
      await target.close();
      return [{ id, kind: 'done' }, []];
  }
}

parentPort!.on('message', (req: TargetWorkerRequest) => {
  serve(req).then(
    ([reply, transfer]) => parentPort!.postMessage(reply, transfer),
    (e: unknown) => parentPort!.postMessage({ id: req.id, kind: 'error', error: wire(e) } satisfies TargetWorkerReply),
  );
});
