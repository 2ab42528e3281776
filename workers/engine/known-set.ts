/**
 * A set of blob IDs shared by the main thread and every worker through one
 * SharedArrayBuffer, so a worker can decide "is this blob new, and am I the
 * one who stores it?" without a message round trip. Open addressing with
 * linear probing; a slot is claimed by compare-and-swap, so two workers that
 * meet the same new chunk at once never both store it.
 *
 * The table never grows: the creator sizes it for the blobs already in the
 * index plus an upper bound of the blobs a backup can add.
 */
const EMPTY = 0;
const WRITING = 1;
const READY = 2;

export interface KnownSetBuffers {
  states: SharedArrayBuffer;
  keys: SharedArrayBuffer;
}

export class KnownBlobSet {
  private readonly states: Int32Array;
  private readonly keys: Uint8Array;
  private readonly mask: number;

  /** Creates a table with room for `expected` IDs (load factor at most 1/2). */
  static create(expected: number): KnownBlobSet {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    return new KnownBlobSet({ states: new SharedArrayBuffer(cap * 4), keys: new SharedArrayBuffer(cap * 32) });
  }

  constructor(readonly buffers: KnownSetBuffers) {
    this.states = new Int32Array(buffers.states);
    this.keys = new Uint8Array(buffers.keys);
    this.mask = this.states.length - 1;
  }

  get capacity(): number {
    return this.states.length;
  }

  /**
   * Adds `id` (32 bytes) if absent. Returns true when this call added it (the
   * caller now owns storing the blob), false when it was already there.
   */
  claim(id: Uint8Array): boolean {
    let slot = (id[0]! | (id[1]! << 8) | (id[2]! << 16) | (id[3]! << 24)) & this.mask;
    for (let probes = 0; probes <= this.mask; probes++) {
      let state = Atomics.load(this.states, slot);
      if (state === EMPTY) {
        state = Atomics.compareExchange(this.states, slot, EMPTY, WRITING);
        if (state === EMPTY) {
          this.keys.set(id, slot * 32);
          Atomics.store(this.states, slot, READY);
          Atomics.notify(this.states, slot);
          return true;
        }
      }
      while (state === WRITING) {
        Atomics.wait(this.states, slot, WRITING, 50);
        state = Atomics.load(this.states, slot);
      }
      if (this.equals(slot, id)) return false;
      slot = (slot + 1) & this.mask;
    }
    throw new Error('known-blob table is full (sized too small)');
  }

  /** True when `id` is in the set. */
  has(id: Uint8Array): boolean {
    let slot = (id[0]! | (id[1]! << 8) | (id[2]! << 16) | (id[3]! << 24)) & this.mask;
    for (let probes = 0; probes <= this.mask; probes++) {
      let state = Atomics.load(this.states, slot);
      if (state === EMPTY) return false;
      while (state === WRITING) {
        Atomics.wait(this.states, slot, WRITING, 50);
        state = Atomics.load(this.states, slot);
      }
      if (this.equals(slot, id)) return true;
      slot = (slot + 1) & this.mask;
    }
    return false;
  }

  private equals(slot: number, id: Uint8Array): boolean {
    const base = slot * 32;
    for (let i = 0; i < 32; i++) if (this.keys[base + i] !== id[i]) return false;
    return true;
  }
}
