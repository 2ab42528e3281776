import { createHash, type Hash } from 'node:crypto';
import zstdBinding from 'zstd-napi/binding.js';
import { encodePackHeader, type PackedBlob } from '../../shared/repo/pack.js';
import type { BlobType } from '../../shared/repo/types.js';
import { CIPHERTEXT_OVERHEAD, sealInto, type MasterKey } from '../crypto/crypto.js';
import type { CompressionMode } from './blob.js';
import { DEFAULT_PACK_SIZE } from './pack-writer.js';

/** A finished pack: the file is `new Uint8Array(buffer, 0, length)`. */
export interface BuiltPack {
  /** Storage ID: SHA-256 of the file. */
  id: string;
  /** Holds the file in its first `length` bytes (usually larger: it is a reusable pack buffer). */
  buffer: ArrayBuffer;
  length: number;
  blobs: PackedBlob[];
}

/** Bytes of header (plaintext entry + its share of the encryption) one more blob can add, at most. */
const HEADER_ENTRY_MAX = 1 + 4 + 4 + 32;
/** Fixed part of the header: IV + MAC of the encrypted header, and the trailing uint32 length. */
const HEADER_FIXED = CIPHERTEXT_OVERHEAD + 4;

/** Room a pack buffer has beyond the target size: the blob that crosses the target usually fits. */
export const PACK_BUFFER_SLACK = 1024 * 1024;

/** Size of the pack buffers a builder with this target size allocates (and accepts for reuse). */
export function packBufferSize(targetSize: number): number {
  return targetSize + PACK_BUFFER_SLACK;
}

/** Level zstd uses for restic's compression modes ("auto" is zstd's default, "max" its best). */
function zstdLevel(mode: CompressionMode): number {
  return mode === 'max' ? 19 : 3;
}

/**
 * Builds pack files of ONE blob type (restic v2 keeps data and tree blobs in
 * separate packs) directly in a preallocated buffer: each blob is compressed
 * into a reused scratch buffer, then encrypted straight to its place in the
 * pack (`sealInto`), and the pack's SHA-256 is updated while those bytes are
 * still in cache. Finishing appends the encrypted header and its length in
 * place; the buffer then travels as is (transferred, not copied), and can be
 * handed back (`recycle`, or through a `supply` such as `PackBufferSupply`)
 * once the pack is stored, so a long backup keeps touching the same memory
 * instead of faulting in fresh pages for every pack.
 *
 * Packs finish as soon as they reach `targetSize`, or earlier when the next
 * blob (with the header) would not fit in the buffer. A blob larger than a
 * whole buffer gets a pack (and buffer) of its own.
 */
export class PackBuilder {
  private buf: Uint8Array | undefined;
  private used = 0;
  private blobs: PackedBlob[] = [];
  private hash: Hash = createHash('sha256');
  private readonly free: ArrayBuffer[] = [];
  private scratch: Uint8Array = new Uint8Array(0);
  private cctx: InstanceType<typeof zstdBinding.CCtx> | undefined;
  readonly bufferSize: number;

  constructor(
    private readonly key: MasterKey,
    readonly type: BlobType,
    readonly targetSize = DEFAULT_PACK_SIZE,
    readonly compression: CompressionMode = 'auto',
    /** How many recycled buffers to keep at most; more are dropped (left to the GC). */
    private readonly maxFree = 2,
    /**
     * Where pack buffers (of `bufferSize` bytes) come from instead of the
     * recycled ones: e.g. a `PackBufferSupply` with a fixed budget.
     */
    private readonly supply?: () => ArrayBuffer,
  ) {
    if (!Number.isInteger(targetSize) || targetSize < 1) throw new RangeError(`pack size: must be a positive integer, got ${targetSize}`);
    this.bufferSize = packBufferSize(targetSize);
  }

  /** Bytes of blobs in the pack being built. */
  get bytes(): number {
    return this.used;
  }

  /** Blobs in the pack being built. */
  get count(): number {
    return this.blobs.length;
  }

  /** Recycled buffers waiting to be reused. */
  get spare(): number {
    return this.free.length;
  }

  /** Offers a buffer (e.g. of a pack that has been stored) for reuse; buffers of another size are ignored. */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.bufferSize && this.free.length < this.maxFree) this.free.push(buffer);
  }

  /**
   * Compresses (unless the mode is off, the blob is empty or it would not
   * shrink), encrypts and appends one blob. Returns the sealed length and the
   * packs this call finished (none, one, or two when a pack had to be closed
   * early to make room and the blob then filled the next).
   */
  add(id: string, plaintext: Uint8Array): { stored: number; compressed: boolean; packs: BuiltPack[] } {
    let payload = plaintext;
    let uncompressedLength: number | undefined;
    if (this.compression !== 'off' && plaintext.length > 0) {
      const bound = zstdBinding.compressBound(plaintext.length);
      if (this.scratch.length < bound) this.scratch = new Uint8Array(Math.max(bound, this.scratch.length * 2, 1 << 20));
      this.cctx ??= new zstdBinding.CCtx();
      const n = this.cctx.compress(this.scratch, plaintext, zstdLevel(this.compression));
      if (n < plaintext.length) {
        payload = this.scratch.subarray(0, n);
        uncompressedLength = plaintext.length;
      }
    }
    const stored = payload.length + CIPHERTEXT_OVERHEAD;
    const packs: BuiltPack[] = [];
    if (this.buf && this.used + stored + this.headerBound(this.blobs.length + 1) > this.buf.length) {
      packs.push(this.finish()!);
    }
    if (!this.buf) {
      const need = stored + this.headerBound(1);
      this.buf = need <= this.bufferSize ? new Uint8Array(this.takeBuffer()) : new Uint8Array(need);
    }
    const buf = this.buf;
    sealInto(this.key, payload, buf, this.used);
    this.hash.update(buf.subarray(this.used, this.used + stored));
    const blob: PackedBlob = { id, type: this.type, offset: this.used, length: stored };
    if (uncompressedLength !== undefined) blob.uncompressedLength = uncompressedLength;
    this.blobs.push(blob);
    this.used += stored;
    if (this.used >= this.targetSize) packs.push(this.finish()!);
    return { stored, compressed: uncompressedLength !== undefined, packs };
  }

  /** Finishes the current pack, if it holds any blob. */
  finish(): BuiltPack | undefined {
    const buf = this.buf;
    if (!buf || this.blobs.length === 0) return undefined;
    const header = encodePackHeader(this.blobs);
    const start = this.used;
    const n = sealInto(this.key, header, buf, start);
    new DataView(buf.buffer, buf.byteOffset, buf.byteLength).setUint32(start + n, n, true);
    const length = start + n + 4;
    this.hash.update(buf.subarray(start, length));
    const pack: BuiltPack = { id: this.hash.digest('hex'), buffer: buf.buffer as ArrayBuffer, length, blobs: this.blobs };
    this.buf = undefined;
    this.used = 0;
    this.blobs = [];
    this.hash = createHash('sha256');
    return pack;
  }

  private takeBuffer(): ArrayBuffer {
    if (this.supply) return this.supply();
    return this.free.pop() ?? new ArrayBuffer(this.bufferSize);
  }

  private headerBound(blobs: number): number {
    return blobs * HEADER_ENTRY_MAX + HEADER_FIXED;
  }
}
