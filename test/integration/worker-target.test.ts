/**
 * Uploads in a thread of their own: a real backup into a local repository
 * whose target lives in a WorkerTarget's worker thread, throttled there by a
 * bucket created on the main thread (one SharedArrayBuffer, no messages), and
 * restic's check of what it wrote.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { WorkerTarget } from '../../main/engine/targets/worker-target.js';
import { SharedTokenBucket } from '../../workers/engine/token-bucket.js';
import { lifeboat, ok, requireTool, restic, scratch } from '../helpers/tools.js';

const KiB = 1024;
let s: ReturnType<typeof scratch>;

beforeAll(() => {
  requireTool('restic');
  s = scratch();
});
afterAll(() => s?.dispose());

/** Bytes of the data packs in a local repository. */
function dataBytes(repo: string): number {
  const dir = path.join(repo, 'data');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((rel) => statSync(path.join(dir, rel)))
    .filter((st) => st.isFile())
    .reduce((n, st) => n + st.size, 0);
}

describe('WorkerTarget', () => {
  it('backs up through a target in its own thread, throttled by a bucket shared with the main thread; restic checks the result', async () => {
    const src = path.join(s.dir, 'src');
    mkdirSync(src);
    for (let i = 0; i < 48; i++) writeFileSync(path.join(src, `f${i}.bin`), randomBytes(64 * KiB)); // 3 MiB
    const root = path.join(s.dir, 'repo');
    const bucket = SharedTokenBucket.create(1024 * KiB);
    const target = new WorkerTarget({ location: root, displayLocation: root, options: { connections: 2 }, upload: [bucket.buffer] });
    const repo = await Repository.init(target, 'pw');
    const before = bucket.take(0); // bytes the worker has drawn from the bucket so far (init's files)
    const started = performance.now();
    const r = await backup(repo, { paths: [src], packSize: 256 * KiB, uploadConnections: 2, workers: 1 });
    const seconds = (performance.now() - started) / 1000;
    await repo.close();
    const drawn = bucket.take(0) - before;
    const stored = dataBytes(root);
    // Every byte the worker stored was paid for in the main thread's bucket…
    expect(stored).toBeGreaterThan(3 * 1024 * KiB);
    expect(drawn).toBeGreaterThanOrEqual(stored);
    // …and so the backup could not go faster than the limit (3 MiB at 1 MiB/s).
    expect(seconds).toBeGreaterThan((stored / (1024 * KiB)) * 0.9);
    expect(r.summary.files_new).toBe(48);
    writeFileSync(path.join(s.dir, 'pw.txt'), 'pw');
    const c = restic(['-r', root, 'check', '--read-data'], path.join(s.dir, 'pw.txt'));
    expect(c.stdout + c.stderr).toContain('no errors were found');
  }, 120_000);

  it('lifeboat --transfer-thread backs up, checks and restores through it', () => {
    const src = path.join(s.dir, 'cli-src');
    mkdirSync(src);
    const content = randomBytes(700 * KiB);
    writeFileSync(path.join(src, 'a.bin'), content);
    const env = { LIFEBOAT_REPOSITORY: path.join(s.dir, 'cli-repo'), LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    ok(lifeboat(['init', '--transfer-thread'], { env }), 'init');
    const b = JSON.parse(ok(lifeboat(['backup', src, '--json', '--transfer-thread', '--limit-upload', '4096'], { env }), 'backup').stdout) as { snapshot_id: string };
    ok(lifeboat(['check', '--read-data', '--transfer-thread', '--limit-download', '4096'], { env }), 'check');
    const out = path.join(s.dir, 'cli-restored');
    ok(lifeboat(['restore', b.snapshot_id, '--target', out, '--transfer-thread'], { env }), 'restore');
    expect(readFileSync(path.join(out, src, 'a.bin')).equals(content)).toBe(true);
    const c = restic(['-r', env.LIFEBOAT_REPOSITORY, 'check', '--read-data'], s.passwordFile);
    expect(c.stdout + c.stderr).toContain('no errors were found');
  }, 120_000);
});
