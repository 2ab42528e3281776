/**
 * File names that are not UTF-8 (a share still holding Latin-1 names), on real
 * files, a real local repository and the real restic: Lifeboat backs them up
 * (none is reported unreadable, two names differing only in such a byte stay
 * two files), records them as restic does (the folder's tree gets the very ID
 * restic's backup of it gets), and both tools restore them byte for byte,
 * whichever of the two made the snapshot.
 */
import { lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync, lstatSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { restore } from '../../main/engine/restore.js';
import type { Id } from '../../shared/repo/types.js';
import { treeOf } from '../helpers/snapshot-trees.js';
import { repositoryScratch } from '../helpers/repository-scratch.js';
import { ok, restic } from '../helpers/tools.js';

let s: ReturnType<typeof repositoryScratch>['s'];
let src: string;
let repoDir: string;
let init: () => Promise<void>;
let withRepository: ReturnType<typeof repositoryScratch>['withRepository'];

/** A path below `base` whose last parts are raw bytes (Latin-1 here), as a Buffer node:fs takes as it is. */
const raw = (base: string, ...parts: Buffer[]): Buffer => Buffer.concat([Buffer.from(base + '/'), ...parts.flatMap((p, i) => (i > 0 ? [Buffer.from('/'), p] : [p]))]);
const latin1 = (s: string) => Buffer.from(s, 'latin1');

/** Every file below `dir` (raw names, as hex of the path below it) with its bytes. */
function listing(dir: Buffer | string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: Buffer, rel: Buffer) => {
    for (const name of readdirSync(d, { encoding: 'buffer' })) {
      const full = Buffer.concat([d, Buffer.from('/'), name]);
      const r = rel.length ? Buffer.concat([rel, Buffer.from('/'), name]) : name;
      if (lstatSync(full).isDirectory()) walk(full, r);
      else out[r.toString('hex')] = readFileSync(full).toString('utf8');
    }
  };
  walk(Buffer.isBuffer(dir) ? dir : Buffer.from(dir), Buffer.alloc(0));
  return out;
}

/** Sets every access time below `root` a day ahead: reading a file or folder then leaves it as it is (relatime), so both tools see the same nodes. */
function freezeAtimes(root: Buffer): void {
  const ahead = new Date(Date.now() + 86_400_000);
  const visit = (p: Buffer) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) lutimesSync(p, ahead, st.mtime);
    else utimesSync(p, ahead, st.mtime);
    if (st.isDirectory()) for (const name of readdirSync(p, { encoding: 'buffer' })) visit(Buffer.concat([p, Buffer.from('/'), name]));
  };
  visit(root);
}

beforeAll(async () => {
  ({ s, src, repoDir, init, withRepository } = repositoryScratch());
  writeFileSync(raw(src, latin1('bad\xffname.txt')), 'the one with FF');
  writeFileSync(raw(src, latin1('bad\xfename.txt')), 'the one with FE');
  writeFileSync(raw(src, latin1('caf\xe9 menu')), 'Latin-1 e acute');
  writeFileSync(path.join(src, 'café menu'), 'UTF-8 e acute');
  mkdirSync(raw(src, latin1('R\xe9sum\xe9s')));
  writeFileSync(raw(src, latin1('R\xe9sum\xe9s'), latin1('\xe9t\xe9 2026.txt')), 'nested, both names Latin-1');
  // A cut-off UTF-8 sequence then plain text, and a stray continuation byte.
  writeFileSync(raw(src, Buffer.from([0xe2, 0x82, 0x61])), 'cut off');
  writeFileSync(raw(src, Buffer.from([0x80, 0x41])), 'stray');
  // A name that starts with U+FEFF, beside the same name without it: two files.
  writeFileSync(path.join(src, '\ufeffbom'), 'with the mark');
  writeFileSync(path.join(src, 'bom'), 'without it');
  freezeAtimes(Buffer.from(src));
  await init();
}, 60_000);
afterAll(() => s?.dispose());

describe('names that are not UTF-8', () => {
  let lifeboatTree: Id;
  let lifeboatSnapshot: Id;

  it('are backed up, none unreadable and none merged with another', async () => {
    await withRepository(async (repo) => {
      const res = await backup(repo, { paths: [src] });
      expect(res.errors).toEqual([]);
      expect(res.partial).toBe(false);
      expect(res.summary.files_new).toBe(Object.keys(listing(src)).length);
      lifeboatSnapshot = res.snapshot.id;
      lifeboatTree = await treeOf(repo, res.snapshot.tree, src);
    });
  });

  it('restic restores them byte for byte, and its check passes', () => {
    const target = path.join(s.dir, 'restic-restore');
    ok(restic(['-r', repoDir, 'restore', lifeboatSnapshot, '--target', target], s.passwordFile), 'restic restore');
    expect(listing(path.join(target, src))).toEqual(listing(src));
    ok(restic(['-r', repoDir, 'check', '--read-data'], s.passwordFile), 'restic check');
  });

  it("restic's backup of the same folder gives the same tree, and Lifeboat restores restic's snapshot byte for byte", async () => {
    const out = JSON.parse(ok(restic(['-r', repoDir, 'backup', '--json', src], s.passwordFile), 'restic backup').stdout.trim().split('\n').pop()!) as { snapshot_id: string };
    await withRepository(async (repo) => {
      const snap = await repo.findSnapshot(out.snapshot_id);
      expect(await treeOf(repo, snap.tree, src)).toBe(lifeboatTree);
      const target = path.join(s.dir, 'lifeboat-restore');
      const res = await restore(repo, snap, { target });
      expect(res.errors).toEqual([]);
      expect(listing(path.join(target, src))).toEqual(listing(src));
    });
  });
});

describe('a symlink whose target is not UTF-8', () => {
  it('keeps its target byte for byte (linktarget_raw, as restic 0.17 and later write it), and restic still checks the repository', async () => {
    const dir = path.join(s.dir, 'links');
    mkdirSync(dir);
    writeFileSync(raw(dir, latin1('caf\xe9')), 'pointed at');
    const target = latin1('caf\xe9');
    symlinkSync(target, path.join(dir, 'to-cafe'));
    await withRepository(async (repo) => {
      const res = await backup(repo, { paths: [dir] });
      expect(res.errors).toEqual([]);
      const tree = await repo.loadTree(await treeOf(repo, res.snapshot.tree, dir));
      const link = tree.nodes.find((n) => n.name === 'to-cafe')!;
      expect(link.linktarget).toBe('caf\udce9');
      const out = path.join(s.dir, 'links-restore');
      expect((await restore(repo, res.snapshot, { target: out })).errors).toEqual([]);
      expect(readlinkSync(path.join(out, dir, 'to-cafe'), { encoding: 'buffer' }).equals(target)).toBe(true);
      expect(readFileSync(path.join(out, dir, 'to-cafe'), 'utf8')).toBe('pointed at');
    });
    ok(restic(['-r', repoDir, 'check', '--read-data'], s.passwordFile), 'restic check');
  });
});
