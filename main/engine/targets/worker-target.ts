import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FileType } from '../../../shared/repo/types.js';
import { NotFoundError, type FileHandle, type FileInfo, type OwnedSave, type StorageTarget } from './target.js';
import type { TargetWorkerCall, TargetWorkerMessage, TargetWorkerReply, TargetWorkerRequest, TargetWorkerSpec, WireError } from './target-worker-messages.js';
import type { SftpOptions } from './sftp.js';

export type { TargetWorkerSpec } from './target-worker-messages.js';

/** How to start the target worker: compiled JavaScript from dist, or the TypeScript source through tsx (tests, development). */
function workerSpec(): { entry: string; eval: boolean } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const api = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const file = new URL('./target-worker.ts', here).href;
    return { entry: `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`, eval: true };
  }
  const file = fileURLToPath(new URL('./target-worker.js', here));
  if (!existsSync(file)) throw new Error(`target worker not built (${file} missing): run npm run build`);
  return { entry: file, eval: false };
}

/** An error from the worker, rebuilt so callers see the same kinds (not found, transient, code) as from the target itself. */
function rebuild(e: WireError): Error {
  if (e.notFound) return new NotFoundError(e.notFound.handle, e.notFound.location);
  const err = Object.assign(new Error(e.message), { ...(e.code === undefined ? {} : { code: e.code }), ...(e.transient === undefined ? {} : { transient: e.transient }) });
  err.name = e.name;
  return err;
}

/** Smaller buffers are copied rather than transferred: cheap, and they may be slices of Node's shared Buffer pool. */
const TRANSFER_MIN_BYTES = 64 * 1024;

/** What the owner of a WorkerTarget is told from inside the thread. */
export interface WorkerTargetCallbacks {
  /** An SFTP host key was pinned on first use (as SftpOptions.onNewHostKey, run on the owner's thread). */
  onNewHostKey?: SftpOptions['onNewHostKey'];
  /** Called once when the target is closed (e.g. to release bandwidth buckets). */
  onClose?: () => void;
}

/**
 * A StorageTarget whose transfers run in a worker thread of their own: the
 * real target (with its bandwidth buckets, shared with every other thread
 * through SharedArrayBuffers, and its retries) is opened there from a
 * cloneable spec, and each call is a message. `save` copies the bytes once
 * into a buffer transferred to the worker (the caller keeps its own);
 * `saveOwned` transfers the caller's buffer itself and the reply transfers it
 * back, on success and on failure, so a pack is never copied. A load's bytes
 * are transferred back without a copy, and `consume` runs on the caller's
 * thread. Host-key notices come back as messages and run the callback here.
 * The thread holds the process open only while operations are in flight;
 * `close` ends it. It keeps the StorageTarget contract of the target inside.
 */
export class WorkerTarget implements StorageTarget {
  private readonly worker: Worker;
  /** `owned`: an error reply that carries the caller's bytes resolves (the caller takes them back) rather than rejects. */
  private readonly pending = new Map<number, { resolve: (r: TargetWorkerReply) => void; reject: (e: Error) => void; owned: boolean }>();
  private nextId = 1;
  private broken: Error | undefined;
  private closed = false;

  constructor(
    private readonly spec: TargetWorkerSpec,
    /** How many operations may run at once; the inner target's own default when absent. */
    readonly connections: number = spec.options.connections ?? 4,
    private readonly callbacks: WorkerTargetCallbacks = {},
  ) {
    const { entry, eval: isEval } = workerSpec();
    this.worker = new Worker(entry, { eval: isEval, workerData: spec });
    this.worker.unref();
    this.worker.on('message', (m: TargetWorkerMessage) => {
      if (m.kind === 'new-host-key') {
        try {
          this.callbacks.onNewHostKey?.(m.fingerprint, m.info);
        } catch {
          // A failing notice must not break the transfers (as inside SftpTarget, the pin is already stored).
        }
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.kind === 'error' && !(p.owned && m.data)) p.reject(rebuild(m.error));
      else p.resolve(m);
    });
    const fail = (e: Error) => {
      this.broken ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`the transfer thread for ${this.location} failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the transfer thread for ${this.location} exited (${code})`)));
  }

  get location(): string {
    return this.spec.displayLocation;
  }

  private call(req: TargetWorkerCall, transfer: ArrayBuffer[] = [], owned = false): Promise<TargetWorkerReply> {
    if (this.closed) return Promise.reject(new Error(`${this.location}: the target is closed`));
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, owned });
      this.worker.ref(); // work in flight keeps the process alive, as a socket would
      try {
        this.worker.postMessage({ ...req, id } as TargetWorkerRequest, transfer);
      } catch (e) {
        // Not sent (e.g. a buffer that cannot be transferred): nothing was detached.
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
        reject(e as Error);
      }
    });
  }

  async create(): Promise<void> {
    await this.call({ kind: 'create' });
  }

  async save(h: FileHandle, data: Uint8Array): Promise<void> {
    const copy = new Uint8Array(data); // one copy; the caller's buffer stays its own
    await this.call({ kind: 'save', handle: h, data: copy }, [copy.buffer]);
  }

  async saveOwned(h: FileHandle, data: Uint8Array): Promise<OwnedSave> {
    const buffer = data.buffer;
    if (!(buffer instanceof ArrayBuffer) || data.byteLength < TRANSFER_MIN_BYTES) {
      try {
        await this.save(h, data);
        return { data };
      } catch (error) {
        return { data, error };
      }
    }
    const length = data.byteLength;
    let reply: TargetWorkerReply;
    try {
      reply = await this.call({ kind: 'save-owned', handle: h, data }, [buffer], true);
    } catch (error) {
      // Never sent (a transferred view would have length 0): nothing was detached.
      if (data.byteLength === length) return this.saveOwnedByCopy(h, data, error);
      // The thread failed with the bytes inside it: they are lost (an empty result says so; callers must not retry).
      return { data: new Uint8Array(0), error };
    }
    if (reply.kind === 'saved') return { data: reply.data };
    if (reply.kind === 'error' && reply.data) return { data: reply.data, error: rebuild(reply.error) };
    return { data: new Uint8Array(0), error: new Error(`internal error: unexpected reply ${reply.kind} to a save`) };
  }

  /** When the buffer could not be transferred (never sent): save a copy instead, unless the thread itself is gone. */
  private async saveOwnedByCopy(h: FileHandle, data: Uint8Array, sendError: unknown): Promise<OwnedSave> {
    if (this.broken || this.closed) return { data, error: sendError };
    try {
      await this.save(h, data);
      return { data };
    } catch (error) {
      return { data, error };
    }
  }

  async load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    const r = await this.call({ kind: 'load', handle: h, length, offset });
    if (r.kind !== 'loaded') throw new Error(`internal error: unexpected reply ${r.kind} to a load`);
    return consume(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength));
  }

  async stat(h: FileHandle): Promise<FileInfo> {
    const r = await this.call({ kind: 'stat', handle: h });
    if (r.kind !== 'info') throw new Error(`internal error: unexpected reply ${r.kind} to a stat`);
    return r.info;
  }

  async list(type: FileType): Promise<FileInfo[]> {
    const r = await this.call({ kind: 'list', type });
    if (r.kind !== 'listed') throw new Error(`internal error: unexpected reply ${r.kind} to a list`);
    return r.files;
  }

  async remove(h: FileHandle): Promise<void> {
    await this.call({ kind: 'remove', handle: h });
  }

  async removeLeftovers(olderThan: number): Promise<number> {
    const r = await this.call({ kind: 'remove-leftovers', olderThan });
    return r.kind === 'removed' ? r.count : 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.callbacks.onClose?.();
    try {
      if (!this.broken) await this.call({ kind: 'close' });
    } finally {
      this.closed = true;
      await this.worker.terminate();
    }
  }
}
