/**
 * Whole backup runs of the real `lifeboat` process against a real sshd, with
 * faults: the server stopped mid-run, the backup process killed mid-upload,
 * and a target that fills up. Each time the repository stays valid for
 * restic, and the next run succeeds, reusing what reached the target.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { requireSshd, startSshd, type Sshd } from '../helpers/sshd.js';
import { PROJECT_ROOT, lifeboat, ok, requireTool, restic, scratch } from '../helpers/tools.js';

const MiB = 1024 * 1024;
let s: ReturnType<typeof scratch>;
let sshd: Sshd;
let data: string;

beforeAll(async () => {
  requireSshd();
  requireTool('restic');
  s = scratch();
  sshd = await startSshd();
  // 64 MiB of incompressible data: four 16 MiB packs.
  data = path.join(s.dir, 'data');
  mkdirSync(data);
  for (let i = 0; i < 8; i++) writeFileSync(path.join(data, `part-${i}.bin`), pseudoRandom(`faults-${i}`, 8 * MiB));
}, 60_000);
afterAll(async () => {
  await sshd?.dispose();
  s?.dispose();
});

/** A fresh repository folder on the sshd's machine, its sftp location, and the CLI environment for it. */
function repository(name: string, folder = path.join(s.dir, name)): { dir: string; env: Record<string, string> } {
  mkdirSync(path.dirname(folder), { recursive: true });
  return {
    dir: folder,
    env: {
      LIFEBOAT_REPOSITORY: `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${folder}`,
      LIFEBOAT_PASSWORD_FILE: s.passwordFile,
      LIFEBOAT_DATA_DIR: path.join(s.dir, `${name}-data`),
    },
  };
}

function packFiles(repo: string): string[] {
  try {
    return readdirSync(path.join(repo, 'data'), { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile() && /^[0-9a-f]{64}$/.test(d.name))
      .map((d) => d.name);
  } catch {
    return [];
  }
}

/** The real CLI as a child process (so it can be killed), with its output collected. */
function startBackup(env: Record<string, string>, extra: string[] = []) {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const args = ['--import', tsx, path.join(PROJECT_ROOT, 'main/cli/lifeboat.ts'), 'backup', data, '--json', '--sftp-key', sshd.userKeyFile, '--workers', '1', '--upload-workers', '1', ...extra];
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; at: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, at: performance.now() })),
  );
  return { child, exited };
}

async function until(what: string, cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** restic's own verdict on the repository folder (read directly, as the server's disk). */
function resticCheck(dir: string, readData = false): string {
  const r = restic(['-r', dir, 'check', '--no-lock', ...(readData ? ['--read-data'] : [])], s.passwordFile);
  const out = r.stdout + r.stderr;
  expect(out, out).toContain('no errors were found');
  expect(r.status, out).toBe(0);
  return out;
}

type Summary = { snapshot_id: string; data_added_packed: number };

describe('a backup over SFTP meets faults', () => {
  it('fails cleanly within the retry budget when the server disappears mid-run, naming the target; the next run succeeds', async () => {
    const repo = repository('vanish');
    ok(lifeboat(['init', '--sftp-key', sshd.userKeyFile], { env: repo.env }), 'init');
    // Held to 8 MiB/s so the run is still uploading when the server goes.
    const run = startBackup(repo.env, ['--limit-upload', '8192']);
    await until('the first pack on the server', () => packFiles(repo.dir).length >= 1 || run.child.exitCode !== null);
    expect(run.child.exitCode).toBeNull();
    await sshd.stop();
    const stoppedAt = performance.now();
    const r = await run.exited;
    await sshd.restart();
    const seconds = (r.at - stoppedAt) / 1000;
    // Default budget: 7 attempts, backoff 0.5 s doubling with full jitter: at most 31.5 s of waiting.
    expect(seconds, r.stderr).toBeLessThan(60);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('retrying in');
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).toMatch(new RegExp(`sftp://${sshd.user}@127\\.0\\.0\\.1:${sshd.port}/`));
    expect(last).toMatch(/failed after 7 attempts/);
    expect(readdirSync(path.join(repo.dir, 'snapshots'))).toEqual([]);
    resticCheck(repo.dir);

    // The server is back: the next run succeeds.
    const next = JSON.parse(ok(lifeboat(['backup', data, '--json', '--sftp-key', sshd.userKeyFile], { env: repo.env }), 'backup after the server is back').stdout) as Summary;
    expect(next.snapshot_id).toMatch(/^[0-9a-f]{64}$/);
    resticCheck(repo.dir, true);
  }, 180_000);

  it('after the process is killed mid-upload, the next run reuses the packs that reached the server', async () => {
    const repo = repository('killed');
    ok(lifeboat(['init', '--sftp-key', sshd.userKeyFile], { env: repo.env }), 'init');
    const run = startBackup(repo.env, ['--limit-upload', '16384']);
    await until('two packs on the server', () => packFiles(repo.dir).length >= 2 || run.child.exitCode !== null);
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGKILL');
    const r = await run.exited;
    expect(r.signal).toBe('SIGKILL');
    const survivors = packFiles(repo.dir);
    expect(survivors.length).toBeGreaterThanOrEqual(2);
    expect(readdirSync(path.join(repo.dir, 'snapshots'))).toEqual([]);
    resticCheck(repo.dir);

    const next = JSON.parse(ok(lifeboat(['backup', data, '--json', '--sftp-key', sshd.userKeyFile], { env: repo.env }), 'the next run').stdout) as Summary;
    // 64 MiB in all; at least two whole 16 MiB packs were on the server and are not stored again.
    expect(next.data_added_packed).toBeLessThan(64 * MiB - 2 * 15 * MiB);
    expect(next.data_added_packed).toBeGreaterThan(0);
    const after = packFiles(repo.dir);
    for (const p of survivors) expect(after).toContain(p);
    // restic reads it all over SFTP too.
    const over = restic(['-r', `sftp:${sshd.user}@127.0.0.1:${repo.dir}`, '-o', `sftp.command=${sshd.sshCommand()}`, 'check', '--no-lock', '--read-data'], s.passwordFile);
    expect(over.stdout + over.stderr).toContain('no errors were found');
  }, 180_000);

  it('fails at once, without retries, when the target is full, and says so', async (ctx) => {
    if (process.getuid?.() !== 0) {
      console.log('skipped: a size-limited tmpfs needs root to mount here');
      ctx.skip();
    }
    const mnt = path.join(s.dir, 'small-disk');
    mkdirSync(mnt);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt], { encoding: 'utf8' });
    if (mounted.status !== 0) {
      console.log(`skipped: mount -t tmpfs failed: ${mounted.stderr.trim()}`);
      ctx.skip();
    }
    try {
      const repo = repository('full', path.join(mnt, 'repo'));
      ok(lifeboat(['init', '--sftp-key', sshd.userKeyFile], { env: repo.env }), 'init');
      const run = startBackup(repo.env);
      const started = performance.now();
      const r = await run.exited;
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toContain('retrying in');
      const last = r.stderr.trim().split('\n').at(-1)!;
      expect(last).toMatch(new RegExp(`sftp://${sshd.user}@127\\.0\\.0\\.1:${sshd.port}/`));
      expect(last).toMatch(/no space left on the server.s disk \(\d+ bytes free, \d+ needed\)/);
      expect((r.at - started) / 1000).toBeLessThan(60);
      resticCheck(repo.dir);
    } finally {
      spawnSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
    }
  }, 180_000);
});
