/**
 * The pack-buffer loop (workers/engine/pack-buffers.ts) between a real worker
 * thread and this one: a worker never holds more buffers than its budget,
 * waits for returns when it has used them up, reuses what comes back, and is
 * woken with an error when the backup stops.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PackBufferExchange } from '../../workers/engine/pack-buffers.js';

const SIZE = 64 * 1024;

function startWorker(exchange: PackBufferExchange, count: number): Worker {
  const api = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const file = new URL('../helpers/pack-buffer-worker.ts', import.meta.url).href;
  const wire = exchange.wireFor(0);
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file)}); })`, {
    eval: true,
    workerData: { wire, size: SIZE, count },
    transferList: [wire.port],
  });
}

type Msg = { kind: 'pack'; n: number; buffer: ArrayBuffer } | { kind: 'done'; allocated: number; waits: number } | { kind: 'error'; message: string; allocated: number };

describe('PackBufferExchange / PackBufferSupply', () => {
  it('keeps a worker within its budget and reuses the buffers given back', async () => {
    const exchange = new PackBufferExchange(1, 2);
    const w = startWorker(exchange, 8);
    const seen: number[] = [];
    const done = await new Promise<Msg>((resolve, reject) => {
      w.on('error', reject);
      w.on('message', (m: Msg) => {
        if (m.kind !== 'pack') return resolve(m);
        expect(m.buffer.byteLength).toBe(SIZE);
        seen.push(new Uint8Array(m.buffer)[0]!);
        // Stored "later": the worker has to wait for it once it has used its budget.
        setTimeout(() => exchange.giveBack(0, m.buffer), 20);
      });
    });
    await w.terminate();
    exchange.close();
    // Eight packs out of two buffers: the worker waited for returns (how often depends on timing).
    expect(done).toEqual({ kind: 'done', allocated: 2, waits: expect.any(Number) });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('wakes a waiting worker with an error when the backup stops', async () => {
    const exchange = new PackBufferExchange(1, 1);
    const w = startWorker(exchange, 3);
    const done = await new Promise<Msg>((resolve, reject) => {
      w.on('error', reject);
      w.on('message', (m: Msg) => {
        if (m.kind !== 'pack') return resolve(m);
        setTimeout(() => exchange.abort(), 20); // never given back
      });
    });
    await w.terminate();
    exchange.close();
    expect(done).toEqual({ kind: 'error', message: 'backup stopped while waiting for a pack buffer', allocated: 1 });
  });
});
