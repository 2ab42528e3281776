/**
 * Tree blobs written by the real restic binary (Debian's restic) decode with
 * shared/repo/tree.ts to the real names, modes and times, and re-encode to the
 * very same bytes (so the same blob ID). restic is required: without it this
 * suite fails, it does not skip.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, type BigIntStats } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoMode, goModeFromPosix, posixPermissionsFromGo } from '../../shared/repo/gomode.js';
import { decodeTree, encodeTree } from '../../shared/repo/tree.js';
import type { Tree, TreeNode } from '../../shared/repo/types.js';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { LocalTarget } from '../../main/engine/targets/local.js';

const PASSWORD = 'tree test password';
/** A zone with a negative, non-whole-hour offset, used by restic and by us alike. */
const ZONE = 'America/St_Johns';
const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

let tmp = '';
let repo = '';
let src = '';
let savedTZ: string | undefined;

function requireRestic(): void {
  const r = spawnSync('restic', ['version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error('the restic binary is required for test/integration/tree-restic.test.ts but was not found: install it with `apt-get install -y restic`');
  }
}

/** Runs restic on the test repository; returns stdout as raw bytes. */
function restic(args: string[]): Buffer {
  const env: NodeJS.ProcessEnv = { ...process.env, RESTIC_PASSWORD: PASSWORD, RESTIC_REPOSITORY: repo, TZ: ZONE };
  for (const v of ['RESTIC_REPOSITORY_FILE', 'RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND', 'RESTIC_KEY_HINT']) delete env[v];
  const r = spawnSync('restic', ['--no-cache', ...args], { env, cwd: tmp, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`restic ${args.join(' ')} exited ${r.status}:\n${r.stderr.toString()}\n${r.stdout.toString()}`);
  return r.stdout;
}

/** Source tree: file name → content; directories and special files are made below. */
const FILES: Record<string, string> = {
  'we"ird\\name': 'hello',
  'new\nline': 'x',
  'tab\tname': 'tab',
  'nb\u00a0space\u200bzw': 'unicode spaces',
  'emoji 😀 café': 'emoji',
  'ctrl\x01\x7fchars': 'controls',
  '<html>&amp;': 'html',
  empty: '',
};

/** Every tree reached from the snapshot, with restic's exact bytes. */
const trees = new Map<string, { bytes: Buffer; tree: Tree; path: string }>();
let rootTree: Tree;
let srcTree: Tree;

const node = (t: Tree, name: string): TreeNode => {
  const n = t.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`node ${JSON.stringify(name)} not found among ${JSON.stringify(t.nodes.map((x) => x.name))}`);
  return n;
};

beforeAll(() => {
  requireRestic();
  savedTZ = process.env.TZ;
  process.env.TZ = ZONE;
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-tree-restic-'));
  repo = path.join(tmp, 'repo');
  src = path.join(tmp, 'src');
  mkdirSync(src);
  for (const [name, content] of Object.entries(FILES)) writeFileSync(path.join(src, name), content);
  chmodSync(path.join(src, 'tab\tname'), 0o640);
  chmodSync(path.join(src, 'empty'), 0o4755);
  mkdirSync(path.join(src, 'sub'));
  writeFileSync(path.join(src, 'sub', 'a<b&c>'), 'abc');
  chmodSync(path.join(src, 'sub'), 0o750);
  mkdirSync(path.join(src, 'back\\slash "dir"'));
  writeFileSync(path.join(src, 'back\\slash "dir"', 'inner\nfile'), 'inner');
  symlinkSync('we"ird\\name', path.join(src, 'link'));
  const fifo = spawnSync('mkfifo', [path.join(src, 'pipe')]);
  if (fifo.status !== 0) throw new Error(`mkfifo failed: ${fifo.stderr.toString()}`);

  restic(['init']);
  restic(['backup', 'src']);
  const snaps = JSON.parse(restic(['snapshots', '--json']).toString('utf8')) as { id: string }[];
  expect(snaps).toHaveLength(1);
  const snap = JSON.parse(restic(['cat', 'snapshot', snaps[0]!.id]).toString('utf8')) as { tree: string };

  const walk = (id: string, at: string) => {
    const bytes = restic(['cat', 'blob', id]);
    const tree = decodeTree(bytes.toString('utf8'));
    trees.set(id, { bytes, tree, path: at });
    for (const n of tree.nodes) if (n.type === 'dir') walk(n.subtree!, path.join(at, n.name));
  };
  walk(snap.tree, '/');
  rootTree = trees.get(snap.tree)!.tree;
  // `restic backup src` (relative) makes src the only node of the root tree.
  expect(rootTree.nodes.map((n) => n.name)).toEqual(['src']);
  srcTree = trees.get(node(rootTree, 'src').subtree!)!.tree;
}, 120_000);

afterAll(() => {
  if (savedTZ === undefined) delete process.env.TZ;
  else process.env.TZ = savedTZ;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('trees written by restic', () => {
  it('are the blobs their IDs name', () => {
    expect(trees.size).toBeGreaterThanOrEqual(3);
    for (const [id, t] of trees) expect(sha256(t.bytes), t.path).toBe(id);
  });

  it('decode to the real file names', () => {
    expect(srcTree.nodes.map((n) => n.name).sort()).toEqual(
      [...Object.keys(FILES), 'sub', 'back\\slash "dir"', 'link', 'pipe'].sort(),
    );
    // restic stores names Go-quoted: the raw JSON differs from the real name
    const raw = [...trees.values()].map((t) => t.bytes.toString('utf8')).join('');
    expect(raw).toContain(String.raw`"name":"we\\\"ird\\\\name"`);
    expect(raw).toContain(String.raw`"name":"new\\nline"`);
    expect(raw).toContain(String.raw`"name":"nb\\u00a0space\\u200bzw"`);
    expect(raw).toContain(String.raw`"name":"ctrl\\x01\\x7fchars"`);
    expect(raw).toContain(String.raw`"name":"\u003chtml\u003e\u0026amp;"`);
    const sub = trees.get(node(srcTree, 'sub').subtree!)!.tree;
    expect(sub.nodes.map((n) => n.name)).toEqual(['a<b&c>']);
    const odd = trees.get(node(srcTree, 'back\\slash "dir"').subtree!)!.tree;
    expect(odd.nodes.map((n) => n.name)).toEqual(['inner\nfile']);
  });

  it('decode types, modes, sizes, owners, times and link targets as on disk', () => {
    for (const n of srcTree.nodes) {
      const st = lstatSync(path.join(src, n.name), { bigint: true }) as BigIntStats;
      expect(n.mode, n.name).toBe(goModeFromPosix(Number(st.mode)));
      expect(n.uid, n.name).toBe(Number(st.uid));
      expect(n.gid, n.name).toBe(Number(st.gid));
      expect(n.mtime, n.name).toBe(st.mtimeNs);
      expect(n.ctime, n.name).toBe(st.ctimeNs);
      expect(n.inode, n.name).toBe(Number(st.ino));
      if (n.type === 'file') {
        expect(n.size ?? 0, n.name).toBe(Number(st.size));
        expect(n.content, n.name).toHaveLength(st.size > 0n ? 1 : 0);
        if (st.size > 0n) expect(n.content![0], n.name).toBe(sha256(FILES[n.name]!));
      } else {
        expect(n.content, n.name).toBeNull();
      }
    }
    expect(node(srcTree, 'tab\tname').mode).toBe(0o640);
    expect(node(srcTree, 'empty').mode).toBe(GoMode.Setuid + 0o755);
    expect(posixPermissionsFromGo(node(srcTree, 'empty').mode)).toBe(0o4755);
    expect(node(srcTree, 'sub').type).toBe('dir');
    expect(node(srcTree, 'sub').mode).toBe(GoMode.Dir + 0o750);
    expect(node(srcTree, 'link').type).toBe('symlink');
    expect(node(srcTree, 'link').linktarget).toBe('we"ird\\name');
    expect(node(srcTree, 'link').mode).toBe(134218239);
    expect(node(srcTree, 'pipe').type).toBe('fifo');
    expect(node(srcTree, 'pipe').mode).toBe(GoMode.NamedPipe + posixPermissionsFromGo(node(srcTree, 'pipe').mode));
  });

  it('carry times in the local zone, as we write them', () => {
    const text = trees.get([...trees.keys()][0]!)!.bytes.toString('utf8');
    // America/St_Johns is UTC-03:30 (standard) or UTC-02:30 (daylight saving)
    expect(text).toMatch(/"mtime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?-0[23]:30"/);
  });

  it("are what Lifeboat's own backup of the same folder writes: the same tree IDs, all the way down", async () => {
    const repository = await Repository.open(new LocalTarget(repo), PASSWORD);
    try {
      const res = await backup(repository, { paths: [src] });
      expect(res.errors).toEqual([]);
      let tree = res.snapshot.tree;
      for (const name of src.split(path.sep).filter(Boolean)) tree = (await repository.loadTree(tree)).nodes.find((n) => n.name === name)!.subtree!;
      const ours = new Map<string, string>();
      const walk = async (id: string, at: string) => {
        ours.set(at, id);
        for (const n of (await repository.loadTree(id)).nodes) if (n.type === 'dir') await walk(n.subtree!, path.join(at, n.name));
      };
      await walk(tree, '/src');
      const theirs = new Map([...trees].filter(([, t]) => t.path !== '/').map(([id, t]) => [t.path, id]));
      expect(Object.fromEntries(ours)).toEqual(Object.fromEntries(theirs));
    } finally {
      await repository.close();
    }
  });

  it('re-encode byte for byte, so our tree IDs match restic', () => {
    for (const [id, t] of trees) {
      const again = encodeTree(t.tree);
      expect(again, t.path).toBe(t.bytes.toString('utf8'));
      expect(sha256(again), t.path).toBe(id);
    }
  });
});
