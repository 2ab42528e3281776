/**
 * Uploads in a thread of their own: a real backup into a local repository
 * whose target lives in a WorkerTarget's worker thread, throttled there by a
 * bucket created on the main thread (one SharedArrayBuffer, no messages), and
 * restic's check of what it wrote; packs lent to the thread without a copy
 * and given back (also when the save fails, so a retry can resend them);
 * SFTP host keys pinned in the thread and reported on the caller's thread
 * (real sshd), a changed key refused; and the CLI, whose default it is.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { RetryingTarget } from '../../main/engine/targets/retry.js';
import { loadAll, type FileHandle } from '../../main/engine/targets/target.js';
import { LocalPackThreadTarget, openTransferTarget } from '../../main/engine/targets/transfer-target.js';
import { WorkerTarget } from '../../main/engine/targets/worker-target.js';
import { SharedTokenBucket } from '../../workers/engine/token-bucket.js';
import { fingerprintOf, startSshd } from '../helpers/sshd.js';
import { lifeboat, ok, quietTemporaryFolder, requireTool, restic, scratch } from '../helpers/tools.js';

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

  it('lifeboat --transfer-thread (the default) backs up, checks and restores through it', () => {
    const src = path.join(s.dir, 'cli-src');
    mkdirSync(src);
    const content = randomBytes(700 * KiB);
    writeFileSync(path.join(src, 'a.bin'), content);
    const env = { LIFEBOAT_REPOSITORY: path.join(s.dir, 'cli-repo'), LIFEBOAT_PASSWORD_FILE: s.passwordFile };
    ok(lifeboat(['init', '--transfer-thread'], { env }), 'init');
    const b = JSON.parse(ok(lifeboat(['backup', src, '--json', '--limit-upload', '4096'], { env }), 'backup').stdout) as { snapshot_id: string };
    ok(lifeboat(['check', '--read-data', '--transfer-thread', '--limit-download', '4096'], { env }), 'check');
    ok(lifeboat(['check', '--read-data', '--no-transfer-thread'], { env }), 'check on the main thread');
    const out = path.join(s.dir, 'cli-restored');
    ok(lifeboat(['restore', b.snapshot_id, '--target', out], { env }), 'restore');
    expect(readFileSync(path.join(out, src, 'a.bin')).equals(content)).toBe(true);
    const c = restic(['-r', env.LIFEBOAT_REPOSITORY, 'check', '--read-data'], s.passwordFile);
    expect(c.stdout + c.stderr).toContain('no errors were found');
  }, 120_000);

  it('saveOwned lends the whole buffer to the thread and gets it back, on success and on failure, and a retry resends it', async () => {
    const root = path.join(s.dir, 'owned');
    const target = new WorkerTarget({ location: root, displayLocation: root, options: {} });
    await target.create();
    const buffer = new ArrayBuffer(1024 * KiB);
    const pack = new Uint8Array(buffer, 0, 700 * KiB);
    pack.set(randomBytes(pack.length));
    const expected = Buffer.from(pack);
    const h: FileHandle = { type: 'data', name: 'ab'.repeat(32) };
    const saved = await target.saveOwned(h, pack);
    expect(saved.error).toBeUndefined();
    expect(buffer.byteLength).toBe(0); // transferred, not copied
    expect(saved.data.buffer.byteLength).toBe(1024 * KiB); // the whole buffer came back, for the next pack
    expect([saved.data.byteOffset, saved.data.byteLength]).toEqual([0, 700 * KiB]);
    expect(Buffer.from(saved.data).equals(expected)).toBe(true);
    expect((await loadAll(target, h)).equals(expected)).toBe(true);

    // A failing save gives the bytes back with the error: the pack's prefix folder is a file (fails even for root).
    const prefix = path.join(root, 'data', 'cd');
    rmSync(prefix, { recursive: true });
    writeFileSync(prefix, '');
    const h2: FileHandle = { type: 'data', name: 'cd'.repeat(32) };
    const failed = await target.saveOwned(h2, saved.data);
    expect((failed.error as Error).message).toMatch(/ENOTDIR/);
    expect(Buffer.from(failed.data).equals(expected)).toBe(true);
    expect(failed.data.buffer.byteLength).toBe(1024 * KiB);

    // Through the retry wrapper: the first attempt fails (transient), the second resends the bytes it got back.
    let attempts = 0;
    const retrying = new RetryingTarget(target, {
      baseDelayMs: 1,
      isTransient: () => true,
      onRetry: () => {
        attempts++;
        rmSync(prefix);
        mkdirSync(prefix);
      },
    });
    const retried = await retrying.saveOwned(h2, failed.data);
    expect(retried.error).toBeUndefined();
    expect(attempts).toBe(1);
    expect(Buffer.from(retried.data).equals(expected)).toBe(true);
    expect((await loadAll(target, h2)).equals(expected)).toBe(true);
    await target.close();
  });

  it('a local folder: only pack saves go to the thread, started at the first pack; an unchanged re-run never starts it', async () => {
    // Outside /tmp: the folders on the way to the source are in the snapshot, and other tests change /tmp.
    const quietDir = scratch('lifeboat-split-', quietTemporaryFolder());
    onTestFinished(() => quietDir.dispose());
    const root = path.join(quietDir.dir, 'local-split');
    const bucket = SharedTokenBucket.create(64 * 1024 * KiB);
    const open = () => openTransferTarget(root, {}, { upload: [bucket] });
    const target = open();
    expect(target).toBeInstanceOf(LocalPackThreadTarget);
    const repo = await Repository.init(target, 'pw');
    expect((target as LocalPackThreadTarget).threadStarted).toBe(false);
    const src = path.join(quietDir.dir, 'split-src');
    mkdirSync(src);
    writeFileSync(path.join(src, 'a.bin'), randomBytes(512 * KiB));
    await backup(repo, { paths: [src], workers: 1 });
    expect((target as LocalPackThreadTarget).threadStarted).toBe(true);
    // A pack lent to the thread is detached here while it is saved there.
    const pack = new Uint8Array(256 * KiB).fill(7);
    const saving = target.saveOwned!({ type: 'data', name: 'ab'.repeat(32) }, pack);
    expect(pack.byteLength).toBe(0);
    const back = await saving;
    expect(back.error).toBeUndefined();
    expect(back.data.byteLength).toBe(256 * KiB);
    await target.remove({ type: 'data', name: 'ab'.repeat(32) });
    await repo.close();

    // A run that writes no pack never starts the thread. (The first run's listing moved the folder's
    // atime, and other processes change /tmp, on the way to the source: a run may still write a tree.)
    let quiet = false;
    for (let attempt = 0; attempt < 4 && !quiet; attempt++) {
      const again = open();
      const reopened = await Repository.open(again, 'pw');
      const r = await backup(reopened, { paths: [src], workers: 1 });
      expect(r.filesRead).toBe(0);
      quiet = r.summary.tree_blobs === 0;
      expect((again as LocalPackThreadTarget).threadStarted).toBe(!quiet);
      await reopened.close();
    }
    expect(quiet).toBe(true);
  });

  it('closing terminates the thread; an idle thread does not hold the process open', async () => {
    const root = path.join(s.dir, 'closing');
    let closed = 0;
    const target = new WorkerTarget({ location: root, displayLocation: root, options: {} }, 2, { onClose: () => closed++ });
    await target.create();
    await target.close();
    expect(closed).toBe(1);
    await expect(target.list('data')).rejects.toThrow(/the target is closed/);
    // A CLI command (a fresh process) that leaves its repository open still exits at once.
    const script = `import { WorkerTarget } from ${JSON.stringify(new URL('../../main/engine/targets/worker-target.ts', import.meta.url).href)};
      const t = new WorkerTarget({ location: ${JSON.stringify(root)}, displayLocation: 'x', options: {} });
      console.log((await t.list('keys')).length);`;
    const started = performance.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('0');
    expect(r.status).toBe(0);
    expect(performance.now() - started).toBeLessThan(20_000);
  }, 60_000);

  describe('SFTP host keys, pinned inside the thread', () => {
    it('reports the first connection\'s fingerprint on the caller\'s thread, then refuses a changed key', async () => {
      const server = await startSshd({ hostKeyType: 'ecdsa' });
      try {
        const dir = path.join(s.dir, 'sftp-keys');
        mkdirSync(dir);
        const location = `sftp://${server.user}@127.0.0.1:${server.port}/${path.join(dir, 'repo')}`;
        const knownHostsFile = path.join(dir, 'known_hosts.json');
        const seen: { fingerprint: string; hostPort: string; keyType: string; file: string }[] = [];
        const open = () =>
          openTransferTarget(location, {
            connections: 2,
            sftp: { privateKey: readFileSync(server.userKeyFile), knownHostsFile, onNewHostKey: (fingerprint, info) => seen.push({ fingerprint, ...info }) },
          });
        const t = open();
        expect(t).toBeInstanceOf(WorkerTarget);
        await t.create();
        const expected = fingerprintOf(path.join(server.dir, 'ssh_host_ecdsa_key.pub'));
        // Told before the operation that connected returned.
        expect(seen).toEqual([{ fingerprint: expected.fingerprint, hostPort: `127.0.0.1:${server.port}`, keyType: 'ecdsa-sha2-nistp256', file: knownHostsFile }]);
        const h: FileHandle = { type: 'data', name: 'ef'.repeat(32) };
        await t.save(h, randomBytes(1000));
        await t.close();
        const pin = JSON.parse(readFileSync(knownHostsFile, 'utf8')) as { hosts: Record<string, { fingerprint: string }> };
        expect(pin.hosts[`127.0.0.1:${server.port}`]?.fingerprint).toBe(expected.fingerprint);

        const again = open();
        await again.list('keys');
        await again.close();
        expect(seen).toHaveLength(1); // a known key is not news

        const old = server.hostFingerprint;
        await server.restart({ newHostKey: true });
        const changed = open();
        const e = await changed.load(h, 0, 0, (b) => b).then(
          () => expect.unreachable('a changed host key must be refused'),
          (err: unknown) => err as Error & { transient?: boolean },
        );
        await changed.close();
        expect(e.name).toBe('HostKeyChangedError');
        expect(e.message).toContain(`host key for 127.0.0.1:${server.port} changed`);
        expect(e.message).toContain(old);
        expect(e.message).toContain(server.hostFingerprint);
        expect(e.message).toContain('refusing to connect');
        expect(e.message).toContain(`remove its entry "127.0.0.1:${server.port}" from ${knownHostsFile}`);
        expect(e.transient).toBe(false);
        expect(seen).toHaveLength(1);
      } finally {
        await server.dispose();
      }
    }, 120_000);
  });
});
