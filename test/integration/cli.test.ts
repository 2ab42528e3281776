/** The `lifeboat` command as an admin meets it: exit codes, errors that name the field, JSON, partial runs, resume. */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSourceTree, pseudoRandom } from '../fixtures/source-tree.js';
import { lifeboat, ok, PROJECT_ROOT, requireTool, restic, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let env: Record<string, string>;
let src: string;

beforeAll(() => {
  s = scratch();
  src = path.join(s.dir, 'src');
  makeSourceTree(src);
  env = { LIFEBOAT_REPOSITORY: path.join(s.dir, 'repo'), LIFEBOAT_PASSWORD_FILE: s.passwordFile };
  ok(lifeboat(['init'], { env }), 'init');
});
afterAll(() => s?.dispose());

function packFiles(repo: string): string[] {
  return readdirSync(path.join(repo, 'data'), { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && /^[0-9a-f]{64}$/.test(d.name)).map((d) => d.name);
}

describe('lifeboat CLI', () => {
  it('prints help right away', () => {
    const r = ok(lifeboat(['--help']), 'help');
    for (const c of ['init', 'backup', 'snapshots', 'ls', 'restore', 'check']) expect(r.stdout).toContain(c);
  });

  it('says which setting is missing', () => {
    const noRepo = lifeboat(['snapshots'], { env: { LIFEBOAT_PASSWORD: 'x' } });
    expect(noRepo.status).toBe(1);
    expect(noRepo.stderr).toContain('repository: give -r/--repo');
    const noPw = lifeboat(['snapshots', '-r', env.LIFEBOAT_REPOSITORY!]);
    expect(noPw.status).toBe(1);
    expect(noPw.stderr).toContain('password:');
    // A password typed where its file's name belongs is not echoed back.
    const typedPassword = lifeboat(['snapshots', '-r', env.LIFEBOAT_REPOSITORY!, '--password-file', 'hunter2-typed-by-mistake']);
    expect(typedPassword.status).toBe(1);
    expect(typedPassword.stderr).toContain('password-file: the file given cannot be read (ENOENT)');
    expect(typedPassword.stderr + typedPassword.stdout).not.toContain('hunter2');
    const badTime = lifeboat(['backup', src, '--time', '2024-13-01 00:00:00'], { env });
    expect(badTime.status).toBe(1);
    expect(badTime.stderr).toContain('time:');
    const badWorkers = lifeboat(['backup', src, '--upload-workers', '99'], { env });
    expect(badWorkers.stderr).toContain('upload-workers');
    const missingPath = lifeboat(['backup', path.join(s.dir, 'nope')], { env });
    expect(missingPath.status).toBe(1);
    expect(missingPath.stderr).toContain('paths: cannot read');
    const noSuchRepo = lifeboat(['snapshots', '-r', path.join(s.dir, 'missing-repo')], { env: { LIFEBOAT_PASSWORD: 'x' } });
    expect(noSuchRepo.stderr).toContain('no repository at');
  });

  it('refuses a wrong password clearly and changes nothing', () => {
    const before = readdirSync(env.LIFEBOAT_REPOSITORY!, { recursive: true }).length;
    const r = lifeboat(['backup', src], { env: { LIFEBOAT_REPOSITORY: env.LIFEBOAT_REPOSITORY!, LIFEBOAT_PASSWORD: 'wrong' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/wrong password/i);
    expect(r.stderr).toContain(env.LIFEBOAT_REPOSITORY!); // which repository refused it
    expect(readdirSync(env.LIFEBOAT_REPOSITORY!, { recursive: true }).length).toBe(before);
  });

  it('backs up with --json, --tag, --host and --time, and lists snapshots as JSON', () => {
    const r = ok(lifeboat(['backup', src, '--json', '--tag', 'a', '--tag', 'b', '--host', 'office-pc', '--time', '2025-06-01 02:00:00'], { env }), 'backup');
    const summary = JSON.parse(r.stdout) as { snapshot_id: string; files_new: number; partial: boolean; total_files_processed: number };
    expect(summary.partial).toBe(false);
    expect(summary.files_new).toBe(summary.total_files_processed);
    const snaps = JSON.parse(ok(lifeboat(['snapshots', '--json'], { env }), 'snapshots').stdout) as { id: string; tags: string[]; hostname: string; time: string }[];
    const snap = snaps.find((x) => x.id === summary.snapshot_id)!;
    expect(snap.tags).toEqual(['a', 'b']);
    expect(snap.hostname).toBe('office-pc');
    expect(new Date(snap.time).getTime()).toBe(new Date(2025, 5, 1, 2, 0, 0).getTime());
    // Piped output carries no progress line.
    expect(r.stderr).not.toContain('\r');
  });

  it('lists a snapshot with ls --json, one node per line', () => {
    const r = ok(lifeboat(['ls', 'latest', '--json'], { env }), 'ls');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { struct_type: string; path?: string; type?: string; size?: number });
    expect(lines[0]!.struct_type).toBe('snapshot');
    const big = lines.find((l) => l.path === path.join(src, 'big/random.bin'));
    expect(big?.type).toBe('file');
    expect(big?.size).toBe(3 * 1024 * 1024 + 12345);
    expect(lines.some((l) => l.path === path.join(src, 'names/new\nline'))).toBe(true);
  });

  it('excludes what --exclude matches', () => {
    const r = JSON.parse(ok(lifeboat(['backup', src, '--json', '--exclude', '*.bin', '--exclude', 'docs'], { env }), 'backup').stdout) as { snapshot_id: string };
    const listed = ok(lifeboat(['ls', r.snapshot_id], { env }), 'ls').stdout;
    expect(listed).not.toContain('.bin');
    expect(listed).not.toContain('/docs');
    expect(listed).toContain('text.txt');
  });

  it('reports unreadable files, completes the snapshot without them, and exits 3', () => {
    if (process.getuid?.() === 0) requireTool('setpriv', 'util-linux');
    const dir = path.join(s.dir, 'partial');
    mkdirSync(path.join(dir, 'src'), { recursive: true });
    writeFileSync(path.join(dir, 'src', 'readable.txt'), 'fine');
    writeFileSync(path.join(dir, 'src', 'secret.txt'), 'not for you');
    chmodSync(path.join(dir, 'src', 'secret.txt'), 0o000);
    mkdirSync(path.join(dir, 'src', 'locked-dir'));
    writeFileSync(path.join(dir, 'src', 'locked-dir', 'inside.txt'), 'x');
    chmodSync(path.join(dir, 'src', 'locked-dir'), 0o000);
    chmodSync(dir, 0o777);
    // A folder cache the unprivileged user can write: the folders that held an unreadable entry must not be in it.
    const repoEnv = { LIFEBOAT_REPOSITORY: path.join(dir, 'repo'), LIFEBOAT_PASSWORD_FILE: s.passwordFile, LIFEBOAT_CACHE_DIR: path.join(dir, 'cache') };
    // Root reads everything; run as an unprivileged user so permissions bite, as they do for an admin.
    const asUser = process.getuid?.() === 0 ? 65534 : undefined;
    ok(lifeboat(['init'], { env: repoEnv, ...(asUser !== undefined ? { asUser } : {}) }), 'init');
    const r = lifeboat(['backup', path.join(dir, 'src'), '--json'], { env: repoEnv, ...(asUser !== undefined ? { asUser } : {}) });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('secret.txt');
    expect(r.stderr).toContain('locked-dir');
    const summary = JSON.parse(r.stdout) as { partial: boolean; errors: { path: string }[]; snapshot_id: string };
    expect(summary.partial).toBe(true);
    expect(summary.errors.map((e) => path.basename(e.path)).sort()).toEqual(['locked-dir', 'secret.txt']);
    const listed = ok(lifeboat(['ls', summary.snapshot_id], { env: repoEnv }), 'ls').stdout;
    expect(listed).toContain('readable.txt');
    expect(listed).not.toContain('secret.txt');
    expect(readdirSync(path.join(dir, 'cache')).length).toBe(1);

    // Readable again: the next run (with the folder cache) tries them again and they are in its snapshot.
    chmodSync(path.join(dir, 'src', 'secret.txt'), 0o644);
    chmodSync(path.join(dir, 'src', 'locked-dir'), 0o755);
    const again = lifeboat(['backup', path.join(dir, 'src'), '--json'], { env: repoEnv, ...(asUser !== undefined ? { asUser } : {}) });
    expect(again.status, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout) as { partial: boolean; snapshot_id: string };
    const relisted = ok(lifeboat(['ls', second.snapshot_id], { env: repoEnv }), 'ls').stdout;
    expect(relisted).toContain('secret.txt');
    expect(relisted).toContain('inside.txt');
  });
});

describe('an interrupted backup', () => {
  it('leaves a valid repository, and the next run reuses the packs that were uploaded', async () => {
    requireTool('restic');
    const dir = path.join(s.dir, 'resume');
    const data = path.join(dir, 'data');
    mkdirSync(data, { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(path.join(data, `part-${i}.bin`), pseudoRandom(`resume-${i}`, 16 * 1024 * 1024));
    // A folder cache the unprivileged user can write: the folders that held an unreadable entry must not be in it.
    const repoEnv = { LIFEBOAT_REPOSITORY: path.join(dir, 'repo'), LIFEBOAT_PASSWORD_FILE: s.passwordFile, LIFEBOAT_CACHE_DIR: path.join(dir, 'cache') };
    ok(lifeboat(['init'], { env: repoEnv }), 'init');

    // Start a real backup and kill it as soon as a few packs have reached the repository.
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const child = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, 'main/cli/lifeboat.ts'), 'backup', data, '--workers', '1', '--upload-workers', '1'], {
      env: { ...process.env, ...repoEnv },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let killed = false;
    while (!killed) {
      await new Promise((r) => setTimeout(r, 20));
      if (child.exitCode !== null) break;
      if (packFiles(repoEnv.LIFEBOAT_REPOSITORY).length >= 3) {
        child.kill('SIGKILL');
        killed = true;
      }
    }
    await exited;
    expect(killed).toBe(true);
    const survivors = packFiles(repoEnv.LIFEBOAT_REPOSITORY);
    expect(readdirSync(path.join(repoEnv.LIFEBOAT_REPOSITORY, 'snapshots'))).toEqual([]);

    // The killed process's lock is left behind; unlock removes it because its process is provably gone.
    const lockedOut = lifeboat(['unlock'], { env: repoEnv });
    expect(lockedOut.stdout).toMatch(new RegExp(`removed lock .* pid ${child.pid}: process ${child.pid} on this host .* is gone`));
    expect(readdirSync(path.join(repoEnv.LIFEBOAT_REPOSITORY, 'locks'))).toEqual([]);

    // restic finds the repository valid.
    const c = restic(['-r', repoEnv.LIFEBOAT_REPOSITORY, 'check'], s.passwordFile);
    expect(c.stderr).not.toContain('Fatal');
    expect(c.status).toBe(0);

    // The next run adopts the uploaded packs instead of storing their blobs again.
    const r = JSON.parse(ok(lifeboat(['backup', data, '--json'], { env: repoEnv }), 'second backup').stdout) as { data_added_packed: number };
    const total = 12 * 16 * 1024 * 1024;
    expect(r.data_added_packed).toBeLessThan(total - 2 * 15 * 1024 * 1024);
    const after = packFiles(repoEnv.LIFEBOAT_REPOSITORY);
    for (const p of survivors) expect(after).toContain(p);
    const full = restic(['-r', repoEnv.LIFEBOAT_REPOSITORY, 'check', '--read-data'], s.passwordFile);
    expect(full.stdout + full.stderr).toContain('no errors were found');
    expect(full.stdout + full.stderr).not.toContain('additional files');
  });
});
