/**
 * The repository format judged by a program we did not write: Debian's
 * restic reads, checks and restores what Lifeboat wrote, and Lifeboat reads
 * what restic wrote.
 */
import { appendFileSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSourceTree, pseudoRandom } from '../fixtures/source-tree.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { lifeboat, ok, requireTool, restic, scratch } from '../helpers/tools.js';
import { flipByte, packFilesLargestFirst } from '../helpers/repo-damage.js';

let s: ReturnType<typeof scratch>;
let src: string;

beforeAll(() => {
  requireTool('restic');
  s = scratch();
  src = path.join(s.dir, 'src');
  makeSourceTree(src);
});
afterAll(() => s?.dispose());

/** Content blob IDs of the file at snapshot path `filePath`, read with restic itself. */
function resticContent(repo: string, snapshot: string, filePath: string): string[] {
  const snap = JSON.parse(ok(restic(['-r', repo, 'cat', 'snapshot', snapshot], s.passwordFile), 'restic cat snapshot').stdout) as { tree: string };
  let tree = snap.tree;
  const parts = filePath.split('/').filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const t = JSON.parse(ok(restic(['-r', repo, 'cat', 'blob', tree], s.passwordFile), 'restic cat blob').stdout) as {
      nodes: { name: string; subtree?: string; content?: string[] }[];
    };
    const node = t.nodes.find((n) => n.name === parts[i]);
    if (!node) throw new Error(`restic: ${parts[i]} not found in tree ${tree}`);
    if (i === parts.length - 1) return node.content ?? [];
    tree = node.subtree!;
  }
  return [];
}

describe('a repository Lifeboat wrote', () => {
  let repo: string;
  let snapshotId: string;

  beforeAll(() => {
    repo = path.join(s.dir, 'lb-repo');
    const env = { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    ok(lifeboat(['init'], { env }), 'lifeboat init');
    const r = ok(lifeboat(['backup', src, '--tag', 'interop', '--json'], { env }), 'lifeboat backup');
    snapshotId = (JSON.parse(r.stdout) as { snapshot_id: string }).snapshot_id;
  });

  it('passes restic check --read-data', () => {
    const r = restic(['-r', repo, 'check', '--read-data'], s.passwordFile);
    expect(r.stderr + r.stdout).toContain('no errors were found');
    expect(r.status).toBe(0);
  });

  it('is listed by restic with our tags and paths', () => {
    const snaps = JSON.parse(ok(restic(['-r', repo, 'snapshots', '--json'], s.passwordFile), 'restic snapshots').stdout) as {
      id: string; tags: string[]; paths: string[];
    }[];
    expect(snaps.map((x) => x.id)).toEqual([snapshotId]);
    expect(snaps[0]!.tags).toEqual(['interop']);
    expect(snaps[0]!.paths).toEqual([src]);
  });

  it('is restored by restic byte for byte, with modes, mtimes and symlinks', () => {
    const target = path.join(s.dir, 'restic-restore');
    ok(restic(['-r', repo, 'restore', snapshotId, '--target', target], s.passwordFile), 'restic restore');
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });

  it('is restored by Lifeboat byte for byte, with modes, mtimes and symlinks', () => {
    const target = path.join(s.dir, 'lb-restore');
    ok(lifeboat(['restore', 'latest', '--target', target], { env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile } }), 'lifeboat restore');
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });

  it('restores only the included path', () => {
    const target = path.join(s.dir, 'lb-restore-include');
    const env = { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    ok(lifeboat(['restore', snapshotId.slice(0, 8), '--target', target, '--include', path.join(src, 'docs')], { env }), 'lifeboat restore --include');
    const restored = describeTree(path.join(target, src));
    expect([...restored.keys()].filter((p) => !p.startsWith('docs'))).toEqual([]);
    expect(restored.get(path.join('docs', 'script.sh'))?.mode).toBe(0o755);
    expect(restored.has(path.join('docs', 'a', 'b', 'c', 'deep.md'))).toBe(true);
  });
});

describe('a repository restic wrote', () => {
  let repo: string;

  beforeAll(() => {
    repo = path.join(s.dir, 'restic-repo');
    ok(restic(['-r', repo, 'init'], s.passwordFile), 'restic init');
    ok(restic(['-r', repo, 'backup', src], s.passwordFile), 'restic backup');
  });

  it('is restored by Lifeboat byte for byte', () => {
    const target = path.join(s.dir, 'lb-from-restic');
    ok(lifeboat(['restore', 'latest', '--target', target], { env: { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile } }), 'lifeboat restore');
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });

  it('accepts Lifeboat backups that restic then checks and restores', () => {
    const env = { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    appendFileSync(path.join(src, 'big/text.txt'), 'one more line\n');
    writeFileSync(path.join(src, 'docs/new-file.txt'), 'added after the restic backup');
    const r = JSON.parse(ok(lifeboat(['backup', src, '--json'], { env }), 'lifeboat backup').stdout) as { snapshot_id: string; parent: string | null; files_unmodified: number };
    // restic's snapshot is the parent: unchanged files were not read again.
    expect(r.parent).not.toBeNull();
    expect(r.files_unmodified).toBeGreaterThan(5);
    const c = restic(['-r', repo, 'check', '--read-data'], s.passwordFile);
    expect(c.stderr + c.stdout).toContain('no errors were found');
    const target = path.join(s.dir, 'restic-from-lb');
    ok(restic(['-r', repo, 'restore', r.snapshot_id, '--target', target], s.passwordFile), 'restic restore');
    expect(diffTrees(describeTree(src), describeTree(path.join(target, src)))).toEqual([]);
  });

  it('gives the same data blob IDs for the same file as restic', () => {
    const file = path.join(s.dir, 'same', 'file.bin');
    // Several chunks of pseudo-random data plus a compressible tail.
    const data = Buffer.concat([pseudoRandom('same-file', 16 * 1024 * 1024), Buffer.alloc(2 * 1024 * 1024, 7)]);
    const dir = path.dirname(file);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, data);
    const rs = JSON.parse(ok(restic(['-r', repo, 'backup', '--json', dir], s.passwordFile), 'restic backup').stdout.trim().split('\n').pop()!) as { snapshot_id: string };
    const env = { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    const lb = JSON.parse(ok(lifeboat(['backup', '--force', '--parent', rs.snapshot_id, dir, '--json'], { env }), 'lifeboat backup').stdout) as { snapshot_id: string; data_blobs: number };
    const fromRestic = resticContent(repo, rs.snapshot_id, file);
    const fromLifeboat = resticContent(repo, lb.snapshot_id, file);
    // Cut points depend on the repository's random polynomial: 16 MiB of random data has about 15
    // (fewer than 2 would take two 7.5 MiB gaps between cut points, each about e^-7 likely).
    expect(fromRestic.length).toBeGreaterThanOrEqual(3);
    expect(fromLifeboat).toEqual(fromRestic);
    // Every blob was already there: Lifeboat re-read the file (--force) but stored no data.
    expect(lb.data_blobs).toBe(0);
  });
});

describe('lifeboat check --read-data', () => {
  it('fails on one corrupted byte and names the damaged pack', () => {
    const repo = path.join(s.dir, 'corrupt-repo');
    const env = { LIFEBOAT_REPOSITORY: repo, LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    ok(lifeboat(['init'], { env }), 'init');
    ok(lifeboat(['backup', path.join(src, 'big')], { env }), 'backup');
    ok(lifeboat(['check', '--read-data'], { env }), 'check before corruption');
    // The largest pack holds file data; flip one byte in its middle.
    const victim = packFilesLargestFirst(repo)[0]!;
    flipByte(victim, Math.floor(statSync(victim).size / 2), 0x01);
    const r = lifeboat(['check', '--read-data'], { env });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain(`pack ${path.basename(victim)}`);
    expect(r.stdout).toMatch(/errors found/);
    // restic agrees that the repository is damaged.
    expect(restic(['-r', repo, 'check', '--read-data'], s.passwordFile).status).not.toBe(0);
  });
});
