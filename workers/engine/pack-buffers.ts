import { MessageChannel, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';

/**
 * Pack buffers travel in a loop: a worker builds a pack in one, transfers it
 * to the main thread, which stores the pack and gives the buffer back. Each
 * worker owns a fixed budget of them, so however fast it produces packs and
 * however slow the target is, a backup holds at most `workers × budget`
 * pack buffers, and a long backup reuses memory that is already mapped
 * instead of faulting in fresh pages for every pack.
 *
 * Buffers come back on a channel of their own, which a worker reads
 * synchronously (`receiveMessageOnPort`), so a buffer is reusable even in
 * the middle of a long task (a large file fills many packs). A worker that
 * has used up its budget waits (Atomics.wait on a shared counter the main
 * thread bumps after each return), which is also the backpressure when
 * uploads are slower than reading.
 */

/** What a worker needs to take part (sent in its init message; `port` is transferred). */
export interface PackBufferWire {
  port: MessagePort;
  /** Int32 per worker (returns so far), then one abort flag. */
  signal: SharedArrayBuffer;
  index: number;
  budget: number;
}

/** Main-thread side: one return channel per worker. */
export class PackBufferExchange {
  private readonly signal: Int32Array;
  private readonly channels: MessageChannel[];
  private readonly abortSlot: number;
  private closed = false;

  constructor(workers: number, private readonly budget: number) {
    if (!Number.isInteger(budget) || budget < 1) throw new RangeError(`pack buffer budget: must be a positive integer, got ${budget}`);
    this.signal = new Int32Array(new SharedArrayBuffer(4 * (workers + 1)));
    this.abortSlot = workers;
    this.channels = Array.from({ length: workers }, () => new MessageChannel());
  }

  /** The init data for worker `index` (its port must be in the init message's transfer list). */
  wireFor(index: number): PackBufferWire {
    return { port: this.channels[index]!.port2, signal: this.signal.buffer as SharedArrayBuffer, index, budget: this.budget };
  }

  /** Hands a stored pack's buffer back to the worker that built it. */
  giveBack(index: number, buffer: ArrayBuffer): void {
    const ch = this.channels[index];
    if (!ch || this.closed) return;
    ch.port1.postMessage(buffer, [buffer]);
    Atomics.add(this.signal, index, 1);
    Atomics.notify(this.signal, index);
  }

  /** Wakes waiting workers for good: their next wait throws. */
  abort(): void {
    Atomics.store(this.signal, this.abortSlot, 1);
    for (let i = 0; i < this.abortSlot; i++) Atomics.notify(this.signal, i);
  }

  /** Ends the exchange: waiting workers are woken, later returns are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort();
    for (const ch of this.channels) ch.port1.close();
  }
}

/** Worker side: takes buffers of `size` bytes within the budget, waiting for returns when it is used up. */
export class PackBufferSupply {
  private readonly free: ArrayBuffer[] = [];
  private readonly signal: Int32Array;
  private allocatedCount = 0;
  private waitsCount = 0;

  constructor(private readonly wire: PackBufferWire, private readonly size: number) {
    this.signal = new Int32Array(wire.signal);
  }

  /** Buffers allocated so far (never more than the budget). */
  get allocated(): number {
    return this.allocatedCount;
  }

  /** How many times `take` had to wait for a buffer to come back. */
  get waits(): number {
    return this.waitsCount;
  }

  take(): ArrayBuffer {
    for (;;) {
      this.drain();
      const b = this.free.pop();
      if (b) return b;
      if (this.allocatedCount < this.wire.budget) {
        this.allocatedCount++;
        return new ArrayBuffer(this.size);
      }
      const seen = Atomics.load(this.signal, this.wire.index);
      this.drain();
      if (this.free.length > 0) continue;
      if (Atomics.load(this.signal, this.signal.length - 1) !== 0) throw new Error('backup stopped while waiting for a pack buffer');
      this.waitsCount++;
      Atomics.wait(this.signal, this.wire.index, seen, 1000);
    }
  }

  private drain(): void {
    for (let m = receiveMessageOnPort(this.wire.port); m; m = receiveMessageOnPort(this.wire.port)) {
      const b = m.message as ArrayBuffer;
      if (b instanceof ArrayBuffer && b.byteLength === this.size) this.free.push(b);
    }
  }
}
