/**
 * The StorageTarget contract (main/engine/targets/target.ts) as one vitest
 * suite every target runs: `describeTargetContract(name, make)` registers it;
 * test/integration/targets.test.ts calls it for each target.
 *
 * `make` returns a target for a fresh, not yet created repository, a
 * `cleanup`, and `raw`: access to the storage behind the target that does not
 * go through it, to plant foreign and temp files and to see what a target
 * really left behind (a target's own `list` hides temp files by design).
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileType } from '../../shared/repo/types.js';
import { NotFoundError, isNotFound, loadAll, saveOwned, type FileHandle, type StorageTarget } from '../../main/engine/targets/target.js';

export interface RawStorage {
  /** Every file (not folder) below the repository root, as relative paths with "/". */
  files(): Promise<string[]>;
  /** Writes a file at a relative path, creating folders, bypassing the target. */
  write(relPath: string, data: Uint8Array): Promise<void>;
  /** Folders below the root (relative paths), for targets that have folders. */
  dirs?(): Promise<string[]>;
}

export interface TargetFixture {
  target: StorageTarget;
  cleanup(): Promise<void>;
  raw: RawStorage;
}

export interface ContractOptions {
  /**
   * Whether a closed target refuses work with an error saying it is closed
   * (default true). LocalTarget has nothing to release and does not refuse yet.
   */
  refusesAfterClose?: boolean;
  /**
   * Whether an interrupted save can leave a temporary file behind (default
   * true); S3's cannot (an object appears whole or not at all), so it offers
   * no `removeLeftovers`.
   */
  temporaryFiles?: boolean;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const NON_CONFIG: FileType[] = ['data', 'keys', 'index', 'snapshots', 'locks'];
const ALL: FileType[] = [...NON_CONFIG, 'config'];
const MiB = 1024 * 1024;

/** A random file with its storage ID as name. */
function newFile(type: FileType, size = 1000): { h: FileHandle; data: Buffer } {
  const data = randomBytes(size);
  return { h: { type, name: type === 'config' ? '' : sha256(data) }, data };
}

/** Where restic's layout puts a file. */
function layoutPath(h: FileHandle): string {
  if (h.type === 'config') return 'config';
  if (h.type === 'data') return `data/${h.name.slice(0, 2)}/${h.name}`;
  return `${h.type}/${h.name}`;
}

/** Raw files that are not where restic's layout puts a repository file (temp files, debris). */
function strays(files: string[]): string[] {
  return files.filter((f) => !(f === 'config' || /^(keys|index|snapshots|locks)\/[0-9a-f]{64}$/.test(f) || /^data\/([0-9a-f]{2})\/\1[0-9a-f]{62}$/.test(f)));
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function describeTargetContract(name: string, make: () => Promise<TargetFixture>, options: ContractOptions = {}): void {
  describe(`${name}: StorageTarget contract`, () => {
    let f: TargetFixture;
    let target: StorageTarget;
    beforeEach(async () => {
      f = await make();
      target = f.target;
    });
    afterEach(async () => {
      await target?.close();
      await f?.cleanup();
    });

    describe('create', () => {
      it('makes an empty repository layout: nothing listed, no config, no files', async () => {
        await target.create();
        for (const type of ALL) expect(await target.list(type), type).toEqual([]);
        expect(isNotFound(await rejection(target.stat({ type: 'config', name: '' })))).toBe(true);
        expect(await f.raw.files()).toEqual([]);
        if (f.raw.dirs) {
          const dirs = new Set(await f.raw.dirs());
          for (const d of ['data', 'keys', 'index', 'snapshots', 'locks']) expect(dirs.has(d), d).toBe(true);
          for (let i = 0; i < 256; i++) {
            const p = `data/${i.toString(16).padStart(2, '0')}`;
            expect(dirs.has(p), p).toBe(true);
          }
        }
      });

      it('is repeatable while no config exists, and refuses once one does', async () => {
        await target.create();
        await target.create();
        await target.save({ type: 'config', name: '' }, Buffer.from('cfg'));
        const err = await rejection(target.create());
        expect(String(err)).toContain('a repository already exists');
        expect(String(err)).toContain(target.location);
        expect((await loadAll(target, { type: 'config', name: '' })).toString()).toBe('cfg');
      });
    });

    describe('files', () => {
      beforeEach(async () => {
        await target.create();
      });

      it('saveOwned (or its fallback to save) stores the bytes of a view into a larger buffer and gives the whole buffer back', async () => {
        const buffer = new ArrayBuffer(512 * 1024);
        const view = new Uint8Array(buffer, 0, 300 * 1024);
        view.set(randomBytes(view.length));
        const bytes = Buffer.from(view);
        const h: FileHandle = { type: 'data', name: sha256(bytes) };
        const r = await saveOwned(target, h, view);
        expect(r.error).toBeUndefined();
        expect(r.data.buffer.byteLength).toBe(512 * 1024);
        expect(Buffer.from(r.data).equals(bytes)).toBe(true);
        expect(await target.stat(h)).toEqual({ name: h.name, size: bytes.length });
        expect((await loadAll(target, h)).equals(bytes)).toBe(true);
      });

      it('saves, stats, loads and removes every file type at restic layout paths', async () => {
        for (const type of ALL) {
          const { h, data } = newFile(type, 4096 + type.length);
          await target.save(h, data);
          expect(await f.raw.files(), type).toContain(layoutPath(h));
          expect(await target.stat(h)).toEqual({ name: h.name, size: data.length });
          expect((await loadAll(target, h)).equals(data), type).toBe(true);
          await target.remove(h);
          expect(await f.raw.files(), type).not.toContain(layoutPath(h));
          expect(isNotFound(await rejection(target.stat(h))), type).toBe(true);
          expect(isNotFound(await rejection(loadAll(target, h))), type).toBe(true);
          if (type !== 'config') expect(await target.list(type)).toEqual([]);
        }
      });

      it('puts data files under data/XX (the first two hex digits of the name)', async () => {
        const files = Array.from({ length: 6 }, () => newFile('data', 100));
        for (const x of files) await target.save(x.h, x.data);
        const raw = await f.raw.files();
        for (const x of files) expect(raw).toContain(`data/${x.h.name.slice(0, 2)}/${x.h.name}`);
        expect(strays(raw)).toEqual([]);
      });

      it('loads byte ranges: offset + length, and length 0 meaning "to the end"', async () => {
        const { h, data } = newFile('data', 300_000);
        await target.save(h, data);
        const range = (length: number, offset: number) => target.load(h, length, offset, (b) => Buffer.from(b));
        expect((await range(5, 10)).equals(data.subarray(10, 15))).toBe(true);
        expect((await range(1, 0)).equals(data.subarray(0, 1))).toBe(true);
        expect((await range(1, 299_999)).equals(data.subarray(299_999))).toBe(true);
        expect((await range(300_000, 0)).equals(data)).toBe(true);
        expect((await range(0, 0)).equals(data)).toBe(true);
        expect((await range(0, 123_457)).equals(data.subarray(123_457))).toBe(true);
        expect((await range(200_000, 70_001)).equals(data.subarray(70_001, 270_001))).toBe(true);
        expect((await range(0, 300_000)).length).toBe(0);
        // the last 4 bytes, as a pack reader asks for the header length
        expect((await range(4, 300_000 - 4)).readUInt32LE(0)).toBe(data.readUInt32LE(300_000 - 4));
      });

      it('rejects a range past the end as a short read', async () => {
        const { h, data } = newFile('index', 100);
        await target.save(h, data);
        expect(String(await rejection(target.load(h, 10, 95, (b) => b)))).toMatch(/short read/);
        expect(String(await rejection(target.load(h, 1, 100, (b) => b)))).toMatch(/short read/);
      });

      it('returns what consume returns, sync or async, and passes its errors through', async () => {
        const { h, data } = newFile('snapshots', 64);
        await target.save(h, data);
        expect(await target.load(h, 0, 0, (b) => b.length)).toBe(64);
        expect(await target.load(h, 8, 8, (b) => b.toString('hex'))).toBe(data.subarray(8, 16).toString('hex'));
        expect(await target.load(h, 0, 0, async (b) => ({ id: sha256(b) }))).toEqual({ id: h.name });
        const sync = await rejection(
          target.load(h, 0, 0, () => {
            throw new Error('consumer failed');
          }),
        );
        expect((sync as Error).message).toBe('consumer failed');
        const async_ = await rejection(target.load(h, 0, 0, () => Promise.reject(new Error('async consumer failed'))));
        expect((async_ as Error).message).toBe('async consumer failed');
        // and the target still works afterwards
        expect((await loadAll(target, h)).equals(data)).toBe(true);
      });

      it('saves and loads empty and large files', async () => {
        const empty = { type: 'locks' as const, name: sha256(new Uint8Array(0)) };
        await target.save(empty, new Uint8Array(0));
        expect((await loadAll(target, empty)).length).toBe(0);
        expect(await target.stat(empty)).toEqual({ name: empty.name, size: 0 });
        const { h, data } = newFile('data', 5 * MiB + 3);
        await target.save(h, data);
        expect(await target.stat(h)).toEqual({ name: h.name, size: data.length });
        expect((await loadAll(target, h)).equals(data)).toBe(true);
        // a Uint8Array view that is not a whole Buffer
        const backing = randomBytes(5000);
        const view = new Uint8Array(backing.buffer, backing.byteOffset + 100, 4000);
        const vh: FileHandle = { type: 'index', name: sha256(view) };
        await target.save(vh, view);
        expect((await loadAll(target, vh)).equals(backing.subarray(100, 4100))).toBe(true);
      });

      it('replaces an existing file on save', async () => {
        const h: FileHandle = { type: 'keys', name: 'a'.repeat(64) };
        await target.save(h, Buffer.from('first version, longer'));
        await target.save(h, Buffer.from('second'));
        expect((await loadAll(target, h)).toString()).toBe('second');
        expect(await target.stat(h)).toEqual({ name: h.name, size: 6 });
        expect(await target.list('keys')).toEqual([{ name: h.name, size: 6 }]);
        await target.save({ type: 'config', name: '' }, Buffer.from('config one'));
        await target.save({ type: 'config', name: '' }, Buffer.from('config 2'));
        expect((await loadAll(target, { type: 'config', name: '' })).toString()).toBe('config 2');
        expect(strays(await f.raw.files())).toEqual([]);
      });

      it('lists each type with names and sizes, ignoring temp and foreign files', async () => {
        const saved = new Map<FileType, { name: string; size: number }[]>();
        for (const type of NON_CONFIG) {
          const list: { name: string; size: number }[] = [];
          for (let i = 0; i < 5; i++) {
            const { h, data } = newFile(type, 10 + i * 7);
            await target.save(h, data);
            list.push({ name: h.name, size: data.length });
          }
          saved.set(type, list);
        }
        const id = 'f'.repeat(64);
        await f.raw.write('keys/.tmp-0123456789abcdef', Buffer.from('partial'));
        await f.raw.write('keys/README', Buffer.from('not a key'));
        await f.raw.write(`index/${id}.tmp-0123456789abcdef`, Buffer.from('partial'));
        await f.raw.write(`snapshots/${id}-tmp-42`, Buffer.from('partial, as restic names it'));
        await f.raw.write('data/ab/.tmp-ffff', Buffer.from('partial'));
        await f.raw.write(`data/ab/${'ab'.repeat(32).toUpperCase()}`, Buffer.from('upper case'));
        await f.raw.write(`data/zz/${id}`, Buffer.from('in a foreign folder'));
        await f.raw.write(`locks/${id.slice(1)}`, Buffer.from('63 digits'));
        await target.save({ type: 'config', name: '' }, Buffer.from('cfg'));

        for (const type of NON_CONFIG) {
          const listed = await target.list(type);
          expect(listed.sort(byName), type).toEqual(saved.get(type)!.sort(byName));
        }
        expect(await target.list('config')).toEqual([]);
      });

      it('lists many data files across prefix folders', async () => {
        const files = Array.from({ length: 40 }, (_, i) => newFile('data', 1 + i));
        await Promise.all(files.map((x) => target.save(x.h, x.data)));
        const listed = await target.list('data');
        expect(listed.sort(byName)).toEqual(files.map((x) => ({ name: x.h.name, size: x.data.length })).sort(byName));
      });

      it('rejects missing files with NotFoundError (isNotFound) for load, stat and remove', async () => {
        for (const type of ALL) {
          const h: FileHandle = { type, name: type === 'config' ? '' : 'e'.repeat(64) };
          const ops: [string, () => Promise<unknown>][] = [
            ['load', () => loadAll(target, h)],
            ['ranged load', () => target.load(h, 10, 5, (b) => b)],
            ['stat', () => target.stat(h)],
            ['remove', () => target.remove(h)],
          ];
          for (const [op, run] of ops) {
            const err = await rejection(run());
            expect(isNotFound(err), `${type} ${op}: ${String(err)}`).toBe(true);
            expect(err).toBeInstanceOf(NotFoundError);
            expect((err as NotFoundError).handle).toEqual(h);
            expect((err as Error).message).toContain(type === 'config' ? 'config not found' : `${type}/${h.name} not found`);
          }
        }
        expect(isNotFound(new Error('not found'))).toBe(false);
      });

      it('rejects invalid names for every operation and writes nothing', async () => {
        const bad = ['', 'abc', 'A'.repeat(64), 'g'.repeat(64), '../' + 'a'.repeat(61), 'a'.repeat(63) + '/', 'a'.repeat(65), 'a'.repeat(64) + '\n', '/' + 'a'.repeat(63)];
        for (const type of NON_CONFIG) {
          for (const n of bad) {
            const h = { type, name: n };
            const what = `${type} ${JSON.stringify(n)}`;
            expect(String(await rejection(target.save(h, Buffer.from('x')))), what).toContain('invalid file name');
            expect(String(await rejection(target.load(h, 0, 0, (b) => b))), what).toContain('invalid file name');
            expect(String(await rejection(target.stat(h))), what).toContain('invalid file name');
            expect(String(await rejection(target.remove(h))), what).toContain('invalid file name');
          }
        }
        expect(await f.raw.files()).toEqual([]);
      });
    });

    describe('atomic saves', () => {
      beforeEach(async () => {
        await target.create();
      });

      it('leaves no temp file behind after saves of every type', async () => {
        for (const type of ALL) {
          const { h, data } = newFile(type, 70_000);
          await target.save(h, data);
        }
        const raw = await f.raw.files();
        expect(raw).toHaveLength(ALL.length);
        expect(strays(raw)).toEqual([]);
      });

      it('a reader polling during the save of a 4 MiB file sees nothing or the whole file', async () => {
        const { h, data } = newFile('data', 4 * MiB);
        let done = false;
        let sawMissing = 0;
        let sawWhole = 0;
        const reader = (async () => {
          while (!done) {
            try {
              const st = await target.stat(h);
              expect(st.size, 'stat during the save').toBe(data.length);
              const got = await loadAll(target, h);
              expect(got.length, 'load during the save').toBe(data.length);
              expect(got.equals(data)).toBe(true);
              sawWhole++;
            } catch (e) {
              if (!isNotFound(e)) throw e;
              sawMissing++;
            }
          }
        })();
        try {
          await target.save(h, data);
        } finally {
          done = true;
          await reader;
        }
        expect(sawMissing + sawWhole).toBeGreaterThan(0);
        expect((await loadAll(target, h)).equals(data)).toBe(true);
        expect(strays(await f.raw.files())).toEqual([]);
      });

      it('readers never see a partial file while it is being replaced', async () => {
        const h: FileHandle = { type: 'index', name: '6'.repeat(64) };
        const a = Buffer.alloc(2 * MiB, 0xaa);
        const b = Buffer.alloc(3 * MiB, 0xbb);
        await target.save(h, a);
        let done = false;
        const writer = (async () => {
          try {
            for (let i = 0; i < 8; i++) await target.save(h, i % 2 ? a : b);
          } finally {
            done = true;
          }
        })();
        let reads = 0;
        const reader = async (ranged: boolean) => {
          while (!done) {
            const got = ranged ? await target.load(h, 1000, 2 * MiB - 1000, (x) => Buffer.from(x)) : await loadAll(target, h);
            if (ranged) expect(got.equals(a.subarray(0, 1000)) || got.equals(b.subarray(0, 1000)), `ranged read ${reads}`).toBe(true);
            else expect(got.equals(a) || got.equals(b), `read ${reads}: ${got.length} bytes`).toBe(true);
            reads++;
          }
        };
        await Promise.all([writer, reader(false), reader(true)]);
        expect(reads).toBeGreaterThan(0);
        expect(strays(await f.raw.files())).toEqual([]);
      });

      it('concurrent saves of one name leave exactly one whole version', async () => {
        const h: FileHandle = { type: 'snapshots', name: '5'.repeat(64) };
        const versions = Array.from({ length: 10 }, (_, i) => Buffer.alloc(200_000 + i * 1000, i + 1));
        await Promise.all(versions.map((v) => target.save(h, v)));
        const got = await loadAll(target, h);
        expect(versions.some((v) => v.equals(got))).toBe(true);
        expect(strays(await f.raw.files())).toEqual([]);
      });
    });

    describe('leftovers', () => {
      it('removeLeftovers removes the temporary files of unfinished saves older than the cut, and nothing else', async () => {
        if (options.temporaryFiles === false) {
          expect(target.removeLeftovers).toBeUndefined();
          return;
        }
        await target.create();
        const kept = newFile('data');
        await target.save(kept.h, kept.data);
        const config = newFile('config');
        await target.save(config.h, config.data);
        // Where interrupted saves leave their temporary files: beside the file they were to become.
        const temporary = [`data/${kept.h.name.slice(0, 2)}/.tmp-0123456789abcdef`, 'index/.tmp-aaaaaaaaaaaaaaaa', '.tmp-bbbbbbbbbbbbbbbb'];
        for (const p of temporary) await f.raw.write(p, randomBytes(100));
        await f.raw.write('keys/notes.txt', Buffer.from('not ours, not temporary'));
        const before = (await f.raw.files()).sort();
        // A cut earlier than they were written: all are too young to be given up for lost.
        expect(await target.removeLeftovers!(Date.now() - 3_600_000)).toBe(0);
        expect((await f.raw.files()).sort()).toEqual(before);
        expect(await target.removeLeftovers!(Date.now() + 5_000)).toBe(temporary.length);
        expect((await f.raw.files()).sort()).toEqual(before.filter((p) => !temporary.includes(p)));
        expect((await loadAll(target, kept.h)).equals(kept.data)).toBe(true);
        expect((await loadAll(target, config.h)).equals(config.data)).toBe(true);
      });
    });

    describe('concurrency', () => {
      beforeEach(async () => {
        await target.create();
      });

      it(`lands 20 parallel saves and 20 parallel loads (more than connections), all whole`, async () => {
        expect(target.connections).toBeGreaterThanOrEqual(1);
        const types: FileType[] = ['data', 'index', 'snapshots', 'keys'];
        const files = Array.from({ length: 20 }, (_, i) => newFile(types[i % types.length]!, 50_000 + i * 3001));
        await Promise.all(files.map((x) => target.save(x.h, x.data)));
        const loaded = await Promise.all(files.map((x) => loadAll(target, x.h)));
        loaded.forEach((b, i) => expect(b.equals(files[i]!.data), `file ${i}`).toBe(true));
        const stats = await Promise.all(files.map((x) => target.stat(x.h)));
        stats.forEach((s, i) => expect(s.size).toBe(files[i]!.data.length));
        let listed = 0;
        for (const t of types) listed += (await target.list(t)).length;
        expect(listed).toBe(20);
        expect(strays(await f.raw.files())).toEqual([]);
      });

      it('mixes saves, loads, lists and removes at once', async () => {
        const old = Array.from({ length: 10 }, () => newFile('data', 30_000));
        await Promise.all(old.map((x) => target.save(x.h, x.data)));
        const fresh = Array.from({ length: 10 }, () => newFile('data', 30_000));
        const ops: Promise<unknown>[] = [];
        for (let i = 0; i < 10; i++) {
          ops.push(target.save(fresh[i]!.h, fresh[i]!.data));
          ops.push(loadAll(target, old[i]!.h).then((b) => expect(b.equals(old[i]!.data)).toBe(true)));
          if (i % 2) ops.push(target.remove(old[i]!.h));
          if (i % 3 === 0) ops.push(target.list('data'));
        }
        // loads race removes of the same file: either whole or not found
        await Promise.all(ops.map((p) => p.catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)))));
        const names = new Set((await target.list('data')).map((x) => x.name));
        for (let i = 0; i < 10; i++) {
          expect(names.has(fresh[i]!.h.name)).toBe(true);
          expect(names.has(old[i]!.h.name)).toBe(i % 2 === 0);
        }
      });
    });

    describe('close', () => {
      beforeEach(async () => {
        await target.create();
      });

      it('releases resources; closing twice is fine' + (options.refusesAfterClose === false ? '' : '; a closed target refuses work saying so'), async () => {
        const { h, data } = newFile('keys', 100);
        await target.save(h, data);
        await target.close();
        await target.close();
        if (options.refusesAfterClose === false) return;
        const ops: [string, () => Promise<unknown>][] = [
          ['save', () => target.save(newFile('keys').h, Buffer.from('x'))],
          ['load', () => loadAll(target, h)],
          ['stat', () => target.stat(h)],
          ['list', () => target.list('keys')],
          ['remove', () => target.remove(h)],
          ['create', () => target.create()],
        ];
        for (const [op, run] of ops) {
          const err = await rejection(run());
          expect(isNotFound(err), op).toBe(false);
          expect(String(err), op).toMatch(/closed/);
        }
        // the file is still there, untouched
        expect(await f.raw.files()).toContain(layoutPath(h));
      });
    });
  });
}
