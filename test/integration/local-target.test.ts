/**
 * LocalTarget (main/engine/targets/local.ts) against a real temporary folder:
 * restic's local layout, atomic saves, ranged loads, listing and not-found
 * behaviour of the StorageTarget contract.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileType } from '../../shared/repo/types.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { NotFoundError, isNotFound, loadAll, type FileHandle } from '../../main/engine/targets/target.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const NON_CONFIG: FileType[] = ['data', 'keys', 'index', 'snapshots', 'locks'];

let tmp = '';
let root = '';
let target: LocalTarget;

beforeEach(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-local-'));
  root = path.join(tmp, 'repo');
  target = new LocalTarget(root);
  await target.create();
});
afterEach(async () => {
  await target.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Every file below `dir` whose name starts with ".tmp-". */
function tmpLeftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.name.startsWith('.tmp-')) out.push(path.join(d, e.name));
    }
  };
  walk(dir);
  return out;
}

/** A random file with its storage ID as name. */
function newFile(type: FileType, size = 1000): { h: FileHandle; data: Buffer } {
  const data = randomBytes(size);
  return { h: { type, name: type === 'config' ? 'config' : sha256(data) }, data };
}

describe('LocalTarget.create', () => {
  it('makes restic local layout with data/00..ff', () => {
    expect(target.location).toBe(path.resolve(root));
    for (const d of ['data', 'keys', 'index', 'snapshots', 'locks']) {
      expect(statSync(path.join(root, d)).isDirectory(), d).toBe(true);
    }
    const prefixes = readdirSync(path.join(root, 'data')).sort();
    expect(prefixes).toHaveLength(256);
    expect(prefixes[0]).toBe('00');
    expect(prefixes[255]).toBe('ff');
    expect(prefixes).toEqual(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')));
    for (const p of ['00', '7f', 'ff']) expect(statSync(path.join(root, 'data', p)).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(root, 'keys')).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(root, 'config'))).toBe(false);
  });

  it('is repeatable while no config exists, and refuses once one does', async () => {
    await target.create();
    await target.save({ type: 'config', name: '' }, Buffer.from('cfg'));
    await expect(target.create()).rejects.toThrow(`a repository already exists at ${path.resolve(root)}`);
    // and did not touch the existing repository
    expect(readFileSync(path.join(root, 'config'), 'utf8')).toBe('cfg');
  });

  it('creates missing parent folders', async () => {
    const deep = new LocalTarget(path.join(tmp, 'a', 'b', 'c'));
    await deep.create();
    expect(statSync(path.join(tmp, 'a', 'b', 'c', 'data', 'ab')).isDirectory()).toBe(true);
  });
});

describe('LocalTarget files', () => {
  it('saves, stats, loads and removes every file type at restic paths', async () => {
    for (const type of [...NON_CONFIG, 'config' as const]) {
      const { h, data } = newFile(type, 4096);
      await target.save(h, data);
      const expectedPath =
        type === 'config' ? path.join(root, 'config') : type === 'data' ? path.join(root, 'data', h.name.slice(0, 2), h.name) : path.join(root, type, h.name);
      expect(target.filename(h)).toBe(expectedPath);
      expect(readFileSync(expectedPath).equals(data), type).toBe(true);
      expect(statSync(expectedPath).mode & 0o777).toBe(0o600);
      expect(await target.stat(h)).toEqual({ name: h.name, size: 4096 });
      expect((await loadAll(target, h)).equals(data)).toBe(true);
      await target.remove(h);
      expect(existsSync(expectedPath)).toBe(false);
      await expect(target.stat(h)).rejects.toBeInstanceOf(NotFoundError);
    }
  });

  it('loads byte ranges: offset + length, and length 0 meaning "to the end"', async () => {
    const { h, data } = newFile('data', 10_000);
    await target.save(h, data);
    const range = (length: number, offset: number) => target.load(h, length, offset, (b) => Buffer.from(b));
    expect((await range(5, 10)).equals(data.subarray(10, 15))).toBe(true);
    expect((await range(1, 0)).equals(data.subarray(0, 1))).toBe(true);
    expect((await range(1, 9999)).equals(data.subarray(9999))).toBe(true);
    expect((await range(10_000, 0)).equals(data)).toBe(true);
    expect((await range(0, 0)).equals(data)).toBe(true);
    expect((await range(0, 9000)).equals(data.subarray(9000))).toBe(true);
    expect((await range(0, 10_000)).length).toBe(0);
    // the last 4 bytes, as a pack reader asks for the header length
    expect((await range(4, 10_000 - 4)).readUInt32LE(0)).toBe(data.readUInt32LE(10_000 - 4));
  });

  it('rejects a range past the end as a short read', async () => {
    const { h, data } = newFile('index', 100);
    await target.save(h, data);
    await expect(target.load(h, 10, 95, (b) => b)).rejects.toThrow(/short read/);
    await expect(target.load(h, 1, 100, (b) => b)).rejects.toThrow(/short read/);
  });

  it('returns what consume returns, sync or async, and passes its errors through', async () => {
    const { h, data } = newFile('snapshots', 64);
    await target.save(h, data);
    expect(await target.load(h, 0, 0, (b) => b.length)).toBe(64);
    expect(await target.load(h, 8, 8, (b) => b.toString('hex'))).toBe(data.subarray(8, 16).toString('hex'));
    expect(await target.load(h, 0, 0, async (b) => ({ id: sha256(b) }))).toEqual({ id: h.name });
    await expect(target.load(h, 0, 0, () => { throw new Error('consumer failed'); })).rejects.toThrow('consumer failed');
    await expect(target.load(h, 0, 0, () => Promise.reject(new Error('async consumer failed')))).rejects.toThrow('async consumer failed');
  });

  it('saves and loads empty and large files', async () => {
    const empty = { type: 'locks' as const, name: sha256(new Uint8Array(0)) };
    await target.save(empty, new Uint8Array(0));
    expect((await loadAll(target, empty)).length).toBe(0);
    expect(await target.stat(empty)).toEqual({ name: empty.name, size: 0 });
    const { h, data } = newFile('data', 5 * 1024 * 1024 + 3);
    await target.save(h, data);
    expect((await loadAll(target, h)).equals(data)).toBe(true);
  });

  it('replaces an existing file on save', async () => {
    const h: FileHandle = { type: 'keys', name: 'a'.repeat(64) };
    await target.save(h, Buffer.from('first version, longer'));
    await target.save(h, Buffer.from('second'));
    expect((await loadAll(target, h)).toString()).toBe('second');
  });

  it('rejects missing files with NotFoundError (isNotFound) for load, stat and remove', async () => {
    for (const type of [...NON_CONFIG, 'config' as const]) {
      const h: FileHandle = { type, name: type === 'config' ? '' : 'e'.repeat(64) };
      for (const op of [() => loadAll(target, h), () => target.stat(h), () => target.remove(h)]) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isNotFound(err), `${type}: ${String(err)}`).toBe(true);
        expect(err).toBeInstanceOf(NotFoundError);
        expect((err as NotFoundError).handle).toEqual(h);
        expect((err as Error).message).toContain(type === 'config' ? 'config not found' : `${type}/${h.name} not found`);
      }
    }
    expect(isNotFound(new Error('not found'))).toBe(false);
  });

  it('rejects invalid names for every operation', async () => {
    const bad = ['', 'abc', 'A'.repeat(64), 'g'.repeat(64), '../' + 'a'.repeat(61), 'a'.repeat(63) + '/', 'a'.repeat(65), 'a'.repeat(64) + '\n'];
    for (const type of NON_CONFIG) {
      for (const name of bad) {
        const h = { type, name };
        await expect(target.save(h, Buffer.from('x')), `${type} ${JSON.stringify(name)}`).rejects.toThrow('invalid file name');
        await expect(target.load(h, 0, 0, (b) => b)).rejects.toThrow('invalid file name');
        await expect(target.stat(h)).rejects.toThrow('invalid file name');
        await expect(target.remove(h)).rejects.toThrow('invalid file name');
      }
    }
    // nothing was written outside the layout
    expect(readdirSync(tmp)).toEqual(['repo']);
    expect(tmpLeftovers(root)).toEqual([]);
  });

  it('lists each type, ignoring temp and foreign files', async () => {
    const saved = new Map<FileType, Map<string, number>>();
    for (const type of NON_CONFIG) {
      const m = new Map<string, number>();
      for (let i = 0; i < 5; i++) {
        const { h, data } = newFile(type, 10 + i);
        await target.save(h, data);
        m.set(h.name, data.length);
      }
      saved.set(type, m);
    }
    writeFileSync(path.join(root, 'keys', '.tmp-0123456789abcdef'), 'partial');
    writeFileSync(path.join(root, 'keys', 'README'), 'not a key');
    writeFileSync(path.join(root, 'data', 'ab', '.tmp-ffff'), 'partial');
    mkdirSync(path.join(root, 'data', 'zz'));
    writeFileSync(path.join(root, 'data', 'zz', 'f'.repeat(64)), 'in a foreign folder');
    mkdirSync(path.join(root, 'index', 'c'.repeat(64))); // a folder with an ID name is not a file
    await target.save({ type: 'config', name: '' }, Buffer.from('cfg'));

    for (const type of NON_CONFIG) {
      const listed = await target.list(type);
      const expected = [...saved.get(type)!].map(([name, size]) => ({ name, size }));
      expect(listed.sort((a, b) => a.name.localeCompare(b.name)), type).toEqual(expected.sort((a, b) => a.name.localeCompare(b.name)));
    }
    expect(await target.list('config')).toEqual([]);
  });

  it('lists nothing for a folder that does not exist', async () => {
    const empty = new LocalTarget(path.join(tmp, 'nothing-here'));
    for (const type of NON_CONFIG) expect(await empty.list(type)).toEqual([]);
  });

  it('recreates a missing data prefix folder on save', async () => {
    rmSync(path.join(root, 'data'), { recursive: true });
    const { h, data } = newFile('data');
    await target.save(h, data);
    expect(readFileSync(path.join(root, 'data', h.name.slice(0, 2), h.name)).equals(data)).toBe(true);
    expect(await target.list('data')).toEqual([{ name: h.name, size: data.length }]);
  });
});

describe('LocalTarget atomic saves', () => {
  it('leaves no temp file behind after a save', async () => {
    for (const type of [...NON_CONFIG, 'config' as const]) {
      const { h, data } = newFile(type);
      await target.save(h, data);
    }
    expect(tmpLeftovers(root)).toEqual([]);
  });

  it('lands 20 concurrent saves, all complete, with no temp files', async () => {
    const files = Array.from({ length: 20 }, (_, i) => newFile(i % 2 ? 'data' : 'index', 50_000 + i));
    await Promise.all(files.map((f) => target.save(f.h, f.data)));
    for (const f of files) expect((await loadAll(target, f.h)).equals(f.data)).toBe(true);
    expect((await target.list('data')).length + (await target.list('index')).length).toBe(20);
    expect(tmpLeftovers(root)).toEqual([]);
  });

  it('concurrent saves of one name leave exactly one whole version', async () => {
    const h: FileHandle = { type: 'snapshots', name: '5'.repeat(64) };
    const versions = Array.from({ length: 10 }, (_, i) => Buffer.alloc(200_000 + i * 1000, i + 1));
    await Promise.all(versions.map((v) => target.save(h, v)));
    const got = await loadAll(target, h);
    expect(versions.some((v) => v.equals(got))).toBe(true);
    expect(tmpLeftovers(root)).toEqual([]);
  });

  it('readers never see a partial file while it is being replaced', async () => {
    const h: FileHandle = { type: 'index', name: '6'.repeat(64) };
    const a = Buffer.alloc(1_000_000, 0xaa);
    const b = Buffer.alloc(1_500_000, 0xbb);
    await target.save(h, a);
    let done = false;
    const writer = (async () => {
      for (let i = 0; i < 10; i++) await target.save(h, i % 2 ? a : b);
      done = true;
    })();
    let reads = 0;
    while (!done) {
      const got = await loadAll(target, h);
      expect(got.equals(a) || got.equals(b), `read ${reads}: ${got.length} bytes`).toBe(true);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
  });
});
