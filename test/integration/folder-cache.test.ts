/**
 * The folder cache, on real files, a real local repository and real worker
 * threads: an unchanged re-run takes its trees from the cache instead of the
 * parent's, and gives exactly the tree a run without the cache gives;
 * a change anywhere below a folder, a tampered cache, or a tree the index no
 * longer has, all fall back to the parent's trees.
 */
import { appendFileSync, rmSync, chmodSync, existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup, startSourceScan } from '../../main/engine/backup.js';
import { cacheableFolders, everyBlob, FolderCache, folderSignature } from '../../main/engine/folder-cache.js';
import type { DirEntry } from '../../main/engine/source-scan.js';
import { check } from '../../main/engine/check.js';
import { prune } from '../../main/engine/prune.js';
import { Repository } from '../../main/engine/repository.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { lifeboat, quietTemporaryFolder, requireTool, restic, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let src: string;
let repoDir: string;
let cacheDir: string;
const PASSWORD = 'folder cache test password';

/**
 * Sets every access time under `root` a day ahead (modification times kept).
 * Reading a file or listing a folder updates its atime while that is older
 * than its mtime or ctime (relatime), which a tree records: without this, the
 * first run after a change would change what the next run sees.
 */
function freezeAtimes(root: string, recursive = true): void {
  const ahead = new Date(Date.now() + 86_400_000);
  const visit = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) lutimesSync(p, ahead, st.mtime);
    else utimesSync(p, ahead, st.mtime);
    if (recursive && st.isDirectory()) for (const name of readdirSync(p)) visit(path.join(p, name));
  };
  visit(root);
}

beforeAll(async () => {
  // Not in /tmp, where the other tests' folders come and go: the folders on the way to the source are
  // in its snapshot, so a change there (rightly) turns off the fast path these tests look for.
  s = scratch('lifeboat-folder-cache-', quietTemporaryFolder());
  src = path.join(s.dir, 'src');
  repoDir = path.join(s.dir, 'repo');
  cacheDir = path.join(s.dir, 'cache');
  makeSourceTree(src);
  freezeAtimes(src);
  mkdirSync(cacheDir); // before the first run: the folders on the way to the source must not change between runs
  await Repository.init(new LocalTarget(repoDir), PASSWORD);
});
afterAll(() => s?.dispose());

/** Opens the repository and counts the trees and index files read from it. */
async function openCounting(): Promise<{ repo: Repository; treesLoaded: () => number; indexFilesLoaded: () => number }> {
  const repo = await Repository.open(new LocalTarget(repoDir), PASSWORD);
  let trees = 0;
  let indexFiles = 0;
  const load = repo.loadTree.bind(repo);
  repo.loadTree = (id) => {
    trees++;
    return load(id);
  };
  const loadJSON = repo.loadJSON.bind(repo);
  repo.loadJSON = ((type: string, name: string) => {
    if (type === 'index') indexFiles++;
    return loadJSON(type as never, name);
  }) as typeof repo.loadJSON;
  return { repo, treesLoaded: () => trees, indexFilesLoaded: () => indexFiles };
}

/**
 * One backup of `src`. `tree` is the source folder's own tree: the snapshot's root tree
 * also records the folders on the way (/tmp among them), which other processes change.
 */
async function run(opts: { cache: boolean }) {
  const before = wayStamp();
  const { repo, treesLoaded, indexFilesLoaded } = await openCounting();
  try {
    const res = await backup(repo, { paths: [src], ...(opts.cache ? { cacheDir } : {}) });
    const loaded = treesLoaded();
    const indexLoaded = indexFilesLoaded();
    let tree = res.snapshot.tree;
    for (const name of src.split(path.sep).filter(Boolean)) {
      const node = (await repo.loadTree(tree)).nodes.find((n) => n.name === name);
      if (!node?.subtree) throw new Error(`no folder ${name} on the way to ${src} in the snapshot`);
      tree = node.subtree;
    }
    return { res, tree, treesLoaded: loaded, indexFilesLoaded: indexLoaded };
  } finally {
    await repo.close();
    lastRun = { before, after: wayStamp() };
  }
}

/** `wayStamp()` before and after the latest run. */
let lastRun: { before: string; after: string } | undefined;

/**
 * The lstat times of the folders on the way to `src` (/tmp among them, where
 * other processes come and go). Their trees record them, so a run reuses
 * everything only while they stay as they were when the cache was written.
 */
function wayStamp(): string {
  const out: string[] = [];
  for (let p = path.dirname(src); ; p = path.dirname(p)) {
    const st = lstatSync(p, { bigint: true });
    out.push(`${p} ${st.atimeNs} ${st.mtimeNs} ${st.ctimeNs}`);
    if (p === path.dirname(p)) return out.join('\n');
  }
}

/**
 * A cached run such that no folder on the way to `src` changed from before
 * the previous run (whose scan the cache holds) until after this one (tried a
 * few times: /tmp is busy while tests run).
 */
async function quietRun(): Promise<Awaited<ReturnType<typeof run>>> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const prev = lastRun;
    const r = await run({ cache: true });
    const cur = lastRun!;
    if (prev && prev.before === prev.after && prev.after === cur.before && cur.before === cur.after) return r;
  }
  throw new Error(`the folders on the way to ${src} kept changing over 5 runs`);
}

function cacheFile(): string {
  const [repoId] = readdirSync(cacheDir);
  const [file] = readdirSync(path.join(cacheDir, repoId!));
  return path.join(cacheDir, repoId!, file!);
}

describe('the folder cache', () => {
  it('an unchanged re-run takes its trees from the cache, reads no file, and gives the same tree as without it', async () => {
    const first = await run({ cache: true });
    expect(first.res.filesRead).toBeGreaterThan(5);

    const cached = await quietRun();
    expect(cached.res.filesRead).toBe(0);
    // Every index file the cache was written against is still there: neither the index nor any tree is read.
    expect(cached.indexFilesLoaded).toBe(0);
    expect(cached.treesLoaded).toBe(0);
    const onTheWay = src.split(path.sep).filter(Boolean).length;

    const uncached = await run({ cache: false });
    expect(uncached.treesLoaded).toBeGreaterThan(onTheWay + 5);
    expect(cached.tree).toBe(first.tree);
    expect(uncached.tree).toBe(cached.tree);
    // (Folder counts include the folders on the way, which other processes may change between runs.)
    const counts = (r: typeof cached) => {
      const { files_new, files_changed, files_unmodified } = r.res.summary;
      return { files_new, files_changed, files_unmodified };
    };
    expect(counts(cached)).toEqual(counts(uncached));
    expect(cached.res.summary.files_unmodified).toBe(first.res.summary.files_new);
  });

  it('after a prune rewrote the index, the next run reads the index and checks the cache against it, then skips it again', async () => {
    const before = await run({ cache: true });
    const { repo } = await openCounting();
    const pruned = await prune(repo, { maxUnusedPercent: 0 });
    await repo.close();
    expect(pruned.indexFilesRemoved).toBeGreaterThan(0);
    const checked = await run({ cache: true });
    expect(checked.indexFilesLoaded).toBeGreaterThan(0);
    // At most the trees of the folders on the way (and the root), should others have changed them meanwhile.
    expect(checked.treesLoaded).toBeLessThanOrEqual(src.split(path.sep).filter(Boolean).length);
    expect(checked.res.filesRead).toBe(0);
    expect(checked.tree).toBe(before.tree);
    const skipped = await quietRun();
    expect(skipped.treesLoaded).toBe(0);
    expect(skipped.indexFilesLoaded).toBe(0);
    expect(skipped.tree).toBe(before.tree);
  });

  it('a source inside another is walked once: counts as restic would, progress reaches its total, an unchanged re-run writes only its snapshot', async () => {
    const files = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    const all = files(src);
    // A cache folder of its own (made before the first run: it sits on the way to the source).
    const nestedCache = path.join(s.dir, 'cache-nested');
    mkdirSync(nestedCache);
    for (const inner of [path.join(src, 'docs'), path.join(src, 'big', readdirSync(path.join(src, 'big'))[0]!)]) {
      const runNested = async () => {
        const repo = await Repository.open(new LocalTarget(repoDir), PASSWORD);
        let last: { filesDone: number; filesTotal: number; bytesDone: number; bytesTotal: number } | undefined;
        try {
          const res = await backup(repo, { paths: [src, inner], cacheDir: nestedCache, onProgress: (p) => (last = p) });
          return { res, last: last! };
        } finally {
          await repo.close();
        }
      };
      let previousStart = wayStamp();
      await runNested();
      // Nothing is written but the snapshot, unless others changed a folder on the way (/tmp) since the
      // previous run's scan (which the cache holds): then its tree is new. Tried until quiet.
      let quiet = false;
      for (let attempt = 0; attempt < 5 && !quiet; attempt++) {
        const start = wayStamp();
        const before = { data: files(path.join(repoDir, 'data')).length, index: files(path.join(repoDir, 'index')).length };
        const { res, last } = await runNested();
        expect(res.snapshot.paths, inner).toEqual([src, inner].sort());
        expect(res.summary.total_files_processed, inner).toBe(all.length);
        expect(res.summary.files_new + res.summary.files_changed, inner).toBe(0);
        expect(res.summary.data_blobs, inner).toBe(0);
        expect(res.filesRead, inner).toBe(0);
        expect({ files: last.filesDone, bytes: last.bytesDone }, inner).toEqual({ files: last.filesTotal, bytes: last.bytesTotal });
        expect(last.filesTotal, inner).toBe(all.length);
        quiet = previousStart === start && wayStamp() === start;
        previousStart = start;
        if (!quiet) continue;
        expect(res.summary.tree_blobs, inner).toBe(0);
        expect({ data: files(path.join(repoDir, 'data')).length, index: files(path.join(repoDir, 'index')).length }, inner).toEqual(before);
      }
      expect(quiet, `the folders on the way to ${src} kept changing`).toBe(true);
    }
  });

  it('without a parent snapshot (all of them forgotten), what the cache supplies counts as new, as restic counts it', async () => {
    await run({ cache: true });
    const snapshots = path.join(repoDir, 'snapshots');
    const kept = readdirSync(snapshots).map((f) => [f, readFileSync(path.join(snapshots, f))] as const);
    for (const [f] of kept) rmSync(path.join(snapshots, f));
    try {
      const r = await run({ cache: true });
      expect(r.res.snapshot.parent).toBeUndefined();
      expect(r.res.filesRead).toBe(0);
      expect(r.res.summary.files_unmodified).toBe(0);
      expect(r.res.summary.dirs_unmodified).toBe(0);
      expect(r.res.summary.files_new).toBe(r.res.summary.total_files_processed);
    } finally {
      for (const [f, bytes] of kept) writeFileSync(path.join(snapshots, f), bytes);
    }
  });

  it('a change anywhere below a folder is seen, and the tree equals the one a run without the cache makes', async () => {
    const deep = path.join(src, 'docs', 'a', 'b', 'c', 'deep.md');
    const a = path.join(src, 'docs', 'a');
    // Each change, then what it touched (whose atimes are set ahead again), and the files the next run must read.
    const changes: [string, () => string[], number][] = [
      ['appended bytes', () => (appendFileSync(deep, 'more\n'), [deep]), 1],
      // Metadata alone: a new mtime, same size and bytes (read again, as restic would).
      ['a new mtime', () => (utimesSync(deep, new Date(), new Date('2021-03-04T05:06:07Z')), [deep]), 1],
      [
        'a new folder with a file',
        () => {
          mkdirSync(path.join(a, 'new'));
          writeFileSync(path.join(a, 'new', 'n.txt'), 'new');
          return [a, path.join(a, 'new'), path.join(a, 'new', 'n.txt')];
        },
        1,
      ],
      ['a mode change on a folder', () => (chmodSync(path.join(a, 'b'), 0o700), [path.join(a, 'b')]), 0],
    ];
    let previous = (await run({ cache: true })).tree;
    for (const [what, change, filesToRead] of changes) {
      for (const p of change()) freezeAtimes(p, false);
      const cached = await run({ cache: true });
      expect(cached.res.filesRead, what).toBe(filesToRead);
      expect(cached.tree, what).not.toBe(previous);
      const uncached = await run({ cache: false });
      expect(uncached.tree, what).toBe(cached.tree);
      // The cache now holds the changed branch too.
      const again = await run({ cache: true });
      expect(again.tree, what).toBe(cached.tree);
      expect(again.treesLoaded, what).toBeLessThanOrEqual(src.split(path.sep).filter(Boolean).length);
      previous = cached.tree;
    }
  });

  it('a tampered cache fails its MAC and is ignored; the run reads the parent trees and writes a good cache', async () => {
    const before = await run({ cache: true });
    const file = cacheFile();
    const bytes = readFileSync(file);
    // One bit of the sealed folder part (after the 4-byte length of that part).
    bytes[4 + 40]! ^= 0x01;
    writeFileSync(file, bytes);
    const tampered = await run({ cache: true });
    expect(tampered.treesLoaded).toBeGreaterThan(tampered.res.summary.dirs_unmodified);
    expect(tampered.tree).toBe(before.tree);
    expect(readFileSync(file).equals(bytes)).toBe(false);
    const after = await quietRun();
    expect(after.treesLoaded).toBe(0);
  });

  it('a tampered blob part, or one from another cache file, leaves every folder with blobs that fail each check', async () => {
    await run({ cache: true });
    const repo = await Repository.open(new LocalTarget(repoDir), PASSWORD);
    const cache = FolderCache.for(cacheDir, repo.config.id, os.hostname(), [src], [], []);
    const file = cacheFile();
    const good = readFileSync(file);
    const headEnd = 4 + good.readUInt32LE(0);
    const deepFolder = path.join(src, 'docs', 'a', 'b', 'c');
    const loaded = (await cache.load(repo.key))!;
    expect(everyBlob(loaded.folders.get(deepFolder)!, (id) => /^[0-9a-f]{64}$/.test(id))).toBe(true);
    expect(loaded.folders.get(deepFolder)!.blobs.length).toBeGreaterThan(0);

    // A flipped bit in the blob part: the folder part (trees and signatures) still opens, the blob lists do not.
    const flipped = Buffer.from(good);
    flipped[headEnd + 40]! ^= 0x01;
    writeFileSync(file, flipped);
    const afterFlip = (await cache.load(repo.key))!;
    expect(afterFlip.folders.get(deepFolder)!.tree).toBe(loaded.folders.get(deepFolder)!.tree);
    expect(everyBlob(afterFlip.folders.get(deepFolder)!, () => true)).toBe(false);

    // The blob part of another cache file sealed with the same key (here: this cache saved with one folder less).
    const fewer = new Map(loaded.folders);
    fewer.delete(path.join(src, 'big'));
    await cache.save(repo.key, fewer, loaded.indexFiles);
    const other = readFileSync(file);
    writeFileSync(file, Buffer.concat([good.subarray(0, headEnd), other.subarray(4 + other.readUInt32LE(0))]));
    const swapped = (await cache.load(repo.key))!;
    expect(swapped.folders.size).toBe(loaded.folders.size);
    for (const f of swapped.folders.values()) expect(everyBlob(f, () => true)).toBe(false);

    // With the index to check (a listed index file gone), no folder with such blobs is reused; the tree is still right.
    const state = new Map([...swapped.folders].map(([p, f]) => [p, { ...f }]));
    await cache.save(repo.key, state, [...loaded.indexFiles, '0'.repeat(64)]);
    await repo.close();
    const r = await run({ cache: true });
    expect(r.treesLoaded).toBeGreaterThan(r.res.summary.dirs_unmodified);
    expect(r.res.filesRead).toBe(0);
    expect((await run({ cache: false })).tree).toBe(r.tree);
  });

  it('a folder whose tree or blobs the index no longer has is not reused, nor any folder above it', async () => {
    await run({ cache: true });
    const repo = await Repository.open(new LocalTarget(repoDir), PASSWORD);
    const cache = FolderCache.for(cacheDir, repo.config.id, os.hostname(), [src], [], []);
    const loaded = await cache.load(repo.key);
    const state = loaded!.folders;
    expect(state.size).toBeGreaterThan(5);
    const docs = path.join(src, 'docs');
    const deepFolder = path.join(docs, 'a', 'b', 'c');
    // An unknown blob in one folder, an unknown tree in another.
    state.set(deepFolder, { ...state.get(deepFolder)!, blobs: state.get(deepFolder)!.blobs + '0'.repeat(64) });
    state.set(path.join(src, 'big'), { ...state.get(path.join(src, 'big'))!, tree: '1'.repeat(64) });
    // As if the cache had been confirmed against one more index file, which a prune has removed since: the index is checked.
    await cache.save(repo.key, state, [...loaded!.indexFiles, '0'.repeat(64)]);
    await repo.close();
    const r = await run({ cache: true });
    // src, docs, a, b, c and big come from the parent's trees (plus the folders on the way); the rest from the cache.
    const onTheWay = src.split(path.sep).filter(Boolean).length;
    expect(r.treesLoaded).toBeGreaterThanOrEqual(onTheWay + 6);
    expect(r.treesLoaded).toBeLessThan(onTheWay + 6 + 4);
    expect(r.res.filesRead).toBe(0);
    expect((await run({ cache: false })).tree).toBe(r.tree);
  });

  it("another repository's cache does not open with this key, and the snapshots pass restic's check", async () => {
    // A second repository with its own key, given the first one's cache file under its ID.
    const otherDir = path.join(s.dir, 'other');
    const other = await Repository.init(new LocalTarget(otherDir), PASSWORD);
    const mine = cacheFile();
    mkdirSync(path.join(cacheDir, other.config.id), { recursive: true });
    writeFileSync(path.join(cacheDir, other.config.id, path.basename(mine)), readFileSync(mine));
    const res = await backup(other, { paths: [src], cacheDir });
    expect(res.filesRead).toBeGreaterThan(5);
    await other.close();
    const { repo } = await openCounting();
    expect((await check(repo, { readData: true })).errors).toEqual([]);
    await repo.close();
    requireTool('restic', 'restic');
    const pw = path.join(s.dir, 'pw');
    writeFileSync(pw, PASSWORD);
    const r = restic(['-r', repoDir, 'check', '--read-data'], pw);
    expect(r.status, r.stderr).toBe(0);
  });

  it('never caches a folder that held an unreadable entry, nor the folders above it (the next run tries it again)', async () => {
    const scan = startSourceScan({ paths: [src] });
    await scan.done;
    scan.materializeAll();
    const sigs = new Map<DirEntry, string | undefined>();
    for (let i = scan.dirs.length - 1; i >= 0; i--) sigs.set(scan.dirs[i]!, folderSignature(scan.dirs[i]!, sigs));
    for (const d of scan.dirs) d.subtree = 'f'.repeat(64);
    const all = cacheableFolders(scan, sigs, new Map());
    // Every folder is cacheable when nothing failed, the virtual root and those on the way to the source included.
    expect([...all.keys()].sort()).toEqual(scan.dirs.map((d) => d.path).sort());
    expect(all.has(path.join(src, 'docs', 'a', 'b', 'c'))).toBe(true);
    expect(all.has(path.dirname(src))).toBe(true);

    // A file that could not be read, deep down: its folder and every one above it are left out; its siblings' stay.
    const deep = scan.files.find((f) => f.path === path.join(src, 'docs', 'a', 'b', 'c', 'deep.md'))!;
    deep.failed = true;
    const without = cacheableFolders(scan, sigs, new Map());
    for (const p of ['/', path.dirname(src), src, path.join(src, 'docs'), path.join(src, 'docs', 'a'), path.join(src, 'docs', 'a', 'b'), path.join(src, 'docs', 'a', 'b', 'c')]) {
      expect(without.has(p), p).toBe(false);
    }
    expect(without.has(path.join(src, 'big'))).toBe(true);
    deep.failed = false;

    // An entry the scan could not read (listed in errors) counts the same.
    scan.errors.push({ path: path.join(src, 'big', 'gone.bin'), message: 'EIO' });
    const withError = cacheableFolders(scan, sigs, new Map());
    expect(withError.has(path.join(src, 'big'))).toBe(false);
    expect(withError.has(src)).toBe(false);
    expect(withError.has(path.join(src, 'docs', 'a', 'b', 'c'))).toBe(true);
  });

  it('the CLI keeps it in LIFEBOAT_CACHE_DIR or --cache-dir, and --no-cache neither reads nor writes one', () => {
    const pw = path.join(s.dir, 'cli-pw');
    writeFileSync(pw, PASSWORD);
    const env = { LIFEBOAT_REPOSITORY: repoDir, LIFEBOAT_PASSWORD_FILE: pw };
    const fromEnv = path.join(s.dir, 'cli-cache-env');
    const fromFlag = path.join(s.dir, 'cli-cache-flag');
    const backupJson = (args: string[], cache: string) => {
      const r = lifeboat([...args, 'backup', '--json', src], { env: { ...env, LIFEBOAT_CACHE_DIR: cache } });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { files_read: number };
    };
    backupJson(['--no-cache'], fromEnv);
    expect(existsSync(fromEnv)).toBe(false);
    backupJson([], fromEnv);
    expect(readdirSync(path.join(fromEnv, readdirSync(fromEnv)[0]!))).toHaveLength(1);
    backupJson(['--cache-dir', fromFlag], fromEnv);
    expect(readdirSync(path.join(fromFlag, readdirSync(fromFlag)[0]!))).toHaveLength(1);
  });
});
