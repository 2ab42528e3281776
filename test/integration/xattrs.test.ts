/**
 * Extended attributes (what a Samba share keeps its Windows ACLs and DOS
 * attributes in, what SELinux labels are), on real files, a real local
 * repository and the real restic. Set and read back with Python's os.setxattr
 * / os.getxattr, not with Lifeboat's own code: Lifeboat records them as restic
 * does (the same tree IDs as restic's backup of the same folder), restic
 * restores Lifeboat's snapshot with them, and Lifeboat restores them, on small
 * files (written by a worker), a large one (written in parts) and folders.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { restore } from '../../main/engine/restore.js';
import type { Id } from '../../shared/repo/types.js';
import { restoreXattrs } from '../../workers/engine/xattrs.js';
import { treeOf } from '../helpers/snapshot-trees.js';
import { repositoryScratch } from '../helpers/repository-scratch.js';
import { ok, restic } from '../helpers/tools.js';

let s: ReturnType<typeof repositoryScratch>['s'];
let src: string;
let repoDir: string;
let init: () => Promise<void>;
let withRepository: ReturnType<typeof repositoryScratch>['withRepository'];

/** Runs a Python snippet with `args` as sys.argv[1:]; its stdout. */
function python(code: string, ...args: string[]): string {
  const r = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`python3 failed: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

/** Every extended attribute below `root` (symlinks left out), as { relative path: { name: hex value } }. */
function attributes(root: string): Record<string, Record<string, string>> {
  return JSON.parse(
    python(
      `import os, sys, json
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    for n in [''] + dirs + files if d == root else dirs + files:
        p = os.path.join(d, n) if n else d
        if os.path.islink(p): continue
        names = os.listxattr(p, follow_symlinks=False)
        if names: out[os.path.relpath(p, root)] = {k: os.getxattr(p, k, follow_symlinks=False).hex() for k in names}
print(json.dumps(out))`,
      root,
    ),
  ) as Record<string, Record<string, string>>;
}

beforeAll(async () => {
  ({ s, src, repoDir, init, withRepository } = repositoryScratch('python3'));
  mkdirSync(path.join(src, 'Finance'), { recursive: true });
  writeFileSync(path.join(src, 'Finance', 'budget.ods'), 'small, written by a worker');
  writeFileSync(path.join(src, 'plain.txt'), 'no attributes at all');
  // Larger than one restore task (8 MiB): created first, written in parts, its metadata set at the end.
  writeFileSync(path.join(src, 'archive.bin'), Buffer.alloc(20 * 1024 * 1024, 7));
  symlinkSync('Finance/budget.ods', path.join(src, 'link'));
  python(
    `import os, sys
src = sys.argv[1]
os.setxattr(os.path.join(src, 'Finance', 'budget.ods'), 'user.DOSATTRIB', bytes([0, 0, 2, 0, 4, 0, 0, 0, 0x20, 0xff]))
os.setxattr(os.path.join(src, 'Finance', 'budget.ods'), 'user.comment', 'Quarterly <budget> & "notes"'.encode())
os.setxattr(os.path.join(src, 'Finance', 'budget.ods'), 'user.empty', b'')
os.setxattr(os.path.join(src, 'Finance'), 'user.share', b'finance team')
os.setxattr(os.path.join(src, 'archive.bin'), 'user.checksum', bytes(range(256)))`,
    src,
  );
  await init();
}, 60_000);
afterAll(() => s?.dispose());

describe('extended attributes', () => {
  let lifeboatTree: Id;
  let lifeboatSnapshot: Id;

  it('are recorded in the tree, in the order the file system lists them, never for a symlink', async () => {
    const expected = attributes(src);
    expect(Object.keys(expected).sort()).toEqual(['Finance', 'Finance/budget.ods', 'archive.bin']);
    await withRepository(async (repo) => {
      const res = await backup(repo, { paths: [src] });
      expect(res.errors).toEqual([]);
      lifeboatSnapshot = res.snapshot.id;
      lifeboatTree = await treeOf(repo, res.snapshot.tree, src);
      const top = await repo.loadTree(lifeboatTree);
      const finance = await repo.loadTree(top.nodes.find((n) => n.name === 'Finance')!.subtree!);
      const hex = (n: { extended_attributes?: { name: string; value: string | null }[] } | undefined) =>
        Object.fromEntries((n?.extended_attributes ?? []).map((a) => [a.name, Buffer.from(a.value ?? '', 'base64').toString('hex')]));
      expect(hex(finance.nodes.find((n) => n.name === 'budget.ods'))).toEqual(expected['Finance/budget.ods']);
      expect(hex(top.nodes.find((n) => n.name === 'Finance'))).toEqual(expected['Finance']);
      expect(hex(top.nodes.find((n) => n.name === 'archive.bin'))).toEqual(expected['archive.bin']);
      expect(top.nodes.find((n) => n.name === 'link')!.extended_attributes).toBeUndefined();
      expect(top.nodes.find((n) => n.name === 'plain.txt')!.extended_attributes).toBeUndefined();
    });
  });

  it('one that cannot be set is reported by name, and the others are still set', () => {
    const file = path.join(s.dir, 'target-file');
    writeFileSync(file, 'x');
    // No such namespace: every file system refuses it.
    const failed = restoreXattrs(file, [
      { name: 'nonexistent-namespace.tag', value: Buffer.from('v').toString('base64') },
      { name: 'user.kept', value: Buffer.from('still set').toString('base64') },
    ]);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatch(/extended attribute E\w+: .*setxattr 'nonexistent-namespace\.tag'/);
    expect(attributes(s.dir)['target-file']).toEqual({ 'user.kept': Buffer.from('still set').toString('hex') });
  });

  it('restic restores them from a Lifeboat snapshot', () => {
    const target = path.join(s.dir, 'restic-restore');
    ok(restic(['-r', repoDir, 'restore', lifeboatSnapshot, '--target', target], s.passwordFile), 'restic restore');
    expect(attributes(path.join(target, src))).toEqual(attributes(src));
  });

  it("restic's backup of the same folder gives the same trees, and Lifeboat restores them from restic's snapshot too", async () => {
    const out = JSON.parse(ok(restic(['-r', repoDir, 'backup', '--json', src], s.passwordFile), 'restic backup').stdout.trim().split('\n').pop()!) as { snapshot_id: string };
    await withRepository(async (repo) => {
      const snap = await repo.findSnapshot(out.snapshot_id);
      expect(await treeOf(repo, snap.tree, src)).toBe(lifeboatTree);
      for (const [which, id] of [['lifeboat', lifeboatSnapshot], ['restic', snap.id]] as const) {
        const target = path.join(s.dir, `lifeboat-restore-${which}`);
        const res = await restore(repo, await repo.findSnapshot(id), { target });
        expect(res.errors, which).toEqual([]);
        expect(attributes(path.join(target, src)), which).toEqual(attributes(src));
        expect(readFileSync(path.join(target, src, 'archive.bin')).equals(readFileSync(path.join(src, 'archive.bin'))), which).toBe(true);
      }
    });
  });
});
