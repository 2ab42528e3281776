import type { BlobType, Id } from './types.js';

/**
 * Pack header codec (restic design: "Pack Format"). The header lists, per
 * blob: a type byte, the encrypted length, the plaintext length for
 * compressed blobs, and the 32-byte plaintext SHA-256.
 */

/** One blob as listed in a pack header, with its offset computed from the lengths before it. */
export interface PackedBlob {
  id: Id;
  type: BlobType;
  offset: number;
  /** Encrypted length, as stored. */
  length: number;
  /** Plaintext length when compressed; undefined when stored uncompressed. */
  uncompressedLength?: number;
}

const ENTRY_PLAIN = 1 + 4 + 32;
const ENTRY_COMPRESSED = 1 + 4 + 4 + 32;

/** Size of the plaintext header for these blobs. */
export function packHeaderPlainSize(blobs: readonly PackedBlob[]): number {
  let n = 0;
  for (const b of blobs) n += b.uncompressedLength === undefined ? ENTRY_PLAIN : ENTRY_COMPRESSED;
  return n;
}

/** Encodes the plaintext header (the caller encrypts it and appends its length). */
export function encodePackHeader(blobs: readonly PackedBlob[]): Uint8Array {
  const out = new Uint8Array(packHeaderPlainSize(blobs));
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const b of blobs) {
    const compressed = b.uncompressedLength !== undefined;
    out[p] = (b.type === 'tree' ? 1 : 0) | (compressed ? 2 : 0);
    dv.setUint32(p + 1, b.length, true);
    p += 5;
    if (compressed) {
      dv.setUint32(p, b.uncompressedLength!, true);
      p += 4;
    }
    out.set(hexToBytes(b.id), p);
    p += 32;
  }
  return out;
}

/** Decodes a plaintext pack header; throws on a truncated or unknown entry. */
export function decodePackHeader(header: Uint8Array): PackedBlob[] {
  const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const blobs: PackedBlob[] = [];
  let p = 0;
  let offset = 0;
  while (p < header.length) {
    const t = header[p]!;
    if (t > 3) throw new Error(`pack header: unknown blob type ${t} at byte ${p}`);
    const compressed = (t & 2) !== 0;
    const need = compressed ? ENTRY_COMPRESSED : ENTRY_PLAIN;
    if (p + need > header.length) throw new Error(`pack header: truncated entry at byte ${p}`);
    const length = dv.getUint32(p + 1, true);
    let q = p + 5;
    let uncompressedLength: number | undefined;
    if (compressed) {
      uncompressedLength = dv.getUint32(q, true);
      q += 4;
    }
    const blob: PackedBlob = { id: bytesToHex(header.subarray(q, q + 32)), type: t & 1 ? 'tree' : 'data', offset, length };
    if (uncompressedLength !== undefined) blob.uncompressedLength = uncompressedLength;
    blobs.push(blob);
    offset += length;
    p += need;
  }
  return blobs;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!];
  return s;
}

export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) throw new Error(`invalid hex ID ${JSON.stringify(hex)}`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True for a full lower-case 64-hex-digit ID. */
export function isId(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}
