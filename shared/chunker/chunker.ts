/**
 * Content-defined chunking compatible with restic (github.com/restic/chunker
 * v0.4.x, as used by restic 0.14+): a Rabin fingerprint over a sliding window
 * of 64 bytes, modulo the repository's degree-53 polynomial.
 *
 * Cut rule, per chunk (restic's behaviour, reproduced byte for byte):
 *  - the first `minSize - 64` bytes of a chunk are not hashed at all;
 *  - the following bytes are hashed; the fingerprint at any point is the
 *    Rabin hash of the last 64 bytes of the chunk (restic starts each chunk's
 *    window as 63 zero bytes followed by a single 0x01, but that 0x01 has
 *    slid out by the time the first boundary may be taken, so it never
 *    influences a cut);
 *  - after consuming a byte, with `len` = bytes of the chunk so far, the chunk
 *    ends there if `len >= minSize` and either the low `averageBits` bits of
 *    the fingerprint are all zero or `len >= maxSize`;
 *  - at end of stream whatever is left (1..maxSize-1 bytes) is the last chunk.
 * So a boundary depends only on the 64 bytes before it and on the distance to
 * the previous boundary; a run of zero bytes (fingerprint 0) is cut into
 * chunks of exactly minSize bytes.
 *
 * Performance notes (this is the hot path of every backup): the 61-bit
 * intermediate digest is kept as two int32 halves in plain numbers and the
 * tables live in one Int32Array, so the inner loop never touches bigint or
 * floating point; the skipped prefix of each chunk costs O(1); once 64 bytes
 * of the current buffer have been hashed, the byte leaving the window is read
 * straight from the input instead of a ring buffer; and that loop is unrolled
 * because V8 re-validates typed arrays once per loop iteration.
 */
import { POLYNOMIAL_DEGREE, polynomialDegree, type Polynomial } from './polynomial.js';

/** restic's minimum chunk size (512 KiB); only the final chunk of a file may be smaller. */
export const CHUNK_MIN_SIZE = 512 * 1024;
/** restic's maximum chunk size (8 MiB); a chunk reaching this size is cut unconditionally. */
export const CHUNK_MAX_SIZE = 8 * 1024 * 1024;
/** Number of low fingerprint bits that must be zero for a cut (restic: 20, i.e. ~1 MiB average past the minimum). */
export const CHUNK_AVERAGE_BITS = 20;
/** Size of the sliding window the fingerprint is computed over. */
export const CHUNK_WINDOW_SIZE = 64;

/**
 * Non-default chunking parameters, mirroring restic/chunker's
 * WithBoundaries / WithAverageBits options. restic itself always uses the
 * defaults; these exist for tests and experiments. Chunks produced with other
 * values will not deduplicate against restic's.
 */
export interface ChunkerOptions {
  /** Minimum chunk size in bytes; integer in [64, 2^30]. Default CHUNK_MIN_SIZE. */
  minSize?: number;
  /** Maximum chunk size in bytes; integer in [minSize, 2^30]. Default CHUNK_MAX_SIZE. */
  maxSize?: number;
  /** Split-mask width in bits, integer in [1, 32]. Default CHUNK_AVERAGE_BITS. */
  averageBits?: number;
}

/**
 * Precomputed per-polynomial lookup table: 1024 int32 words holding four
 * 256-entry tables, each 64-bit entry split into its high and low 32 bits:
 *   [0, 256)     out high  | out[b] = fingerprint of byte b followed by 63 zero
 *   [256, 512)   out low   |   bytes; XOR-ing it removes b as it leaves the window
 *   [512, 768)   mod high  | mod[t] = (t·x^53 mod P) XOR t·x^53: one XOR both
 *   [768, 1024)  mod low   |   clears the 8 bits shifted past bit 52 and reduces
 * One array (not four) keeps V8's per-iteration checks in the hot loop down.
 */
type Table = Int32Array;

/** Upper bound for minSize/maxSize so all chunk arithmetic stays within int32. */
const MAX_CHUNK_LIMIT = 2 ** 30;
/** Larger scan buffers are processed in pieces of this size (keeps indices int32). */
const MAX_SCAN_PIECE = 2 ** 30;

/** Tables are pure functions of the polynomial; workers build many Chunkers for the same one. */
const tableCache = new Map<Polynomial, Table>();

function buildTable(pol: Polynomial): Table {
  const degree = POLYNOMIAL_DEGREE;
  // xPow[k] = x^k mod pol, for k up to the largest power needed below.
  const windowShift = 8 * (CHUNK_WINDOW_SIZE - 1);
  const maxPower = Math.max(windowShift + 7, degree + 7);
  const top = 1n << BigInt(degree);
  const xPow: bigint[] = new Array<bigint>(maxPower + 1);
  let r = 1n;
  for (let k = 0; k <= maxPower; k++) {
    xPow[k] = r;
    r <<= 1n;
    if ((r & top) !== 0n) r ^= pol;
  }

  const outBasis: bigint[] = [];
  const modBasis: bigint[] = [];
  for (let j = 0; j < 8; j++) {
    // Byte with only bit j set, followed by 63 zero bytes: x^(8*63 + j) mod pol.
    outBasis.push(xPow[windowShift + j]!);
    // Overflow bit j above the degree: x^(53 + j) mod pol, plus the bit itself so the XOR clears it.
    modBasis.push(xPow[degree + j]! | (1n << BigInt(degree + j)));
  }

  const table = new Int32Array(1024);
  for (let b = 0; b < 256; b++) {
    // Both tables are GF(2)-linear in the index, so combine the basis entries.
    let out = 0n;
    let mod = 0n;
    for (let j = 0; j < 8; j++) {
      if ((b >> j) & 1) {
        out ^= outBasis[j]!;
        mod ^= modBasis[j]!;
      }
    }
    table[b] = Number(out >> 32n) | 0;
    table[256 + b] = Number(out & 0xffffffffn) | 0;
    table[512 + b] = Number(mod >> 32n) | 0;
    table[768 + b] = Number(mod & 0xffffffffn) | 0;
  }
  return table;
}

function tableFor(pol: Polynomial): Table {
  let table = tableCache.get(pol);
  if (table === undefined) {
    table = buildTable(pol);
    tableCache.set(pol, table);
  }
  return table;
}

/**
 * Hashes buf[start..limit) where the window lies entirely inside `buf`
 * (start >= 64 and the 64 bytes before start are already in the digest).
 * Digest in/out through state[0..1]; stops after the first byte whose digest
 * has (low & mask) == 0, setting state[2] = 1. Returns the index after the
 * last byte hashed.
 */
function hashRun(buf: Uint8Array, tab: Int32Array, start: number, limit: number, mask: number, state: Int32Array): number {
  let hi = state[0]! | 0;
  let lo = state[1]! | 0;
  let i = start | 0;
  const end = limit | 0;
  let found = 0;
  let o = 0;
  let t = 0;
  // Unrolled by four: V8 re-validates typed arrays once per loop iteration.
  const end4 = (end - 3) | 0;
  while (i < end4) {
    o = buf[i - 64]!;
    hi ^= tab[o]!;
    lo ^= tab[256 + o]!;
    t = hi >>> 13;
    hi = ((hi << 8) | (lo >>> 24)) ^ tab[512 + t]!;
    lo = ((lo << 8) | buf[i]!) ^ tab[768 + t]!;
    i = (i + 1) | 0;
    if ((lo & mask) === 0) {
      found = 1;
      break;
    }
    o = buf[i - 64]!;
    hi ^= tab[o]!;
    lo ^= tab[256 + o]!;
    t = hi >>> 13;
    hi = ((hi << 8) | (lo >>> 24)) ^ tab[512 + t]!;
    lo = ((lo << 8) | buf[i]!) ^ tab[768 + t]!;
    i = (i + 1) | 0;
    if ((lo & mask) === 0) {
      found = 1;
      break;
    }
    o = buf[i - 64]!;
    hi ^= tab[o]!;
    lo ^= tab[256 + o]!;
    t = hi >>> 13;
    hi = ((hi << 8) | (lo >>> 24)) ^ tab[512 + t]!;
    lo = ((lo << 8) | buf[i]!) ^ tab[768 + t]!;
    i = (i + 1) | 0;
    if ((lo & mask) === 0) {
      found = 1;
      break;
    }
    o = buf[i - 64]!;
    hi ^= tab[o]!;
    lo ^= tab[256 + o]!;
    t = hi >>> 13;
    hi = ((hi << 8) | (lo >>> 24)) ^ tab[512 + t]!;
    lo = ((lo << 8) | buf[i]!) ^ tab[768 + t]!;
    i = (i + 1) | 0;
    if ((lo & mask) === 0) {
      found = 1;
      break;
    }
  }
  if (found === 0) {
    while (i < end) {
      o = buf[i - 64]!;
      hi ^= tab[o]!;
      lo ^= tab[256 + o]!;
      t = hi >>> 13;
      hi = ((hi << 8) | (lo >>> 24)) ^ tab[512 + t]!;
      lo = ((lo << 8) | buf[i]!) ^ tab[768 + t]!;
      i = (i + 1) | 0;
      if ((lo & mask) === 0) {
        found = 1;
        break;
      }
    }
  }
  state[0] = hi;
  state[1] = lo;
  state[2] = found;
  return i;
}

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`chunker ${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/**
 * Streaming restic-compatible chunker. One instance handles one stream at a
 * time; call reset() before each new file. Not safe for concurrent use, but
 * instances are cheap (tables are shared per polynomial).
 */
export class Chunker {
  private readonly table: Table;
  private readonly minSize: number;
  private readonly maxSize: number;
  private readonly splitMask: number;

  /** Fingerprint of the window, high 32 bits (only the low 21 are ever set between bytes). */
  private digestHi = 0;
  /** Fingerprint of the window, low 32 bits. */
  private digestLo = 0;
  /** Ring buffer with the bytes currently in the window; window[wpos] leaves next. */
  private readonly window = new Uint8Array(CHUNK_WINDOW_SIZE);
  private wpos = 0;
  /** Scratch for hashRun: [digest high, digest low, found]. */
  private readonly state = new Int32Array(3);
  /** Bytes of the current chunk consumed so far (skipped + hashed). */
  private count = 0;
  /** Bytes of the current chunk still to skip before hashing starts. */
  private pre = 0;

  /**
   * Creates a chunker for polynomial `pol`, which must have degree 53 (use
   * parsePolynomial to also verify irreducibility when reading a config);
   * throws RangeError otherwise or on invalid options. Lookup tables are
   * computed once per polynomial and cached for the lifetime of the module.
   * The new chunker is positioned at the start of a stream.
   */
  constructor(pol: Polynomial, options: ChunkerOptions = {}) {
    const degree = polynomialDegree(pol);
    if (degree !== POLYNOMIAL_DEGREE) {
      throw new RangeError(`chunker polynomial must have degree ${POLYNOMIAL_DEGREE}, got degree ${degree}`);
    }
    this.table = tableFor(pol);
    this.minSize = checkInteger('minSize', options.minSize ?? CHUNK_MIN_SIZE, CHUNK_WINDOW_SIZE, MAX_CHUNK_LIMIT);
    this.maxSize = checkInteger('maxSize', options.maxSize ?? CHUNK_MAX_SIZE, this.minSize, MAX_CHUNK_LIMIT);
    const bits = checkInteger('averageBits', options.averageBits ?? CHUNK_AVERAGE_BITS, 1, 32);
    this.splitMask = bits === 32 ? -1 : (1 << bits) - 1;
    this.reset();
  }

  /** Starts a new stream (a new file): forgets any partial chunk and window state. */
  reset(): void {
    this.digestHi = 0;
    this.digestLo = 0;
    this.window.fill(0);
    this.wpos = 0;
    this.count = 0;
    this.pre = this.minSize - CHUNK_WINDOW_SIZE;
  }

  /**
   * Scans the next bytes of the stream. Returns offsets into `buf` just after
   * each chunk boundary found in it, ascending (an offset may equal
   * buf.length; it is never 0). Bytes after the last returned offset belong to
   * the next chunk (which may continue in the next call). State carries across
   * calls, so any split of a stream into `scan` calls yields the same
   * boundaries. At end of stream the caller treats the remaining bytes, if
   * any, as the final chunk; an empty stream has no chunks. `buf` is only read
   * during the call.
   */
  scan(buf: Uint8Array): number[] {
    if (buf.length <= MAX_SCAN_PIECE) return this.scanPiece(buf);
    // Keep indices within int32 for the hot loop; state carries across pieces.
    const offsets: number[] = [];
    for (let base = 0; base < buf.length; base += MAX_SCAN_PIECE) {
      for (const off of this.scanPiece(buf.subarray(base, base + MAX_SCAN_PIECE))) offsets.push(base + off);
    }
    return offsets;
  }

  private scanPiece(buf: Uint8Array): number[] {
    const offsets: number[] = [];
    const n = buf.length;
    // Everything below is int32 arithmetic. Literal constants (module-level
    // consts cost a load and a TDZ check per use in V8) and `| 0` hints keep
    // the optimized code free of needless tag checks.
    const tab = this.table;
    const minSize = this.minSize | 0;
    const maxSize = this.maxSize | 0;
    const mask = this.splitMask | 0;
    const win = this.window;

    let hi = this.digestHi | 0;
    let lo = this.digestLo | 0;
    let wpos = this.wpos | 0;
    let count = this.count | 0;
    let pre = this.pre | 0;
    let i = 0;

    while (i < n) {
      if (pre > 0) {
        const avail = n - i;
        if (pre >= avail) {
          pre = (pre - avail) | 0;
          count = (count + avail) | 0;
          i = n;
          break;
        }
        i += pre;
        count = (count + pre) | 0;
        pre = 0;
      }

      let cut = -1;

      // Phase A: the first (up to) 64 bytes hashed in this buffer take the
      // outgoing byte from the ring buffer, which holds what came before.
      const endA = Math.min(n, i + 64);
      while (i < endA) {
        const b = buf[i]!;
        const o = win[wpos]!;
        win[wpos] = b;
        wpos = (wpos + 1) & 63;
        hi ^= tab[o]!;
        lo ^= tab[256 + o]!;
        const t = hi >>> 13;
        hi = ((hi << 8) | (lo >>> 24)) ^ tab[512 + t]!;
        lo = ((lo << 8) | b) ^ tab[768 + t]!;
        i++;
        count = (count + 1) | 0;
        if (count >= minSize && ((lo & mask) === 0 || count >= maxSize)) {
          cut = i;
          break;
        }
      }

      // Phase B: the window lies entirely inside `buf`, so the outgoing byte
      // is buf[i - 64]. Here count > minSize always holds, and the loop bound
      // enforces maxSize.
      if (cut < 0 && i < n) {
        const start = i;
        const limit = Math.min(n, i + (maxSize - count));
        const state = this.state;
        state[0] = hi;
        state[1] = lo;
        i = hashRun(buf, tab, i, limit, mask, state);
        hi = state[0]!;
        lo = state[1]!;
        if (state[2] !== 0) cut = i;
        count = (count + (i - start)) | 0;
        if (cut < 0) {
          if (count >= maxSize) {
            cut = i;
          } else {
            // End of buffer mid-chunk: keep the last 64 bytes as the window.
            win.set(buf.subarray(n - 64, n));
            wpos = 0;
          }
        }
      }

      if (cut >= 0) {
        offsets.push(cut);
        hi = 0;
        lo = 0;
        win.fill(0);
        wpos = 0;
        count = 0;
        pre = (minSize - 64) | 0;
      }
    }

    this.digestHi = hi;
    this.digestLo = lo;
    this.wpos = wpos;
    this.count = count;
    this.pre = pre;
    return offsets;
  }
}
