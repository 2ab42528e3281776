import { Compressor, decompress } from 'zstd-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { CIPHERTEXT_OVERHEAD, IV_SIZE, open, openInto, seal, type MasterKey } from '../crypto/crypto.js';

/** How blobs are compressed: restic's `--compression auto|off|max`. */
export type CompressionMode = 'auto' | 'off' | 'max';

/** A blob ready to be appended to a pack. */
export interface SealedBlob {
  sealed: Buffer;
  /** Plaintext length when stored compressed; undefined when stored as is. */
  uncompressedLength?: number;
}

let compressors: Partial<Record<CompressionMode, Compressor>> = {};

function compressor(mode: CompressionMode): Compressor {
  let c = compressors[mode];
  if (!c) {
    c = new Compressor();
    // restic's "auto" is zstd's default speed (level 3); "max" its best.
    c.setParameters({ compressionLevel: mode === 'max' ? 19 : 3 });
    compressors = { ...compressors, [mode]: c };
  }
  return c;
}

/**
 * Compresses (unless `mode` is off or it would not shrink the blob) and
 * encrypts one blob's plaintext. Empty blobs are never compressed, as in restic.
 */
export function sealBlob(key: MasterKey, plaintext: Uint8Array, mode: CompressionMode): SealedBlob {
  if (mode !== 'off' && plaintext.length > 0) {
    const z = compressor(mode).compress(plaintext);
    if (z.length < plaintext.length) return { sealed: seal(key, z), uncompressedLength: plaintext.length };
  }
  return { sealed: seal(key, plaintext) };
}

/**
 * Verifies and decrypts one stored blob, decompressing when `uncompressedLength`
 * says it is compressed. Throws IntegrityError on a bad MAC, and an Error when
 * the decompressed length disagrees with the index.
 */
export function openBlob(key: MasterKey, stored: Uint8Array, uncompressedLength: number | undefined): Buffer {
  const plain = open(key, stored);
  if (uncompressedLength === undefined) return plain;
  const out = decompress(plain);
  if (out.length !== uncompressedLength) {
    throw new Error(`blob decompressed to ${out.length} bytes, index says ${uncompressedLength}`);
  }
  return out;
}

/**
 * Reusable output buffers for `openBlobInto`: one thread decrypting blob after
 * blob into fresh 1 MiB buffers pays for page faults more than for the crypto.
 */
export class BlobScratch {
  private plain: Uint8Array = new Uint8Array(0);
  private out: Uint8Array = new Uint8Array(0);
  private dctx: InstanceType<typeof zstdBinding.DCtx> | undefined;

  private ensure(buf: Uint8Array, n: number): Uint8Array {
    return buf.length >= n ? buf : new Uint8Array(Math.max(n, buf.length * 2, 1 << 20));
  }

  /**
   * Like `openBlob`, but returns a view into a buffer this scratch reuses: it
   * is valid only until the next call.
   */
  openBlobInto(key: MasterKey, stored: Uint8Array, uncompressedLength: number | undefined): Uint8Array {
    this.plain = this.ensure(this.plain, stored.length - CIPHERTEXT_OVERHEAD);
    const n = openInto(key, stored, this.plain, 0);
    if (uncompressedLength === undefined) return this.plain.subarray(0, n);
    this.out = this.ensure(this.out, uncompressedLength);
    this.dctx ??= new zstdBinding.DCtx();
    const m = this.dctx.decompress(this.out.subarray(0, uncompressedLength), this.plain.subarray(0, n));
    if (m !== uncompressedLength) throw new Error(`blob decompressed to ${m} bytes, index says ${uncompressedLength}`);
    return this.out.subarray(0, m);
  }

  /**
   * Like `openBlobInto`, but decrypts in place: `stored` (which the caller
   * owns and gives up) ends up holding the plaintext from its byte 16 on, so
   * no copy of the stored blob is made. Pass `decrypted` when this very
   * region was already opened by an earlier call (a blob used twice in one
   * read): it is then taken as verified plaintext and only decompressed again.
   * The result is valid only until the next call (or until `stored` is reused).
   */
  openBlobInPlace(key: MasterKey, stored: Uint8Array, uncompressedLength: number | undefined, decrypted = false): Uint8Array {
    const n = stored.length - CIPHERTEXT_OVERHEAD;
    if (!decrypted) openInto(key, stored, stored, IV_SIZE);
    const plain = stored.subarray(IV_SIZE, IV_SIZE + n);
    if (uncompressedLength === undefined) return plain;
    this.out = this.ensure(this.out, uncompressedLength);
    this.dctx ??= new zstdBinding.DCtx();
    const m = this.dctx.decompress(this.out.subarray(0, uncompressedLength), plain);
    if (m !== uncompressedLength) throw new Error(`blob decompressed to ${m} bytes, index says ${uncompressedLength}`);
    return this.out.subarray(0, m);
  }
}

/**
 * Encodes an "unpacked" file (index, snapshot, lock) for repository format 2:
 * a version byte 2 followed by zstd-compressed JSON; then encrypts it.
 */
export function sealUnpacked(key: MasterKey, json: string): Buffer {
  const z = compressor('auto').compress(Buffer.from(json, 'utf8'));
  const plain = Buffer.allocUnsafe(1 + z.length);
  plain[0] = 2;
  z.copy(plain, 1);
  return seal(key, plain);
}

/**
 * Decrypts an unpacked file and returns its JSON text. Accepts format 1
 * (plain JSON starting with `{` or `[`) and format 2 (version byte 2 + zstd).
 */
export function openUnpacked(key: MasterKey, stored: Uint8Array): string {
  const plain = open(key, stored);
  const v = plain[0];
  if (v === 0x7b || v === 0x5b) return plain.toString('utf8');
  if (v === 2) return decompress(plain.subarray(1)).toString('utf8');
  throw new Error(`unsupported encoding version ${v} in repository file`);
}
