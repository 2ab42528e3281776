/**
 * Worker side of the pack-buffer test: takes `count` buffers from a
 * PackBufferSupply, stamping each with its number and sending it back to the
 * main thread (transferred) as a finished pack would be, then reports how many
 * it allocated and how often it waited.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PackBufferSupply, type PackBufferWire } from '../../workers/engine/pack-buffers.js';

const { wire, size, count } = workerData as { wire: PackBufferWire; size: number; count: number };
const supply = new PackBufferSupply(wire, size);
try {
  for (let i = 0; i < count; i++) {
    const b = supply.take();
    new Uint8Array(b)[0] = i;
    parentPort!.postMessage({ kind: 'pack', n: i, buffer: b }, [b]);
  }
  parentPort!.postMessage({ kind: 'done', allocated: supply.allocated, waits: supply.waits });
} catch (e) {
  parentPort!.postMessage({ kind: 'error', message: (e as Error).message, allocated: supply.allocated });
}
