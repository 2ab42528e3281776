/**
 * PackBuilder (workers/engine/pack-builder.ts): packs built in place in
 * reusable buffers must be byte-for-byte valid restic packs — blobs ||
 * encrypted header || header length, named by the SHA-256 of exactly the
 * file's bytes — whatever was in a recycled buffer before.
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodePackHeader, type PackedBlob } from '../../shared/repo/pack.js';
import type { BlobType } from '../../shared/repo/types.js';
import { CIPHERTEXT_OVERHEAD, IntegrityError, newRandomKey, open, type MasterKey } from '../../workers/crypto/crypto.js';
import { BlobScratch, openBlob } from '../../workers/engine/blob.js';
import { PackBuilder, packBufferSize, PACK_BUFFER_SLACK, type BuiltPack } from '../../workers/engine/pack-builder.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** The pack file a BuiltPack describes. */
const fileOf = (p: BuiltPack): Uint8Array => new Uint8Array(p.buffer, 0, p.length);

/** Parses a pack file as restic does and checks every blob against the plaintexts that went in. */
function verifyPack(key: MasterKey, pack: BuiltPack, type: BlobType, plaintexts: Map<string, Uint8Array>): PackedBlob[] {
  const bytes = fileOf(pack);
  expect(pack.id).toBe(sha256(bytes));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(bytes.length - 4, true);
  const headerStart = bytes.length - 4 - hlen;
  const blobs = decodePackHeader(open(key, bytes.subarray(headerStart, bytes.length - 4)));
  expect(blobs).toStrictEqual(pack.blobs);
  let offset = 0;
  for (const b of blobs) {
    expect(b.type).toBe(type);
    expect(b.offset).toBe(offset);
    offset += b.length;
    const plain = openBlob(key, bytes.subarray(b.offset, b.offset + b.length), b.uncompressedLength);
    expect(sha256(plain)).toBe(b.id);
    expect(Buffer.compare(plain, plaintexts.get(b.id)!)).toBe(0);
  }
  expect(offset).toBe(headerStart);
  return blobs;
}

function compressible(n: number, seed: number): Buffer {
  const words = ['restic', 'lifeboat', 'pack', 'blob', 'tree', 'snapshot', 'index', String(seed)];
  let s = '';
  for (let i = 0; s.length < n; i++) s += words[(i * 7 + seed) % words.length] + (i % 13 === 0 ? '\n' : ' ');
  return Buffer.from(s.slice(0, n));
}

describe('PackBuilder', () => {
  const key = newRandomKey();

  it('writes valid packs: compressed when it shrinks the blob, stored as is otherwise, never for empty blobs', () => {
    const b = new PackBuilder(key, 'data');
    const inputs = [randomBytes(5000), compressible(200_000, 1), Buffer.alloc(0), randomBytes(1), compressible(3000, 2), randomBytes(70_000)];
    const plaintexts = new Map<string, Uint8Array>();
    const stored: number[] = [];
    for (const p of inputs) {
      const id = sha256(p);
      plaintexts.set(id, p);
      const r = b.add(id, p);
      expect(r.packs).toEqual([]);
      stored.push(r.stored);
    }
    expect(b.count).toBe(inputs.length);
    expect(b.bytes).toBe(stored.reduce((x, y) => x + y, 0));
    const pack = b.finish()!;
    const blobs = verifyPack(key, pack, 'data', plaintexts);
    expect(blobs.map((x) => x.uncompressedLength !== undefined)).toEqual([false, true, false, false, true, false]);
    expect(blobs[1]!.uncompressedLength).toBe(200_000);
    expect(blobs[1]!.length).toBeLessThan(200_000 / 10);
    expect(blobs.map((x) => x.length)).toEqual(stored);
    // Incompressible and empty blobs are the plaintext plus IV and MAC.
    expect(blobs[0]!.length).toBe(5000 + CIPHERTEXT_OVERHEAD);
    expect(blobs[2]!.length).toBe(CIPHERTEXT_OVERHEAD);
    // A compressed blob decrypts to a zstd frame.
    const inner = open(key, fileOf(pack).subarray(blobs[1]!.offset, blobs[1]!.offset + blobs[1]!.length));
    expect([...inner.subarray(0, 4)]).toEqual(ZSTD_MAGIC);
    // Empty again; nothing to finish.
    expect(b.count).toBe(0);
    expect(b.bytes).toBe(0);
    expect(b.finish()).toBeUndefined();
  });

  it('never compresses with mode off; writes tree packs', () => {
    const b = new PackBuilder(key, 'tree', 1 << 20, 'off');
    const plaintexts = new Map<string, Uint8Array>();
    for (let i = 0; i < 3; i++) {
      const t = Buffer.from(`{"nodes":[{"name":"f${i}","type":"file","content":[]}]}\n`.repeat(50));
      plaintexts.set(sha256(t), t);
      expect(b.add(sha256(t), t).compressed).toBe(false);
    }
    const pack = b.finish()!;
    const blobs = verifyPack(key, pack, 'tree', plaintexts);
    expect(blobs.every((x) => x.uncompressedLength === undefined)).toBe(true);
  });

  it('finishes a pack once it reaches the target size, and early when the next blob would not fit the buffer', () => {
    const target = 4000;
    const b = new PackBuilder(key, 'data', target, 'off');
    expect(b.bufferSize).toBe(target + PACK_BUFFER_SLACK);
    const plaintexts = new Map<string, Uint8Array>();
    const packs: BuiltPack[] = [];
    const add = (n: number) => {
      const p = randomBytes(n);
      plaintexts.set(sha256(p), p);
      const r = b.add(sha256(p), p);
      packs.push(...r.packs);
      return r.packs.length;
    };
    // 1000-byte sealed blobs: 3000 < 4000 after three, 4000 >= 4000 after four.
    expect(add(968)).toBe(0);
    expect(add(968)).toBe(0);
    expect(add(968)).toBe(0);
    expect(add(968)).toBe(1);
    expect(packs[0]!.blobs).toHaveLength(4);
    // A blob that fits the buffer's slack finishes the pack it crosses the target in.
    expect(add(2968)).toBe(0);
    expect(add(500_000)).toBe(1);
    expect(packs[1]!.blobs.map((x) => x.length)).toEqual([3000, 500_032]);
    // A blob that does not fit what is left of the buffer closes the pack first, then starts the next.
    expect(add(100)).toBe(0);
    expect(add(b.bufferSize)).toBe(2);
    expect(packs[2]!.blobs).toHaveLength(1);
    expect(packs[3]!.blobs).toHaveLength(1);
    expect(packs[3]!.length).toBeGreaterThan(b.bufferSize); // a buffer of its own
    expect(b.finish()).toBeUndefined();
    for (const p of packs) {
      verifyPack(key, p, 'data', plaintexts);
      expect(p.length).toBeLessThanOrEqual(p.buffer.byteLength);
    }
    expect(new Set(packs.map((p) => p.id)).size).toBe(packs.length);
  });

  it('reuses recycled buffers, and stale bytes in them never leak into a pack', () => {
    const b = new PackBuilder(key, 'data', 64 * 1024, 'auto', 1);
    const plaintexts = new Map<string, Uint8Array>();
    const add = (p: Uint8Array) => {
      plaintexts.set(sha256(p), p);
      return b.add(sha256(p), p).packs;
    };
    // A big first pack, a smaller second one written over it.
    const first = add(randomBytes(60_000)).concat(add(randomBytes(10_000)));
    expect(first).toHaveLength(1);
    const firstBytes = Buffer.from(fileOf(first[0]!));
    const reused = first[0]!.buffer;
    new Uint8Array(reused).fill(0xa5, first[0]!.length); // junk after the file, as an old pack would leave
    b.recycle(reused);
    b.recycle(new ArrayBuffer(123)); // wrong size: ignored
    b.recycle(new ArrayBuffer(packBufferSize(64 * 1024))); // beyond maxFree: dropped
    expect(b.spare).toBe(1);
    add(compressible(5000, 3));
    const second = b.finish()!;
    expect(second.buffer).toBe(reused);
    expect(second.length).toBeLessThan(firstBytes.length);
    verifyPack(key, second, 'data', plaintexts);
    expect(b.spare).toBe(0);
    // The next pack gets a fresh buffer.
    add(randomBytes(100));
    expect(b.finish()!.buffer).not.toBe(reused);
  });

  it('a pack built with one key does not open with another', () => {
    const b = new PackBuilder(key, 'data');
    const p = randomBytes(100);
    b.add(sha256(p), p);
    const bytes = fileOf(b.finish()!);
    const hlen = new DataView(bytes.buffer).getUint32(bytes.length - 4, true);
    expect(() => open(newRandomKey(), bytes.subarray(bytes.length - 4 - hlen, bytes.length - 4))).toThrow(IntegrityError);
  });
});

describe('BlobScratch.openBlobInPlace', () => {
  const key = newRandomKey();

  it('opens compressed and stored blobs where they lie, once, and reuses the plaintext for a second use', () => {
    const b = new PackBuilder(key, 'data');
    const inputs = [compressible(300_000, 4), randomBytes(40_000), Buffer.alloc(0)];
    for (const p of inputs) b.add(sha256(p), p);
    const pack = b.finish()!;
    const scratch = new BlobScratch();
    for (const [i, blob] of pack.blobs.entries()) {
      const region = new Uint8Array(pack.buffer, blob.offset, blob.length);
      const plain = scratch.openBlobInPlace(key, region, blob.uncompressedLength);
      expect(Buffer.compare(plain, inputs[i]!)).toBe(0);
      // The same region again (a blob two files share): taken as already opened.
      const again = scratch.openBlobInPlace(key, region, blob.uncompressedLength, true);
      expect(Buffer.compare(again, inputs[i]!)).toBe(0);
    }
  });

  it('writes nothing and throws when the MAC does not verify', () => {
    const b = new PackBuilder(key, 'data');
    const p = compressible(10_000, 5);
    b.add(sha256(p), p);
    const pack = b.finish()!;
    const blob = pack.blobs[0]!;
    const region = new Uint8Array(pack.buffer, blob.offset, blob.length);
    region[20] = region[20]! ^ 1;
    const before = Buffer.from(region);
    expect(() => new BlobScratch().openBlobInPlace(key, region, blob.uncompressedLength)).toThrow(IntegrityError);
    expect(Buffer.compare(region, before)).toBe(0);
  });
});
