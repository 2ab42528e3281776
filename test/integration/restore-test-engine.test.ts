/** The restore-test engine on real files, real worker threads and a real local repository made by our backup. */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationProgress } from '../../shared/progress.js';
import type { Snapshot } from '../../shared/repo/types.js';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { restoreTest } from '../../main/engine/restore-test.js';
import { walkTree } from '../../main/engine/snapshot-walk.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { scratch } from '../helpers/tools.js';
import { flipByte } from '../helpers/repo-damage.js';

let s: ReturnType<typeof scratch>;
let src: string;
let snapshot: Snapshot;
const PASSWORD = 'restore test password';
const open = (dir = 'repo') => Repository.open(new LocalTarget(path.join(s.dir, dir)), PASSWORD);

beforeAll(async () => {
  s = scratch();
  src = path.join(s.dir, 'src');
  makeSourceTree(src);
  await Repository.init(new LocalTarget(path.join(s.dir, 'repo')), PASSWORD);
  const repo = await open();
  snapshot = (await backup(repo, { paths: [src], workers: 2 })).snapshot;
  await repo.close();
}, 60_000);
afterAll(() => s?.dispose());

describe('restoreTest', () => {
  it('passes on a good repository: every file restored, verified against its content hashes and the unchanged source, sandbox removed', async () => {
    const repo = await open();
    const events: OperationProgress[] = [];
    const r = await restoreTest(repo, snapshot, { scope: { kind: 'full' }, workers: 2, sandboxParent: path.join(s.dir, 'sandboxes'), targetRtoMinutes: 60, onProgress: (p) => events.push(p) });
    await repo.close();
    expect(r.failures).toEqual([]);
    expect(r.passed).toBe(true);
    expect(r.mismatches).toEqual([]);
    expect(r.notRestored).toEqual([]);
    expect(r.filesPlanned).toBe(12);
    expect(r.filesVerified).toBe(12);
    expect(r.filesComparedWithSource).toBe(12);
    expect(r.bytesRestored).toBe(r.bytesPlanned);
    expect(r.rtoMet).toBe(true);
    expect(r.snapshotId).toBe(snapshot.id);
    expect(existsSync(r.sandboxPath)).toBe(false);
    const phases = events.map((e) => e.phase).filter((p, i, a) => a[i - 1] !== p);
    expect(phases).toEqual(['writing', 'verifying', 'done']);
    expect(events.at(-1)).toMatchObject({ operation: 'restore-test', bytesDone: r.bytesPlanned * 2, bytesTotal: r.bytesPlanned * 2 });
  }, 60_000);

  it('draws the same stratified sample from the same seed, and keeps the sandbox on request', async () => {
    const repo = await open();
    const a = await restoreTest(repo, snapshot, { scope: { kind: 'sample', files: 4 }, seed: 77, workers: 1, keepSandbox: true, sandboxParent: path.join(s.dir, 'sandboxes') });
    const b = await restoreTest(repo, snapshot, { scope: { kind: 'sample', files: 4 }, seed: 77, workers: 1, sandboxParent: path.join(s.dir, 'sandboxes') });
    await repo.close();
    expect(a.passed).toBe(true);
    expect(a.seed).toBe(77);
    expect(a.sample).toHaveLength(4);
    expect(b.sample).toEqual(a.sample);
    // Stratified: large and small files, and more than one folder.
    const sizes = a.sample.map((p) => statSync(p).size);
    expect(Math.max(...sizes)).toBeGreaterThan(256 * 1024);
    expect(Math.min(...sizes)).toBeLessThan(4 * 1024);
    expect(new Set(a.sample.map((p) => path.dirname(p))).size).toBeGreaterThan(1);
    expect(a.sandboxKept).toBe(true);
    for (const p of a.sample) expect(readFileSync(path.join(a.sandboxPath, p)).equals(readFileSync(p)), p).toBe(true);
    expect(existsSync(b.sandboxPath)).toBe(false);
  }, 60_000);

  it('checks the free space of the sandbox before restoring anything', async () => {
    // A 1 MiB file system (tmpfs; the suite runs as root, as the unprivileged-user tests need).
    const tiny = path.join(s.dir, 'tiny');
    mkdirSync(tiny);
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tiny], { encoding: 'utf8' });
    if (mount.status !== 0) throw new Error(`this test mounts a 1 MiB tmpfs and must run as root: ${mount.stderr}`);
    try {
      const repo = await open();
      await expect(restoreTest(repo, snapshot, { scope: { kind: 'full' }, sandboxParent: tiny })).rejects.toThrow(/^sandbox: .*tiny has 1\.000 MiB free; the test needs \d+\.\d+ MiB$/);
      await repo.close();
      expect(readdirSync(tiny)).toEqual([]);
    } finally {
      spawnSync('umount', [tiny]);
    }
  });

  it('refuses a chosen path the snapshot does not have, naming it', async () => {
    const repo = await open();
    await expect(restoreTest(repo, snapshot, { scope: { kind: 'paths', paths: [path.join(src, 'docs'), path.join(src, 'nope')] } })).rejects.toThrow(/scope\.paths\[1\]: .*nope.* is not in snapshot/);
    await repo.close();
  });

  it('fails naming the file when a source file differs with the same size and mtime', async () => {
    // script.sh has a whole-millisecond mtime (the fixture sets it), so putting it back is exact.
    const victim = path.join(src, 'docs/script.sh');
    const before = statSync(victim);
    const bytes = readFileSync(victim);
    bytes[3] = bytes[3]! ^ 0x01;
    writeFileSync(victim, bytes);
    utimesSync(victim, before.atime, before.mtime);
    try {
      const repo = await open();
      const r = await restoreTest(repo, snapshot, { scope: { kind: 'paths', paths: [path.join(src, 'docs')] }, workers: 1 });
      await repo.close();
      expect(r.passed).toBe(false);
      expect(r.notRestored).toEqual([]);
      expect(r.mismatches).toEqual([{ path: victim, reason: expect.stringMatching(/differs from the live source .* size and modification time match/) }]);
      expect(r.failures[0]).toContain(victim);
      // The other files of docs/ were compared with the source and matched.
      expect(r.filesComparedWithSource).toBe(3);
    } finally {
      bytes[3] = bytes[3]! ^ 0x01;
      writeFileSync(victim, bytes);
      utimesSync(victim, before.atime, before.mtime);
    }
  }, 60_000);

  it('fails naming the file when a pack holding its data is corrupted', async () => {
    cpSync(path.join(s.dir, 'repo'), path.join(s.dir, 'damaged'), { recursive: true });
    const repo = await open('damaged');
    await repo.loadIndex();
    const victim = path.join(src, 'big/random.bin');
    let blob: string | undefined;
    for await (const { path: p, node } of walkTree(repo, snapshot.tree)) if (p === victim) blob = node.content![0];
    const loc = repo.index.get('data', blob!)!;
    const packFile = path.join(s.dir, 'damaged', 'data', loc.pack.slice(0, 2), loc.pack);
    flipByte(packFile, loc.offset + 100, 0x55);

    const r = await restoreTest(repo, snapshot, { scope: { kind: 'full' }, workers: 2, source: { kind: 'none' } });
    await repo.close();
    expect(r.passed).toBe(false);
    expect(r.notRestored.map((p) => p.path)).toContain(victim);
    expect(r.notRestored.find((p) => p.path === victim)!.reason).toMatch(new RegExp(`blob ${blob!.slice(0, 12)}`));
    expect(r.failures.join('\n')).toContain(victim);
    expect(r.filesComparedWithSource).toBe(0);
    expect(r.filesVerified).toBeGreaterThan(0);
  }, 60_000);
});
