/**
 * KnownBlobSet (workers/engine/known-set.ts): a lock-free set of blob IDs in
 * shared memory. The race test runs real worker threads on one table.
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { KnownBlobSet } from '../../workers/engine/known-set.js';

const ID = 32;

function randomIds(n: number): Uint8Array[] {
  const all = randomBytes(n * ID);
  return Array.from({ length: n }, (_, i) => all.subarray(i * ID, (i + 1) * ID));
}

/** IDs that share their first four bytes (the hash) and so all land on one probe chain. */
function collidingIds(n: number): Uint8Array[] {
  return randomIds(n).map((id) => {
    id.set([0xde, 0xad, 0xbe, 0xef], 0);
    return id;
  });
}

describe('KnownBlobSet in one thread', () => {
  it('claim returns true once, then false; has() follows', () => {
    const set = KnownBlobSet.create(10);
    const [a, b] = randomIds(2) as [Uint8Array, Uint8Array];
    expect(set.has(a)).toBe(false);
    expect(set.claim(a)).toBe(true);
    expect(set.has(a)).toBe(true);
    expect(set.has(b)).toBe(false);
    expect(set.claim(a)).toBe(false);
    expect(set.claim(Uint8Array.from(a))).toBe(false); // equal bytes, different array
    expect(set.claim(b)).toBe(true);
    expect(set.claim(b)).toBe(false);
    expect(set.has(b)).toBe(true);
  });

  it('sizes the table to a power of two with load factor at most 1/2', () => {
    expect(KnownBlobSet.create(0).capacity).toBe(1024);
    expect(KnownBlobSet.create(512).capacity).toBe(1024);
    expect(KnownBlobSet.create(513).capacity).toBe(2048);
    expect(KnownBlobSet.create(20_000).capacity).toBe(65536);
  });

  it('holds many random IDs exactly', () => {
    const n = 30_000;
    const set = KnownBlobSet.create(n);
    const ids = randomIds(n);
    const absent = randomIds(5_000);
    for (const id of ids) expect(set.claim(id)).toBe(true);
    let wrong = 0;
    for (const id of ids) if (!set.has(id) || set.claim(id)) wrong++;
    for (const id of absent) if (set.has(id)) wrong++;
    expect(wrong).toBe(0);
  });

  it('keeps IDs with the same hash apart (linear probing)', () => {
    const set = KnownBlobSet.create(100);
    const ids = collidingIds(100);
    for (const id of ids) expect(set.claim(id)).toBe(true);
    for (const id of ids) expect(set.claim(id)).toBe(false);
    for (const id of ids) expect(set.has(id)).toBe(true);
    for (const id of collidingIds(50)) expect(set.has(id)).toBe(false);
    // A key that differs only in its last byte from a stored one is different.
    const near = Uint8Array.from(ids[0]!);
    near[31] = near[31]! ^ 1;
    expect(set.has(near)).toBe(false);
    expect(set.claim(near)).toBe(true);
  });

  it('wraps around the end of the table', () => {
    const set = KnownBlobSet.create(0); // 1024 slots, mask 0x3ff
    const ids = randomIds(10).map((id) => {
      id.set([0xff, 0x03, 0, 0], 0); // hash to the last slot
      return id;
    });
    for (const id of ids) expect(set.claim(id)).toBe(true);
    for (const id of ids) expect(set.has(id)).toBe(true);
  });

  it('throws when full instead of looping, and has() still answers', () => {
    const set = KnownBlobSet.create(0);
    const ids = randomIds(set.capacity + 1);
    for (let i = 0; i < set.capacity; i++) expect(set.claim(ids[i]!)).toBe(true);
    expect(() => set.claim(ids[set.capacity]!)).toThrow('known-blob table is full');
    expect(set.has(ids[set.capacity]!)).toBe(false);
    expect(set.claim(ids[7]!)).toBe(false);
  });

  it('two instances on the same buffers share their contents', () => {
    const a = KnownBlobSet.create(100);
    const b = new KnownBlobSet(a.buffers);
    const [x, y] = randomIds(2) as [Uint8Array, Uint8Array];
    expect(a.claim(x)).toBe(true);
    expect(b.has(x)).toBe(true);
    expect(b.claim(x)).toBe(false);
    expect(b.claim(y)).toBe(true);
    expect(a.has(y)).toBe(true);
  });
});

describe('KnownBlobSet across worker threads', () => {
  /**
   * Worker: loads tsx, then the TypeScript module; builds a set on the shared
   * buffers; waits for the start signal; claims every ID in order and sends
   * back one byte per ID (1 = this thread's claim returned true).
   */
  const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const tsx = await import(workerData.tsxApi);
  tsx.register();
  const { KnownBlobSet } = await import(workerData.moduleUrl);
  const set = new KnownBlobSet(workerData.buffers);
  const ids = new Uint8Array(workerData.ids);
  const start = new Int32Array(workerData.start);
  const n = ids.length / 32;
  const won = new Uint8Array(n);
  Atomics.add(start, 1, 1);
  parentPort.postMessage({ ready: true });
  Atomics.wait(start, 0, 0);
  for (let i = 0; i < n; i++) won[i] = set.claim(ids.subarray(i * 32, i * 32 + 32)) ? 1 : 0;
  parentPort.postMessage({ won }, [won.buffer]);
})().catch((e) => { throw e; });
`;

  it('four threads claiming the same 20,000 IDs: exactly one wins each', async () => {
    const THREADS = 4;
    const N = 20_000;
    const set = KnownBlobSet.create(N);
    const ids = new Uint8Array(new SharedArrayBuffer(N * ID));
    ids.set(randomBytes(N * ID));
    // Some IDs collide on the hash so threads also race along probe chains.
    for (let i = 0; i < N; i += 10) ids.set([0x12, 0x34, 0x56, 0x78], i * ID);
    const start = new SharedArrayBuffer(8);
    const startFlags = new Int32Array(start);

    const here = import.meta.url;
    const tsxApi = pathToFileURL(createRequire(here).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const moduleUrl = new URL('../../workers/engine/known-set.ts', here).href;

    const workers: Worker[] = [];
    try {
      const results = await new Promise<Uint8Array[]>((resolve, reject) => {
        const out: Uint8Array[] = [];
        let ready = 0;
        for (let t = 0; t < THREADS; t++) {
          const w = new Worker(WORKER, { eval: true, workerData: { tsxApi, moduleUrl, buffers: set.buffers, ids: ids.buffer, start } });
          workers.push(w);
          w.on('error', reject);
          w.on('exit', (code) => {
            if (code !== 0) reject(new Error(`worker exited with code ${code}`));
          });
          w.on('message', (m: { ready?: boolean; won?: Uint8Array }) => {
            if (m.ready && ++ready === THREADS) {
              // All threads are parked on the same flag: release them together.
              Atomics.store(startFlags, 0, 1);
              Atomics.notify(startFlags, 0);
            }
            if (m.won) {
              out[t] = m.won;
              if (out.filter(Boolean).length === THREADS) resolve(out);
            }
          });
        }
      });

      expect(startFlags[1]).toBe(THREADS);
      const perThread = results.map((r) => r.reduce((s, x) => s + x, 0));
      let notExactlyOne = 0;
      const examples: string[] = [];
      for (let i = 0; i < N; i++) {
        let winners = 0;
        for (const r of results) winners += r[i]!;
        if (winners !== 1) {
          notExactlyOne++;
          if (examples.length < 5) examples.push(`id #${i}: ${winners} winners`);
        }
      }
      expect(notExactlyOne, `wins per thread ${perThread.join(',')}; ${examples.join('; ')}`).toBe(0);
      expect(perThread.reduce((a, b) => a + b, 0)).toBe(N);

      // The main thread sees every ID, and cannot claim any of them again.
      let missing = 0;
      for (let i = 0; i < N; i++) {
        const id = ids.subarray(i * ID, (i + 1) * ID);
        if (!set.has(id) || set.claim(id)) missing++;
      }
      expect(missing).toBe(0);
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  });
});
