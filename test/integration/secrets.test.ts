/**
 * Secrets: the OS keychain through a real Secret Service (gnome-keyring in a
 * private D-Bus session), and the encrypted secrets file for boxes without
 * one. Passwords never reach the database, the API's answers or run logs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptedFileSecretStore } from '../../main/service/secret-stores.js';
import { PROJECT_ROOT, requireTool, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
const TSX = createRequire(import.meta.url).resolve('tsx');

beforeAll(() => {
  s = scratch();
});
afterAll(() => s?.dispose());

describe('the OS keychain (Secret Service)', () => {
  it('keeps repository passwords; the database and the API hold only a reference', () => {
    requireTool('dbus-run-session', 'dbus');
    requireTool('gnome-keyring-daemon', 'gnome-keyring');
    requireTool('secret-tool', 'libsecret-tools');
    const password = 'kr-s3cret-Ω-' + Math.random().toString(36).slice(2);
    writeFileSync(path.join(s.dir, 'pw'), password);
    mkdirSync(path.join(s.dir, 'src'));
    mkdirSync(path.join(s.dir, 'home'), { recursive: true });
    mkdirSync(path.join(s.dir, 'run'), { recursive: true, mode: 0o700 });
    writeFileSync(path.join(s.dir, 'src', 'file.txt'), 'hello');
    const script = path.join(s.dir, 'keychain-run.mts');
    const root = PROJECT_ROOT;
    writeFileSync(
      script,
      `
      import { openDatabase } from '${root}/main/store/database.ts';
      import { LifeboatService } from '${root}/main/service/service.ts';
      import { DefaultSecretResolver } from '${root}/main/service/secrets.ts';
      import { KeychainSecretStore } from '${root}/main/service/secret-stores.ts';
      const available = await KeychainSecretStore.available();
      const keychain = new KeychainSecretStore();
      const db = openDatabase('${s.dir}/lifeboat.db');
      const svc = new LifeboatService({ db, secretStore: keychain, secrets: new DefaultSecretResolver(process.env, [keychain]), workers: 1 });
      const repo = await svc.addRepository({ name: 'nas', location: '${s.dir}/repo', password: ${JSON.stringify(password)}, create: true });
      const job = await svc.createJob({ name: 'docs', repositoryId: repo.id, sources: { paths: ['${s.dir}/src'] } });
      await svc.runNow(job.id);
      await svc.idle();
      const [run] = await svc.listRuns({ jobId: job.id });
      const log = await svc.getRunLog(run.id);
      const listed = await svc.listRepositories();
      const wrong = await svc.addRepository({ name: 'other', location: '${s.dir}/repo', password: 'not-the-password' }).then(() => 'accepted', (e) => e.message);
      await svc.stop();
      db.close();
      console.log(JSON.stringify({ available, ref: repo.passwordRef, status: run.status, error: run.error, log, listed, wrong }));
    `,
    );
    const r = spawnSync(
      'dbus-run-session',
      ['--', 'sh', '-c', `printf unlock | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1; "${process.execPath}" --import "${TSX}" "${script}" && secret-tool lookup service Lifeboat username repository:nas`],
      // A private home: a fresh login keyring, unlocked by the password above, nothing of the user's touched.
      { encoding: 'utf8', timeout: 120_000, env: { ...process.env, HOME: path.join(s.dir, 'home'), XDG_DATA_HOME: path.join(s.dir, 'home', '.local', 'share'), XDG_RUNTIME_DIR: path.join(s.dir, 'run') } },
    );
    const lines = r.stdout.trim().split('\n');
    if (r.status !== 0) throw new Error(`keychain run failed (${r.status}): ${r.stderr}\n${r.stdout}`);
    const out = JSON.parse(lines[0]!) as { available: boolean; ref: string; status: string; error: string | null; log: string; listed: unknown; wrong: string };
    expect(out.available).toBe(true);
    expect(out.ref).toBe('keychain:repository:nas');
    expect(out.status, out.error ?? '').toBe('success');
    // What the keychain holds, read by another program:
    expect(lines[1]).toBe(password);
    // ...and nowhere else.
    expect(readFileSync(path.join(s.dir, 'lifeboat.db')).includes(Buffer.from(password))).toBe(false);
    expect(JSON.stringify(out.listed)).not.toContain(password);
    expect(out.log).not.toContain(password);
    expect(out.wrong).toMatch(/wrong password/i);
    expect(out.wrong).not.toContain('not-the-password');
  });
});

describe('the encrypted secrets file (no keychain)', () => {
  it('stores secrets encrypted, refuses a wrong passphrase, and reopens with the right one', async () => {
    const file = path.join(s.dir, 'vault', 'secrets.vault');
    const v = await EncryptedFileSecretStore.open(file, 'correct passphrase');
    const ref = await v.put('repository:nas', 'vault-s3cret');
    expect(ref).toBe('vault:repository:nas');
    expect(await v.get(ref)).toBe('vault-s3cret');
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain('vault-s3cret');
    expect((await import('node:fs')).statSync(file).mode & 0o777).toBe(0o600);
    await expect(EncryptedFileSecretStore.open(file, 'wrong passphrase')).rejects.toThrow('the passphrase does not open the secrets file');
    expect(readFileSync(file, 'utf8')).toBe(raw); // a wrong passphrase changes nothing
    const again = await EncryptedFileSecretStore.open(file, 'correct passphrase');
    expect(await again.get(ref)).toBe('vault-s3cret');
    await again.delete(ref);
    await expect(again.get(ref)).rejects.toThrow('no secret in the encrypted secrets file');
  });
});
