import { Worker, type TransferListItem } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { EngineMessage, EngineRequest, InitRequest, PacksMessage, ProgressMessage, ReplyFor } from '../../workers/engine-messages.js';

type RequestOf<K extends keyof ReplyFor> = Extract<EngineRequest, { kind: K }>;
type Pending = { resolve: (r: unknown) => void; reject: (e: Error) => void; occupiesWorker?: boolean };

interface Slot {
  worker: Worker;
  busy: boolean;
  pending: Map<number, Pending>;
}

/**
 * How to start an engine worker: from dist (compiled JavaScript), or, when
 * this module itself runs from TypeScript sources (tests, development), via
 * a small bootstrap that registers the tsx loader inside the worker first.
 */
function workerSpec(): { entry: string | URL; eval: boolean } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const api = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const file = new URL('../../workers/engine-worker.ts', here).href;
    const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`;
    return { entry: code, eval: true };
  }
  const file = fileURLToPath(new URL('../../workers/engine-worker.js', here));
  if (!existsSync(file)) throw new Error(`engine worker not built (${file} missing): run npm run build`);
  return { entry: file, eval: false };
}

/** Workers started ahead of need (`EngineWorkerPool.prewarm`), taken by the next `spawn`. */
interface WarmWorker {
  worker: Worker;
  failed: boolean;
}
const warm: WarmWorker[] = [];
let warmTimer: NodeJS.Timeout | undefined;

/** Number of engine workers to use by default: one per core. */
export function defaultWorkerCount(): number {
  return Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
}

/**
 * A fixed set of engine worker threads. `run` hands a request to an idle
 * worker (queueing when all are busy, first come first served) and resolves
 * with its reply; `broadcast` sends one request to every worker. Progress
 * messages go to `onProgress`. A worker that crashes fails its tasks and the
 * pool refuses further work, so a backup never silently loses a file.
 */
export class EngineWorkerPool {
  private slots: Slot[] = [];
  private queue: { req: EngineRequest; transfer: ArrayBuffer[]; pending: Pending }[] = [];
  private nextTaskId = 1;
  private broken: Error | undefined;
  onProgress: (p: ProgressMessage) => void = () => {};
  /** Packs a worker sends while a backup task runs (before that task's reply). */
  onPacks: (p: PacksMessage) => void = () => {};

  private constructor() {}

  /**
   * Starts `count` workers and initialises them. Equivalent to `spawn`
   * followed by `init`.
   */
  static async start(count: number, init: Omit<InitRequest, 'kind' | 'taskId'>): Promise<EngineWorkerPool> {
    const pool = EngineWorkerPool.spawn(count);
    try {
      await pool.init(init);
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  /**
   * Starts `count` worker threads without waiting for them: they load their
   * code while the caller does other work. `init` must be called before any
   * task is run (messages to a worker are handled in order, so a task sent
   * after `init` is safe even before `init` resolves).
   */
  static spawn(count: number): EngineWorkerPool {
    if (!Number.isInteger(count) || count < 1) throw new Error(`workers: must be a positive integer, got ${count}`);
    const pool = new EngineWorkerPool();
    const spec = workerSpec();
    for (let i = 0; i < count; i++) {
      const worker = EngineWorkerPool.takeWarm() ?? new Worker(spec.entry, { eval: spec.eval });
      const slot: Slot = { worker, busy: false, pending: new Map() };
      worker.on('message', (m: EngineMessage) => pool.onMessage(slot, m));
      worker.on('error', (e) => pool.fail(e));
      worker.on('exit', (code) => {
        if (code !== 0) pool.fail(new Error(`engine worker exited with code ${code}`));
      });
      pool.slots.push(slot);
    }
    return pool;
  }

  /**
   * Starts up to `count` workers now, for a pool that will be needed soon
   * (e.g. while the repository key is derived, which keeps one core busy):
   * the next `spawn` takes them instead of starting its own. Unused ones
   * neither keep the process alive nor outlive `idleMs`.
   */
  static prewarm(count = defaultWorkerCount(), idleMs = 30_000): void {
    const spec = workerSpec();
    while (warm.length < count) {
      const w: WarmWorker = { worker: new Worker(spec.entry, { eval: spec.eval }), failed: false };
      w.worker.unref();
      w.worker.on('error', () => (w.failed = true));
      w.worker.on('exit', () => (w.failed = true));
      warm.push(w);
    }
    clearTimeout(warmTimer);
    warmTimer = setTimeout(() => {
      for (const w of warm.splice(0)) void w.worker.terminate();
    }, idleMs);
    warmTimer.unref();
  }

  /** How many prewarmed workers wait to be taken. */
  static get warmCount(): number {
    return warm.length;
  }

  /** A prewarmed worker in working order, if any. */
  private static takeWarm(): Worker | undefined {
    for (let w = warm.shift(); w; w = warm.shift()) {
      w.worker.removeAllListeners();
      if (w.failed) {
        void w.worker.terminate();
        continue;
      }
      w.worker.ref();
      return w.worker;
    }
    return undefined;
  }

  /**
   * Sends the key and operation settings to every worker; a function gives
   * each worker its own (by index), with what to transfer along.
   */
  async init(init: Omit<InitRequest, 'kind' | 'taskId'> | ((index: number) => { init: Omit<InitRequest, 'kind' | 'taskId'>; transfer?: TransferListItem[] })): Promise<void> {
    if (typeof init !== 'function') {
      await this.broadcast({ kind: 'init', ...init });
      return;
    }
    if (this.broken) throw this.broken;
    await Promise.all(
      this.slots.map(
        (slot, i) =>
          new Promise<unknown>((resolve, reject) => {
            const own = init(i);
            const taskId = this.nextTaskId++;
            slot.pending.set(taskId, { resolve, reject });
            slot.worker.postMessage({ kind: 'init', ...own.init, taskId }, own.transfer ?? []);
          }),
      ),
    );
  }

  get size(): number {
    return this.slots.length;
  }

  /** Number of requests waiting for a worker. */
  get queued(): number {
    return this.queue.length;
  }

  run<K extends keyof ReplyFor>(req: Omit<RequestOf<K>, 'taskId'> & { kind: K }, transfer: ArrayBuffer[] = []): Promise<ReplyFor[K]> {
    if (this.broken) return Promise.reject(this.broken);
    const full = { ...req, taskId: this.nextTaskId++ } as EngineRequest;
    return new Promise<ReplyFor[K]>((resolve, reject) => {
      this.queue.push({ req: full, transfer, pending: { resolve: resolve as (r: unknown) => void, reject, occupiesWorker: true } });
      this.dispatch();
    });
  }

  /** Sends the request to every worker and collects the replies; each worker handles it after the work it already has. */
  async broadcast<K extends keyof ReplyFor>(req: Omit<RequestOf<K>, 'taskId'> & { kind: K }): Promise<ReplyFor[K][]> {
    if (this.broken) throw this.broken;
    return Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<ReplyFor[K]>((resolve, reject) => {
            const taskId = this.nextTaskId++;
            slot.pending.set(taskId, { resolve: resolve as (r: unknown) => void, reject });
            slot.worker.postMessage({ ...req, taskId });
          }),
      ),
    );
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.busy) continue;
      const job = this.queue.shift()!;
      slot.busy = true;
      slot.pending.set(job.req.taskId, job.pending);
      slot.worker.postMessage(job.req, job.transfer);
    }
  }

  private onMessage(slot: Slot, m: EngineMessage): void {
    if (m.kind === 'progress') {
      this.onProgress(m);
      return;
    }
    if (m.kind === 'packs') {
      this.onPacks(m);
      return;
    }
    const p = slot.pending.get(m.taskId);
    if (!p) return;
    slot.pending.delete(m.taskId);
    if (p.occupiesWorker) slot.busy = false;
    if (m.kind === 'failed') {
      const err = new Error(m.message);
      if (m.stack) err.stack = m.stack;
      p.reject(err);
    } else {
      p.resolve(m);
    }
    this.dispatch();
  }

  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = e;
    for (const slot of this.slots) {
      for (const p of slot.pending.values()) p.reject(e);
      slot.pending.clear();
    }
    for (const q of this.queue) q.pending.reject(e);
    this.queue = [];
  }

  async close(): Promise<void> {
    this.broken ??= new Error('worker pool closed');
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
    this.slots = [];
  }
}
