/** Bandwidth limits and retries, around a real local target and across a real worker thread. */
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { RetryingTarget, TargetError } from '../../main/engine/targets/retry.js';
import { payBandwidth, ThrottledTarget } from '../../main/engine/targets/throttle.js';
import { NotFoundError, type FileHandle, type StorageTarget } from '../../main/engine/targets/target.js';
import { SharedTokenBucket } from '../../workers/engine/token-bucket.js';
import { PROJECT_ROOT, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let target: LocalTarget;
const MiB = 1024 * 1024;
const id = (i: number) => i.toString(16).padStart(64, '0');

beforeAll(async () => {
  s = scratch();
  target = new LocalTarget(path.join(s.dir, 'repo'));
  await target.create();
});
afterAll(() => s?.dispose());

describe('bandwidth limits', () => {
  it('holds uploads to the limit, within 10%', async () => {
    const bucket = SharedTokenBucket.create(2048 * 1024);
    const t = new ThrottledTarget(target, [bucket]);
    const data = Buffer.alloc(MiB, 1);
    const start = performance.now();
    for (let i = 0; i < 6; i++) await t.save({ type: 'data', name: id(i) }, data);
    const seconds = (performance.now() - start) / 1000;
    const rate = (6 * MiB) / seconds / 1024;
    expect(rate).toBeGreaterThan(2048 * 0.9);
    expect(rate).toBeLessThan(2048 * 1.1);
  });

  it('applies a changed limit to a running transfer within a second', async () => {
    const bucket = SharedTokenBucket.create(512 * 1024);
    const start = performance.now();
    const transfer = payBandwidth([bucket], 8 * MiB);
    setTimeout(() => bucket.setRate(0), 1000); // lifted to unlimited after one second
    await transfer;
    const seconds = (performance.now() - start) / 1000;
    // At 512 KiB/s this would take 16 s; the new limit must bite within a second of the change.
    expect(seconds).toBeLessThan(2);
  });

  it('applies a raised limit within a second even to transfers already waiting (16 parallel uploads)', async () => {
    // 16 uploads at 64 KiB/s each owe a slice: the last in line would wait 16 s at the old rate.
    const bucket = SharedTokenBucket.create(64 * 1024);
    const start = performance.now();
    const transfers = Promise.all(Array.from({ length: 16 }, () => payBandwidth([bucket], 128 * 1024)));
    setTimeout(() => bucket.setRate(8 * MiB), 500);
    await transfers;
    // 2 MiB at the new 8 MiB/s is a quarter second; the old rate would need 32 s.
    expect((performance.now() - start) / 1000).toBeLessThan(1.5);
  });

  it('is shared with worker threads: together they stay within the limit', async () => {
    const bucket = SharedTokenBucket.create(4096 * 1024);
    const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const mod = pathToFileURL(path.join(PROJECT_ROOT, 'main/engine/targets/throttle.ts')).href;
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(${JSON.stringify(api)}).then(async (m) => {
        m.register();
        const { payBandwidth } = await import(${JSON.stringify(mod)});
        const { SharedTokenBucket } = await import(${JSON.stringify(pathToFileURL(path.join(PROJECT_ROOT, 'workers/engine/token-bucket.ts')).href)});
        parentPort.postMessage('ready');
        await payBandwidth([new SharedTokenBucket(workerData)], 6 * 1024 * 1024);
        parentPort.postMessage('done');
      });`;
    const worker = new Worker(code, { eval: true, workerData: bucket.buffer });
    const messages: string[] = [];
    let done!: () => void;
    const inWorker = new Promise<void>((r) => (done = r));
    let ready!: () => void;
    const started = new Promise<void>((r) => (ready = r));
    worker.on('message', (m: string) => {
      messages.push(m);
      if (m === 'ready') ready();
      if (m === 'done') done();
    });
    // Timed from the worker's first take (its start-up, compiling TypeScript, is not part of the rate).
    await started;
    const start = performance.now();
    await Promise.all([payBandwidth([bucket], 6 * MiB), inWorker]);
    const seconds = (performance.now() - start) / 1000;
    await worker.terminate();
    expect(messages).toEqual(['ready', 'done']);
    const rate = (12 * MiB) / seconds / 1024;
    expect(rate).toBeLessThan(4096 * 1.1);
    expect(rate).toBeGreaterThan(4096 * 0.9);
  });
});

/** A target whose saves fail with `error` the first `failures` times (a test double for the wrapper under test). */
function flaky(failures: number, error: () => Error): StorageTarget & { calls: number } {
  const t = {
    calls: 0,
    location: 'flaky-target',
    connections: 1,
    create: async () => {},
    save: async (_h: FileHandle, _d: Uint8Array) => {
      t.calls++;
      if (t.calls <= failures) throw error();
    },
    load: async () => {
      throw new NotFoundError({ type: 'data', name: id(1) }, 'flaky-target');
    },
    stat: async () => ({ name: 'x', size: 0 }),
    list: async () => [],
    remove: async () => {},
    close: async () => {},
  };
  return t as StorageTarget & { calls: number };
}
const code = (c: string) => () => Object.assign(new Error(`simulated ${c}`), { code: c });

describe('retries', () => {
  it('retries transient errors with exponential backoff and jitter, then succeeds', async () => {
    const inner = flaky(3, code('ECONNRESET'));
    const delays: number[] = [];
    const t = new RetryingTarget(inner, { baseDelayMs: 10, maxDelayMs: 35, random: () => 1, onRetry: (_w, _a, d) => delays.push(d) });
    await t.save({ type: 'data', name: id(1) }, Buffer.from('x'));
    expect(inner.calls).toBe(4);
    expect(delays).toEqual([10, 20, 35]);
  });

  it('fails at once on permanent errors, naming the target and the operation', async () => {
    const inner = flaky(5, code('ENOSPC'));
    const t = new RetryingTarget(inner, { baseDelayMs: 1 });
    const err = await t.save({ type: 'data', name: id(7) }, Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect((err as Error).message).toBe(`saving data/${id(7).slice(0, 12)} on flaky-target failed: simulated ENOSPC`);
    expect(inner.calls).toBe(1);
  });

  it('gives up after the retry budget and says so', async () => {
    const inner = flaky(99, code('ETIMEDOUT'));
    const t = new RetryingTarget(inner, { attempts: 3, baseDelayMs: 1 });
    await expect(t.save({ type: 'data', name: id(2) }, Buffer.from('x'))).rejects.toThrow('failed after 3 attempts: simulated ETIMEDOUT');
    expect(inner.calls).toBe(3);
  });

  it('once an operation spent the budget, later ones get a single attempt until the target answers again', async () => {
    const inner = flaky(5, code('ECONNREFUSED'));
    const t = new RetryingTarget(inner, { attempts: 4, baseDelayMs: 1 });
    await expect(t.save({ type: 'data', name: id(3) }, Buffer.from('x'))).rejects.toThrow('failed after 4 attempts');
    expect(inner.calls).toBe(4);
    await expect(t.save({ type: 'locks', name: id(4) }, Buffer.from('x'))).rejects.toThrow(/^saving locks\/000000000000 on flaky-target failed \(still unreachable after an earlier operation spent 4 attempts\): simulated ECONNREFUSED$/);
    expect(inner.calls).toBe(5);
    // It answers again.
    await t.save({ type: 'data', name: id(5) }, Buffer.from('x'));
    expect(inner.calls).toBe(6);
  });

  it('passes "not found" through untouched and unretried', async () => {
    const t = new RetryingTarget(flaky(0, code('EIO')), { baseDelayMs: 1 });
    await expect(t.load({ type: 'data', name: id(1) }, 0, 0, (b) => b)).rejects.toBeInstanceOf(NotFoundError);
  });
});
