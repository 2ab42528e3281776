/** The native folder scan (native/src/scan.c) against node:fs on real files: same entries, same lstat fields, same symlink targets. */
import { lstatSync, mkdirSync, readdirSync, readlinkSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSourceScan } from '../../main/engine/backup.js';
import { loadNative } from '../../workers/crypto/native.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let root: string;

beforeAll(() => {
  s = scratch();
  root = path.join(s.dir, 'src');
  makeSourceTree(root);
  symlinkSync('/nonexistent/target with spaces', path.join(root, 'dangling'));
  mkdirSync(path.join(root, 'many'));
  for (let i = 0; i < 300; i++) writeFileSync(path.join(root, 'many', `f${i}`), String(i));
});
afterAll(() => s?.dispose());

describe('scanDir', () => {
  const scanDir = () => {
    const fn = loadNative().scanDir;
    if (!fn) throw new Error('the native addon has no scanDir: rebuild it with `npm run build:native`');
    return fn;
  };

  it('lists every entry with the lstat fields and symlink targets node:fs gives', async () => {
    for (const dir of [root, path.join(root, 'many'), path.join(root, 'docs')]) {
      const r = await scanDir()(dir);
      expect(r.errno).toBeUndefined();
      const names = r.names!.split('\0');
      expect([...names].sort()).toEqual(readdirSync(dir).sort());
      names.forEach((name, i) => {
        const st = lstatSync(path.join(dir, name), { bigint: true });
        const f = r.stats!.subarray(i * 14, i * 14 + 14);
        expect(f[0], name).toBe(0n);
        expect(f[13], name).toBe(0n); // extended attributes read (there are none)
        expect(r.xattrs, name).toBeUndefined(); // no entry here has any
        expect([f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]], name).toEqual([st.mode, st.uid, st.gid, st.ino, st.dev, st.nlink, st.size, st.rdev]);
        // Reading a symlink's target (after its lstat) may move its atime.
        expect([st.isSymbolicLink() ? st.atimeNs : f[9], f[10], f[11]], name).toEqual([st.atimeNs, st.mtimeNs, st.ctimeNs]);
        expect(r.links![i], name).toBe(st.isSymbolicLink() ? readlinkSync(path.join(dir, name)) : undefined);
      });
    }
  });

  it('gives the errno of a folder it cannot read, and refuses a symlink to a folder', async () => {
    expect(await scanDir()(path.join(root, 'no such folder'))).toEqual({ errno: os.constants.errno.ENOENT });
    symlinkSync(path.join(root, 'docs'), path.join(s.dir, 'link-to-docs'));
    // O_NOFOLLOW | O_DIRECTORY: ENOTDIR on Linux, ELOOP elsewhere; never the folder it points to.
    expect([os.constants.errno.ENOTDIR, os.constants.errno.ELOOP]).toContain((await scanDir()(path.join(s.dir, 'link-to-docs'))).errno);
  });
});

describe('SourceScan', () => {
  it('finds every file, folder and symlink under the sources, with nodes from their lstat', async () => {
    const scan = startSourceScan({ paths: [root] });
    await scan.done;
    scan.materializeAll();
    expect(scan.errors).toEqual([]);
    const walked: string[] = [];
    const walk = (d: string) => {
      for (const name of readdirSync(d)) {
        const p = path.join(d, name);
        const st = lstatSync(p);
        if (st.isFile()) walked.push(p);
        if (st.isDirectory()) walk(p);
      }
    };
    walk(root);
    expect(scan.files.map((f) => f.path).sort()).toEqual(walked.sort());
    const big = scan.files.find((f) => f.path.endsWith('random.bin'))!;
    const st = lstatSync(big.path, { bigint: true });
    expect(big.node.mtime).toBe(st.mtimeNs);
    expect(big.node.size).toBe(Number(st.size));
    const rootDir = scan.dirs.find((d) => d.path === root)!;
    const dangling = rootDir.children.get('dangling')!;
    expect(dangling.node!.linktarget).toBe('/nonexistent/target with spaces');
    expect(rootDir.listingDigest?.length).toBe(32);
  });

  it('counts files and bytes as folders are read, before any file entry is made, with excludes and includes applied', async () => {
    // A sparse file past 4 GiB: its size comes from both halves of the 64-bit field.
    const huge = path.join(root, 'many', 'huge.img');
    writeFileSync(huge, '');
    truncateSync(huge, 5 * 2 ** 30 + 3);
    try {
      const cases: { excludes?: string[]; includes?: string[] }[] = [{}, { excludes: ['*.md', 'many/f1*'] }, { includes: ['*.bin', '*.img'] }];
      for (const opts of cases) {
        const scan = startSourceScan({ paths: [root], ...opts });
        await scan.done;
        const what = JSON.stringify(opts);
        const counted = { files: scan.filesFound, bytes: scan.bytesFound };
        expect(scan.files, what).toEqual([]);
        const perDir = new Map(scan.dirs.map((d) => [d, { files: d.fileCount, bytes: d.fileBytes }]));
        scan.materializeAll();
        // Materializing adds the entries counted, and counts nothing twice.
        expect({ files: scan.filesFound, bytes: scan.bytesFound }, what).toEqual(counted);
        expect({ files: scan.files.length, bytes: scan.files.reduce((n, f) => n + f.size, 0) }, what).toEqual(counted);
        for (const [d, c] of perDir) {
          const files = [...d.children.values()].filter((e) => e.kind === 'file');
          expect({ files: files.length, bytes: files.reduce((n, f) => n + (f.kind === 'file' ? f.size : 0), 0) }, d.path).toEqual(c);
        }
        if (!opts.excludes && (!opts.includes || opts.includes.includes('*.img'))) expect(scan.files.find((f) => f.path === huge)?.size, what).toBe(5 * 2 ** 30 + 3);
        if (opts.excludes) expect(scan.files.some((f) => f.path.endsWith('.md') || f.path.includes(`${path.sep}f1`)), what).toBe(false);
        if (opts.includes) expect(scan.files.every((f) => /\.(bin|img)$/.test(f.path)), what).toBe(true);
        expect(counted.files, what).toBeGreaterThan(0);
      }
    } finally {
      rmSync(huge);
    }
  });
});
