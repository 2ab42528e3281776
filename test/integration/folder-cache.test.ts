/**
 * The folder cache, on real files, a real local repository and real worker
 * threads: an unchanged re-run takes its trees from the cache instead of the
 * parent's, and gives exactly the tree a run without the cache gives;
 * a change anywhere below a folder, a tampered cache, or a tree the index no
 * longer has, all fall back to the parent's trees.
 */
import { appendFileSync, chmodSync, existsSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup, startSourceScan } from '../../main/engine/backup.js';
import { cacheableFolders, FolderCache, folderSignature } from '../../main/engine/folder-cache.js';
import type { DirEntry } from '../../main/engine/source-scan.js';
import { check } from '../../main/engine/check.js';
import { Repository } from '../../main/engine/repository.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { lifeboat, requireTool, restic, scratch } from '../helpers/tools.js';

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
  s = scratch();
  src = path.join(s.dir, 'src');
  repoDir = path.join(s.dir, 'repo');
  cacheDir = path.join(s.dir, 'cache');
  makeSourceTree(src);
  freezeAtimes(src);
  mkdirSync(cacheDir); // before the first run: the folders on the way to the source must not change between runs
  await Repository.init(new LocalTarget(repoDir), PASSWORD);
});
afterAll(() => s?.dispose());

/** Opens the repository and counts the trees read from it. */
async function openCounting(): Promise<{ repo: Repository; treesLoaded: () => number }> {
  const repo = await Repository.open(new LocalTarget(repoDir), PASSWORD);
  let n = 0;
  const load = repo.loadTree.bind(repo);
  repo.loadTree = (id) => {
    n++;
    return load(id);
  };
  return { repo, treesLoaded: () => n };
}

/**
 * One backup of `src`. `tree` is the source folder's own tree: the snapshot's root tree
 * also records the folders on the way (/tmp among them), which other processes change.
 */
async function run(opts: { cache: boolean }) {
  const { repo, treesLoaded } = await openCounting();
  try {
    const res = await backup(repo, { paths: [src], ...(opts.cache ? { cacheDir } : {}) });
    const loaded = treesLoaded();
    let tree = res.snapshot.tree;
    for (const name of src.split(path.sep).filter(Boolean)) {
      const node = (await repo.loadTree(tree)).nodes.find((n) => n.name === name);
      if (!node?.subtree) throw new Error(`no folder ${name} on the way to ${src} in the snapshot`);
      tree = node.subtree;
    }
    return { res, tree, treesLoaded: loaded };
  } finally {
    await repo.close();
  }
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

    const cached = await run({ cache: true });
    expect(cached.res.filesRead).toBe(0);
    // Only the folders on the way to the source (not listed by a scan) come from the parent's trees.
    const onTheWay = src.split(path.sep).filter(Boolean).length;
    expect(cached.treesLoaded).toBeLessThanOrEqual(onTheWay);

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
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(file, bytes);
    const tampered = await run({ cache: true });
    expect(tampered.treesLoaded).toBeGreaterThan(tampered.res.summary.dirs_unmodified);
    expect(tampered.tree).toBe(before.tree);
    expect(readFileSync(file).equals(bytes)).toBe(false);
    const after = await run({ cache: true });
    expect(after.treesLoaded).toBeLessThanOrEqual(src.split(path.sep).filter(Boolean).length);
  });

  it('a folder whose tree or blobs the index no longer has is not reused, nor any folder above it', async () => {
    await run({ cache: true });
    const repo = await Repository.open(new LocalTarget(repoDir), PASSWORD);
    const cache = FolderCache.for(cacheDir, repo.config.id, os.hostname(), [src], [], []);
    const state = await cache.load(repo.key);
    expect(state?.size).toBeGreaterThan(5);
    const docs = path.join(src, 'docs');
    const deepFolder = path.join(docs, 'a', 'b', 'c');
    // An unknown blob in one folder, an unknown tree in another.
    state!.set(deepFolder, { ...state!.get(deepFolder)!, blobs: state!.get(deepFolder)!.blobs + '0'.repeat(64) });
    state!.set(path.join(src, 'big'), { ...state!.get(path.join(src, 'big'))!, tree: '1'.repeat(64) });
    await cache.save(repo.key, state!);
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
    const sigs = new Map<DirEntry, string | undefined>();
    for (let i = scan.dirs.length - 1; i >= 0; i--) sigs.set(scan.dirs[i]!, folderSignature(scan.dirs[i]!, sigs));
    for (const d of scan.dirs) d.subtree = 'f'.repeat(64);
    const all = cacheableFolders(scan, sigs, new Map());
    // Every listed folder is cacheable when nothing failed; those on the way to the source were not listed.
    const listed = scan.dirs.filter((d) => d.listingDigest).map((d) => d.path).sort();
    expect([...all.keys()].sort()).toEqual(listed);
    expect(listed).toContain(path.join(src, 'docs', 'a', 'b', 'c'));

    // A file that could not be read, deep down: its folder and every one above it are left out; its siblings' stay.
    const deep = scan.files.find((f) => f.path === path.join(src, 'docs', 'a', 'b', 'c', 'deep.md'))!;
    deep.failed = true;
    const without = cacheableFolders(scan, sigs, new Map());
    for (const p of [src, path.join(src, 'docs'), path.join(src, 'docs', 'a'), path.join(src, 'docs', 'a', 'b'), path.join(src, 'docs', 'a', 'b', 'c')]) {
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
