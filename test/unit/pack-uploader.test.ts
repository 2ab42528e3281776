/** PackUploader (main/engine/pack-uploader.ts): bounded parallel uploads and the backlog that pauses reading. */
import { describe, expect, it } from 'vitest';
import { PackUploader, type PendingPack } from '../../main/engine/pack-uploader.js';
import type { FileHandle, FileInfo, StorageTarget } from '../../main/engine/targets/target.js';

/** A target whose saves finish only when the test says so. */
class ManualTarget implements StorageTarget {
  readonly location = 'manual';
  readonly connections = 8;
  readonly saving: { name: string; size: number; done: () => void; fail: (e: Error) => void }[] = [];
  readonly saved: string[] = [];
  async create(): Promise<void> {}
  save(h: FileHandle, data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.saving.push({
        name: h.name,
        size: data.length,
        done: () => {
          this.saved.push(h.name);
          resolve();
        },
        fail: reject,
      });
    });
  }
  async load<T>(): Promise<T> {
    throw new Error('not used');
  }
  async stat(): Promise<FileInfo> {
    throw new Error('not used');
  }
  async list(): Promise<FileInfo[]> {
    return [];
  }
  async remove(): Promise<void> {}
  async close(): Promise<void> {}
}

const pack = (n: number, size: number): PendingPack => ({ id: n.toString(16).padStart(64, '0'), bytes: new Uint8Array(new ArrayBuffer(size)), blobs: [] });
const tick = () => new Promise((r) => setImmediate(r));

describe('PackUploader', () => {
  it('runs at most `concurrency` uploads, and frees backlog room even when onUploaded takes the buffer away', async () => {
    const target = new ManualTarget();
    const taken: ArrayBuffer[] = [];
    const up = new PackUploader(target, 2, (p) => {
      // As a backup does: the buffer goes back to its worker (transferred), leaving p.bytes empty.
      const b = p.bytes.buffer as ArrayBuffer;
      taken.push(structuredClone(b, { transfer: [b] }));
      expect(p.bytes.length).toBe(0);
    });
    for (let i = 1; i <= 3; i++) up.enqueue(pack(i, 1000));
    await tick();
    expect(target.saving).toHaveLength(2);
    expect(up.backlogBytes).toBe(3000);

    let roomFor1000 = false;
    const room = up.waitForRoom(1000).then(() => (roomFor1000 = true));
    target.saving[0]!.done();
    await tick();
    await tick();
    expect(up.backlogBytes).toBe(2000);
    expect(target.saving).toHaveLength(3); // the third started when the first finished
    expect(roomFor1000).toBe(false);
    target.saving[1]!.done();
    await room;
    expect(up.backlogBytes).toBe(1000);
    target.saving[2]!.done();
    await up.drain();
    expect(up.backlogBytes).toBe(0);
    expect(up.uploadedBytes).toBe(3000);
    expect(taken.map((b) => b.byteLength)).toEqual([1000, 1000, 1000]);
  });

  it('stops at the first failed upload, naming the pack', async () => {
    const target = new ManualTarget();
    const up = new PackUploader(target, 1, () => {});
    up.enqueue(pack(1, 10));
    up.enqueue(pack(2, 10));
    await tick();
    target.saving[0]!.fail(new Error('disk full'));
    await expect(up.drain()).rejects.toThrow(/uploading pack 000000000000 to manual failed: disk full/);
    await expect(up.waitForRoom(0)).rejects.toThrow(/disk full/);
    expect(() => up.enqueue(pack(3, 10))).toThrow(/disk full/);
    expect(target.saving).toHaveLength(1);
  });
});
