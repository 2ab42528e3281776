/**
 * Pack files as restic reads them: blobs || encrypted header || uint32 LE
 * header length, with the storage ID being the SHA-256 of the file
 * (workers/engine/pack-writer.ts), and the blob / unpacked-file encodings
 * (workers/engine/blob.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { decompress } from 'zstd-napi';
import { describe, expect, it } from 'vitest';
import { decodePackHeader, type PackedBlob } from '../../shared/repo/pack.js';
import type { BlobType } from '../../shared/repo/types.js';
import { CIPHERTEXT_OVERHEAD, IntegrityError, newRandomKey, open, seal, type MasterKey } from '../../workers/crypto/crypto.js';
import { openBlob, openUnpacked, sealBlob, sealUnpacked } from '../../workers/engine/blob.js';
import { DEFAULT_PACK_SIZE, PackWriter, type FinishedPack } from '../../workers/engine/pack-writer.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Parses a pack file the way restic does: trailing length, then the encrypted header before it. */
function readPack(key: MasterKey, bytes: Uint8Array): { blobs: PackedBlob[]; headerStart: number; encHeaderLength: number } {
  expect(bytes.length).toBeGreaterThanOrEqual(4);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const encHeaderLength = dv.getUint32(bytes.length - 4, true);
  const headerStart = bytes.length - 4 - encHeaderLength;
  expect(headerStart).toBeGreaterThanOrEqual(0);
  const header = open(key, bytes.subarray(headerStart, bytes.length - 4));
  return { blobs: decodePackHeader(header), headerStart, encHeaderLength };
}

/** Checks a finished pack end to end against the plaintexts that went into it. */
function verifyPack(key: MasterKey, pack: FinishedPack, type: BlobType, plaintexts: Map<string, Buffer>): void {
  expect(pack.id).toBe(sha256(pack.bytes));
  const { blobs, headerStart, encHeaderLength } = readPack(key, pack.bytes);
  expect(blobs).toStrictEqual(pack.blobs);
  const plainHeaderSize = blobs.reduce((n, b) => n + (b.uncompressedLength === undefined ? 37 : 41), 0);
  expect(encHeaderLength).toBe(plainHeaderSize + CIPHERTEXT_OVERHEAD);
  let expectedOffset = 0;
  for (const b of blobs) {
    expect(b.type).toBe(type);
    expect(b.offset).toBe(expectedOffset);
    expectedOffset += b.length;
    const plain = openBlob(key, pack.bytes.subarray(b.offset, b.offset + b.length), b.uncompressedLength);
    expect(sha256(plain)).toBe(b.id);
    expect(plain.equals(plaintexts.get(b.id)!)).toBe(true);
  }
  // Blobs fill the file exactly up to the header.
  expect(expectedOffset).toBe(headerStart);
}

describe('sealBlob / openBlob', () => {
  const key = newRandomKey();

  it('stores incompressible data uncompressed', () => {
    const data = randomBytes(5000);
    const s = sealBlob(key, data, 'auto');
    expect(s.uncompressedLength).toBeUndefined();
    expect('uncompressedLength' in s).toBe(false);
    expect(s.sealed.length).toBe(data.length + CIPHERTEXT_OVERHEAD);
    expect(open(key, s.sealed).equals(data)).toBe(true);
    expect(openBlob(key, s.sealed, undefined).equals(data)).toBe(true);
  });

  it('compresses compressible data with zstd', () => {
    const data = Buffer.from('restic '.repeat(5000));
    for (const mode of ['auto', 'max'] as const) {
      const s = sealBlob(key, data, mode);
      expect(s.uncompressedLength).toBe(data.length);
      expect(s.sealed.length).toBeLessThan(data.length / 10);
      const inner = open(key, s.sealed);
      expect([...inner.subarray(0, 4)]).toEqual(ZSTD_MAGIC);
      expect(decompress(inner).equals(data)).toBe(true);
      expect(openBlob(key, s.sealed, data.length).equals(data)).toBe(true);
    }
  });

  it('never compresses with mode off, nor an empty blob', () => {
    const data = Buffer.alloc(10000, 0x61);
    const off = sealBlob(key, data, 'off');
    expect(off.uncompressedLength).toBeUndefined();
    expect(open(key, off.sealed).equals(data)).toBe(true);
    const empty = sealBlob(key, new Uint8Array(0), 'auto');
    expect(empty.uncompressedLength).toBeUndefined();
    expect(empty.sealed.length).toBe(CIPHERTEXT_OVERHEAD);
    expect(openBlob(key, empty.sealed, undefined).length).toBe(0);
  });

  it('rejects a wrong uncompressed length, a tampered blob and a wrong key', () => {
    const data = Buffer.from('x'.repeat(4096));
    const s = sealBlob(key, data, 'auto');
    expect(() => openBlob(key, s.sealed, data.length + 1)).toThrow(`blob decompressed to ${data.length} bytes, index says ${data.length + 1}`);
    const bad = Buffer.from(s.sealed);
    bad[20] = bad[20]! ^ 0x01;
    expect(() => openBlob(key, bad, data.length)).toThrow(IntegrityError);
    expect(() => openBlob(newRandomKey(), s.sealed, data.length)).toThrow(IntegrityError);
  });
});

describe('sealUnpacked / openUnpacked', () => {
  const key = newRandomKey();
  const json = JSON.stringify({ time: '2024-01-02T03:04:05Z', tree: 'ab'.repeat(32), paths: ['/home/ann'], hostname: 'h', note: 'ü'.repeat(100) });

  it('writes format v2: version byte 2 then a zstd frame', () => {
    const stored = sealUnpacked(key, json);
    const plain = open(key, stored);
    expect(plain[0]).toBe(2);
    expect([...plain.subarray(1, 5)]).toEqual(ZSTD_MAGIC);
    expect(decompress(plain.subarray(1)).toString('utf8')).toBe(json);
    expect(openUnpacked(key, stored)).toBe(json);
  });

  it('reads format v1 plain JSON objects and arrays', () => {
    expect(openUnpacked(key, seal(key, Buffer.from(json, 'utf8')))).toBe(json);
    expect(openUnpacked(key, seal(key, Buffer.from('[1,2,3]')))).toBe('[1,2,3]');
  });

  it('rejects other version bytes and tampering', () => {
    expect(() => openUnpacked(key, seal(key, Uint8Array.from([3, 1, 2])))).toThrow('unsupported encoding version 3');
    expect(() => openUnpacked(key, seal(key, Buffer.from(' {"a":1}')))).toThrow('unsupported encoding version 32');
    const stored = sealUnpacked(key, json);
    stored[stored.length - 1] = stored[stored.length - 1]! ^ 0x80;
    expect(() => openUnpacked(key, stored)).toThrow(IntegrityError);
  });
});

describe('PackWriter', () => {
  const key = newRandomKey();

  it('writes blobs || encrypted header || header length, named by its SHA-256', () => {
    const w = new PackWriter(key, 'data');
    expect(w.targetSize).toBe(DEFAULT_PACK_SIZE);
    const plaintexts = new Map<string, Buffer>();
    const inputs = [
      randomBytes(5000),
      Buffer.from('compressible '.repeat(2000)),
      Buffer.alloc(0),
      randomBytes(1),
      Buffer.from(JSON.stringify({ a: Array.from({ length: 500 }, (_, i) => i) })),
      randomBytes(70_000),
    ];
    const sealedParts: Buffer[] = [];
    let compressed = 0;
    for (const p of inputs) {
      const id = sha256(p);
      plaintexts.set(id, p);
      const s = sealBlob(key, p, 'auto');
      if (s.uncompressedLength !== undefined) compressed++;
      sealedParts.push(s.sealed);
      expect(w.add(id, s.sealed, s.uncompressedLength)).toBeUndefined();
    }
    expect(compressed).toBe(2);
    expect(w.count).toBe(inputs.length);
    expect(w.bytes).toBe(sealedParts.reduce((n, b) => n + b.length, 0));

    const pack = w.finish()!;
    expect(pack).toBeDefined();
    verifyPack(key, pack, 'data', plaintexts);
    // The blob region is the sealed blobs, concatenated in order.
    const blobRegion = Buffer.concat(sealedParts);
    expect(Buffer.from(pack.bytes.subarray(0, blobRegion.length)).equals(blobRegion)).toBe(true);
    expect(pack.blobs.map((b) => b.uncompressedLength !== undefined)).toEqual([false, true, false, false, true, false]);
    expect(pack.blobs[1]!.uncompressedLength).toBe(inputs[1]!.length);
    // The writer is empty again.
    expect(w.count).toBe(0);
    expect(w.bytes).toBe(0);
    expect(w.finish()).toBeUndefined();
  });

  it('writes tree packs with tree type bytes', () => {
    const w = new PackWriter(key, 'tree');
    const plaintexts = new Map<string, Buffer>();
    for (let i = 0; i < 3; i++) {
      const t = Buffer.from(`{"nodes":[{"name":"f${i}","type":"file","content":[]}]}\n`);
      plaintexts.set(sha256(t), t);
      const s = sealBlob(key, t, i === 2 ? 'off' : 'auto');
      w.add(sha256(t), s.sealed, s.uncompressedLength);
    }
    const pack = w.finish()!;
    verifyPack(key, pack, 'tree', plaintexts);
    const { headerStart } = readPack(key, pack.bytes);
    const header = open(key, pack.bytes.subarray(headerStart, pack.bytes.length - 4));
    let p = 0;
    for (const b of pack.blobs) {
      expect(header[p]).toBe(b.uncompressedLength === undefined ? 1 : 3);
      p += b.uncompressedLength === undefined ? 37 : 41;
    }
  });

  it('finishes a pack as soon as the target size is reached, then starts a new one', () => {
    const w = new PackWriter(key, 'data', 1000);
    const plaintexts = new Map<string, Buffer>();
    const packs: FinishedPack[] = [];
    const add = (n: number) => {
      const p = randomBytes(n);
      plaintexts.set(sha256(p), p);
      const s = sealBlob(key, p, 'auto');
      expect(s.sealed.length).toBe(n + CIPHERTEXT_OVERHEAD);
      const done = w.add(sha256(p), s.sealed, s.uncompressedLength);
      if (done) packs.push(done);
      return done;
    };
    // 300-byte sealed blobs: 900 < 1000 after three, 1200 >= 1000 after four
    expect(add(268)).toBeUndefined();
    expect(add(268)).toBeUndefined();
    expect(add(268)).toBeUndefined();
    expect(w.bytes).toBe(900);
    expect(add(268)).toBeDefined();
    expect(packs[0]!.blobs).toHaveLength(4);
    expect(w.count).toBe(0);
    // exactly reaching the target finishes too
    expect(add(468)).toBeUndefined();
    expect(add(468)).toBeDefined();
    expect(packs[1]!.blobs).toHaveLength(2);
    expect(packs[1]!.blobs.map((b) => b.offset)).toEqual([0, 500]);
    // one oversized blob makes a pack by itself
    expect(add(5000)).toBeDefined();
    expect(packs[2]!.blobs).toHaveLength(1);
    expect(w.finish()).toBeUndefined();
    for (const pack of packs) verifyPack(key, pack, 'data', plaintexts);
    expect(new Set(packs.map((p) => p.id)).size).toBe(3);
  });

  it('a pack with the wrong key does not open', () => {
    const w = new PackWriter(key, 'data');
    const p = randomBytes(100);
    const s = sealBlob(key, p, 'auto');
    w.add(sha256(p), s.sealed, s.uncompressedLength);
    const pack = w.finish()!;
    expect(() => readPack(newRandomKey(), pack.bytes)).toThrow(IntegrityError);
  });
});
