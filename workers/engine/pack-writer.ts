import { createHash, type Hash } from 'node:crypto';
import { encodePackHeader, type PackedBlob } from '../../shared/repo/pack.js';
import type { BlobType } from '../../shared/repo/types.js';
import { seal, type MasterKey } from '../crypto/crypto.js';

/** Default target size of a pack file; restic 0.15+ uses 16 MiB too. */
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

/** A finished pack: its bytes, storage ID and the blobs it holds (for the index). */
export interface FinishedPack {
  id: string;
  bytes: Uint8Array;
  blobs: PackedBlob[];
}

/**
 * Accumulates sealed blobs of ONE type (restic v2 requires data and tree
 * blobs in separate packs) and, when full, produces the pack file: blobs,
 * encrypted header, header length. The storage ID (SHA-256 of the file) is
 * computed incrementally as blobs arrive, so finishing costs one copy.
 */
export class PackWriter {
  private parts: Buffer[] = [];
  private blobs: PackedBlob[] = [];
  private size = 0;
  private hash: Hash = createHash('sha256');

  constructor(private readonly key: MasterKey, readonly type: BlobType, readonly targetSize = DEFAULT_PACK_SIZE) {}

  get bytes(): number {
    return this.size;
  }

  get count(): number {
    return this.blobs.length;
  }

  /** Appends a sealed blob; returns the finished pack when the target size is reached. */
  add(id: string, sealed: Buffer, uncompressedLength: number | undefined): FinishedPack | undefined {
    const blob: PackedBlob = { id, type: this.type, offset: this.size, length: sealed.length };
    if (uncompressedLength !== undefined) blob.uncompressedLength = uncompressedLength;
    this.blobs.push(blob);
    this.parts.push(sealed);
    this.hash.update(sealed);
    this.size += sealed.length;
    return this.size >= this.targetSize ? this.finish() : undefined;
  }

  /** Finishes the current pack, if it holds any blob. */
  finish(): FinishedPack | undefined {
    if (this.blobs.length === 0) return undefined;
    const header = seal(this.key, encodePackHeader(this.blobs));
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(header.length, 0);
    this.hash.update(header);
    this.hash.update(len);
    const bytes = Buffer.concat([...this.parts, header, len]);
    const pack: FinishedPack = { id: this.hash.digest('hex'), bytes, blobs: this.blobs };
    this.parts = [];
    this.blobs = [];
    this.size = 0;
    this.hash = createHash('sha256');
    return pack;
  }
}
