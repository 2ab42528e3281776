/**
 * The backup and restore pipelines end to end, where their work is split
 * between threads: packs built in reused buffers, trees saved while files are
 * still being read, files created and finished by the worker that writes
 * them (or by the main thread when their blobs span several tasks), and a
 * restore into a folder where symlinks and folders sit in the files' places.
 */
import { mkdirSync, readdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { check } from '../../main/engine/check.js';
import { Repository } from '../../main/engine/repository.js';
import { restore } from '../../main/engine/restore.js';
import { walkTree } from '../../main/engine/snapshot-walk.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { makeSourceTree, pseudoRandom } from '../fixtures/source-tree.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let src: string;
const PASSWORD = 'pipeline test password';

beforeAll(() => {
  s = scratch();
  src = path.join(s.dir, 'src');
  makeSourceTree(src);
  // A file whose blobs span several restore tasks (more than 8 MiB), and many small files in nested folders.
  writeFileSync(path.join(src, 'big/large.bin'), pseudoRandom('large', 21 * 1024 * 1024 + 7));
  for (let d = 0; d < 6; d++) {
    const dir = path.join(src, 'many', `d${d}`, `sub${d % 2}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 40; f++) writeFileSync(path.join(dir, `f${f}.txt`), `file ${d}/${f}\n`.repeat(1 + ((d * 40 + f) % 50)));
  }
  const t = new Date('2023-01-02T03:04:05.678Z');
  utimesSync(path.join(src, 'big/large.bin'), t, t);
  utimesSync(path.join(src, 'many/d3/sub1/f7.txt'), t, t);
});
afterAll(() => s?.dispose());

async function freshRepo(name: string): Promise<Repository> {
  const target = new LocalTarget(path.join(s.dir, name));
  await Repository.init(target, PASSWORD);
  return Repository.open(new LocalTarget(path.join(s.dir, name)), PASSWORD);
}

describe('backup with small packs (many packs, buffers reused)', () => {
  it('writes a repository that checks clean, restores byte for byte, and names trees as a one-worker backup does', async () => {
    const repo = await freshRepo('small-packs');
    const first = await backup(repo, { paths: [src], workers: 2, packSize: 256 * 1024 });
    expect(first.partial).toBe(false);
    expect(first.errors).toEqual([]);
    const packs = readdirSync(path.join(s.dir, 'small-packs', 'data'), { recursive: true }).filter((n) => /[0-9a-f]{64}$/.test(String(n)));
    expect(packs.length).toBeGreaterThan(15);

    const reopened = await Repository.open(new LocalTarget(path.join(s.dir, 'small-packs')), PASSWORD);
    const c = await check(reopened, { readData: true, workers: 2 });
    expect(c.errors).toEqual([]);

    // The trees do not depend on the order in which files finish: a one-worker backup (parent ignored, every
    // file read again) lists the same entries with the same content. Atimes may differ (reading updates them).
    const single = await backup(reopened, { paths: [src], workers: 1, parent: null });
    expect(single.summary.files_new).toBe(first.summary.files_new);
    expect(single.summary.dirs_new).toBe(first.summary.dirs_new);
    expect(single.summary.data_blobs).toBe(0);
    const flatten = async (tree: string) => {
      const out: string[] = [];
      for await (const { path: p, node } of walkTree(reopened, tree)) {
        if (!p.startsWith(src)) continue; // the folders above it are not ours (others write to /tmp)
        out.push(JSON.stringify([p, node.type, node.mode, node.size, String(node.mtime), node.content, node.linktarget]));
      }
      return out;
    };
    const entries = await flatten(first.snapshot.tree);
    expect(entries.length).toBeGreaterThan(250);
    expect(await flatten(single.snapshot.tree)).toEqual(entries);

    const target = path.join(s.dir, 'restore-small-packs');
    const res = await restore(reopened, first.snapshot, { target, workers: 2 });
    expect(res.errors).toEqual([]);
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });
});

describe('backup to a slow target', () => {
  it('waits for stored packs to hand their buffers back, and finishes with everything stored', async () => {
    const dir = path.join(s.dir, 'slow');
    await Repository.init(new LocalTarget(dir), PASSWORD);
    const local = new LocalTarget(dir);
    let saves = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    // Every save takes a while: reading outpaces storing, so workers run out of pack buffers and wait.
    const slow = Object.assign(Object.create(local) as LocalTarget, {
      save: async (h: Parameters<LocalTarget['save']>[0], data: Uint8Array) => {
        if (h.type !== 'data') return local.save(h, data);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 15));
        await local.save(h, data);
        inFlight--;
        saves++;
      },
    });
    // More tasks than may be in flight, each filling several packs.
    const many = path.join(s.dir, 'many-tasks');
    mkdirSync(many);
    for (let i = 0; i < 48; i++) writeFileSync(path.join(many, `f${i}.bin`), pseudoRandom(`many ${i}`, 512 * 1024));
    const repo = await Repository.open(slow, PASSWORD);
    const res = await backup(repo, { paths: [src, many], workers: 2, packSize: 64 * 1024, uploadConnections: 1 });
    expect(res.errors).toEqual([]);
    expect(saves).toBeGreaterThan(48);
    expect(maxInFlight).toBe(1);
    const c = await check(await Repository.open(new LocalTarget(dir), PASSWORD), { readData: true, workers: 2 });
    expect(c.errors).toEqual([]);
  });
});

describe('restore into a folder with things in the way', () => {
  it('replaces symlinks and folders where files go, never writing through them', async () => {
    const repo = await freshRepo('in-the-way');
    const snap = (await backup(repo, { paths: [src], workers: 2 })).snapshot;
    const target = path.join(s.dir, 'restore-in-the-way');
    const outside = path.join(s.dir, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'victim'), 'untouched');
    const at = (rel: string) => path.join(target, src, rel);
    mkdirSync(at('many/d1/sub1'), { recursive: true });
    mkdirSync(at('big'), { recursive: true });
    symlinkSync(path.join(outside, 'victim'), at('many/d1/sub1/f3.txt')); // a small file, finished by a worker
    symlinkSync(path.join(outside, 'victim'), at('big/large.bin')); // a file spanning tasks, created here
    mkdirSync(at('docs/script.sh'), { recursive: true }); // a folder where a file goes
    writeFileSync(at('docs/script.sh/inside'), 'x');

    const res = await restore(repo, snap, { target, workers: 2 });
    expect(res.errors).toEqual([]);
    expect(readFileSync(path.join(outside, 'victim'), 'utf8')).toBe('untouched');
    expect(readdirSync(outside)).toEqual(['victim']);
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });

  it('creates nothing below a folder whose place a symlink holds, not even deeper folders', async () => {
    const repo = await freshRepo('symlinked-dir');
    const snap = (await backup(repo, { paths: [src], workers: 2 })).snapshot;
    const target = path.join(s.dir, 'restore-symlinked-dir');
    const outside = path.join(s.dir, 'outside-2');
    mkdirSync(outside);
    const at = (rel: string) => path.join(target, src, rel);
    mkdirSync(at('many'), { recursive: true });
    symlinkSync(outside, at('many/d2')); // many/d2/sub0/f*.txt must not appear in outside/sub0

    const res = await restore(repo, snap, { target, workers: 2 });
    expect(readdirSync(outside)).toEqual([]);
    const bad = res.errors.map((e) => path.relative(path.join(target, src), e.path));
    expect(bad[0]).toBe('many/d2');
    expect(res.errors[0]!.message).toMatch(/exists and is not a folder/);
    expect(bad.every((p) => p === 'many/d2' || p.startsWith('many/d2/'))).toBe(true);
    expect(bad).toContain('many/d2/sub0');
    expect(bad).toContain('many/d2/sub0/f0.txt');
    // Everything else is restored.
    const want = new Map([...describeTree(src)].filter(([p]) => !p.startsWith('many/d2')));
    const got = new Map([...describeTree(path.join(target, src))].filter(([p]) => !p.startsWith('many/d2')));
    expect(diffTrees(want, got)).toEqual([]);
  });
});
