/**
 * Per-repository target credentials through the service: SFTP private key and
 * passphrase, SFTP password, S3 keys, given to addRepository, kept in the
 * secret store (Lifeboat's encrypted secrets file here; the keychain works the
 * same way through the same SecretStore interface) with only references in
 * SQLite. Real sshd, real s3rver, real SQLite file; the secrets are random and
 * searched for in the database's bytes, every API response, run logs and errors.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptedFileSecretStore } from '../../main/service/secret-stores.js';
import { DefaultSecretResolver } from '../../main/service/secrets.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { ValidationError } from '../../shared/validation.js';
import { SecretWatch } from '../helpers/secret-watch.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { createPasswordUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const isRoot = process.getuid?.() === 0;
let work: string;
let sshd: Sshd;
let s3: S3Server;
let vault: EncryptedFileSecretStore;
let db: LifeboatDatabase;
let svc: LifeboatService;
let src: string;
/** Every secret handed to the service (none may show up anywhere but the secret store), and every API response and error text seen. */
const watch = new SecretWatch();
const { secrets, seen } = watch;
const secret = (s: string) => watch.secret(s);
const dbFile = () => path.join(work, 'lifeboat.db');
let keyFile: string;
let keyText: string;
let passphrase: string;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-creds-'));
  chmodSync(work, 0o755);
  [sshd, s3] = await Promise.all([startSshd({ passwordAuthentication: true }), startS3Server()]);
  // A user key with a random passphrase, authorized on the server.
  passphrase = secret(randomBytes(18).toString('base64url'));
  keyFile = sshKeygen(path.join(work, 'id_passphrase'), 'ed25519', passphrase);
  sshd.authorize(readFileSync(`${keyFile}.pub`, 'utf8'));
  keyText = secret(readFileSync(keyFile, 'utf8'));
  vault = await EncryptedFileSecretStore.open(path.join(work, 'secrets.vault'), 'vault passphrase for the test');
  db = openDatabase(dbFile());
  svc = new LifeboatService({
    db,
    secretStore: vault,
    secrets: new DefaultSecretResolver(process.env, [vault]),
    workers: 1,
    timeZone: 'UTC',
    // What `lifeboat serve` gives: the host-key pin file; no credentials of its own.
    targetOptions: (location) => (/^sftp:/.test(location) ? { sftp: { knownHostsFile: path.join(work, 'known_hosts.json') } } : {}),
  });
  src = path.join(work, 'src');
  mkdirSync(src);
  writeFileSync(path.join(src, 'ledger.csv'), 'date,amount\n2026-11-23,42\n');
  writeFileSync(path.join(work, 'repo.pw'), 'a repository password kept in a file\n');
}, 60_000);
afterAll(async () => {
  await svc?.stop();
  db?.close();
  await Promise.all([sshd?.dispose(), s3?.dispose()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Calls the API as a host would: the response (or the error text) is recorded for the secret search. */
const api = <T>(p: Promise<T>): Promise<T> => watch.call(p);

async function failure(p: Promise<unknown>): Promise<Error> {
  return api(p).then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error) => e,
  );
}

const sftpLocation = (user: string, dir: string) => `sftp://${user}@127.0.0.1:${sshd.port}/${dir}`;

async function backupOnce(repositoryId: number, name: string): Promise<void> {
  const job = await api(svc.createJob({ name, repositoryId, sources: { paths: [src] } }));
  const run = await api(svc.runNow(job.id));
  const end = Date.now() + 60_000;
  for (;;) {
    const [r] = await api(svc.listRuns({ jobId: job.id, limit: 1 }));
    if (r && r.id === run.id && !['queued', 'running'].includes(r.status)) {
      const log = await api(svc.getRunLog(r.id));
      expect(r.status, log).toBe('success');
      break;
    }
    if (Date.now() > end) throw new Error('the backup did not finish within 60 s');
    await new Promise((res) => setTimeout(res, 100));
  }
  await api(svc.listJobs());
  await api(svc.deleteJob(job.id));
}

describe('repository credentials', () => {
  it('SFTP with a private key and its passphrase: stored as references, used for runs, never returned', async () => {
    const repoPassword = secret(randomBytes(16).toString('hex'));
    const info = await api(
      svc.addRepository({
        name: 'sftp-key',
        location: sftpLocation(sshd.user, path.join(work, 'repo-key')),
        password: repoPassword,
        create: true,
        credentials: { sftpPrivateKey: keyText, sftpKeyPassphrase: passphrase },
      }),
    );
    expect(info.credentials.sort()).toEqual(['sftpKeyPassphrase', 'sftpPrivateKey']);
    const refs = db.credentials.get(info.id);
    expect(refs).toEqual({ sftpKeyPassphrase: 'vault:repository:sftp-key:sftpKeyPassphrase', sftpPrivateKey: 'vault:repository:sftp-key:sftpPrivateKey' });
    expect(await vault.get(refs.sftpKeyPassphrase!)).toBe(passphrase);
    // The service opens the target with them: a scheduled-style run and a listing over SFTP.
    await backupOnce(info.id, 'key-job');
    expect(await api(svc.listSnapshots(info.id))).toHaveLength(1);
    expect(await api(svc.listRepositories())).toContainEqual(expect.objectContaining({ id: info.id, credentials: ['sftpKeyPassphrase', 'sftpPrivateKey'] }));
  }, 120_000);

  it('SFTP with a private key given by reference (file:) and the passphrase as a secret', async () => {
    const info = await api(
      svc.addRepository({
        name: 'sftp-key-file',
        location: sftpLocation(sshd.user, path.join(work, 'repo-key-file')),
        passwordRef: `file:${path.join(work, 'repo.pw')}`,
        create: true,
        credentials: { sftpKeyPassphrase: passphrase },
        credentialRefs: { sftpPrivateKey: `file:${keyFile}` },
      }),
    );
    expect(db.credentials.get(info.id)).toEqual({ sftpKeyPassphrase: 'vault:repository:sftp-key-file:sftpKeyPassphrase', sftpPrivateKey: `file:${keyFile}` });
    expect(await api(svc.listSnapshots(info.id))).toEqual([]);
  }, 60_000);

  it('SFTP with a password (a test user, as root)', async (ctx) => {
    if (!isRoot) {
      console.log('skipped: creating the SFTP test user with a password needs root (run the tests as root, as CI does)');
      ctx.skip();
    }
    const home = mkdtempSync(path.join(work, 'home-'));
    const user = createPasswordUser(home);
    try {
      secret(user.password);
      const info = await api(
        svc.addRepository({ name: 'sftp-password', location: sftpLocation(user.name, path.join(home, 'repo')), password: secret(randomBytes(16).toString('hex')), create: true, credentials: { sftpPassword: user.password } }),
      );
      expect(info.credentials).toEqual(['sftpPassword']);
      await backupOnce(info.id, 'password-job');
      // A wrong password fails, naming the target, without repeating either password.
      const wrong = secret(`not-${user.password}`);
      const e = await failure(svc.addRepository({ name: 'sftp-wrong', location: sftpLocation(user.name, path.join(home, 'repo')), passwordRef: `file:${path.join(work, 'repo.pw')}`, credentials: { sftpPassword: wrong } }));
      expect(e.message).toMatch(/authentication failed/);
      expect(e.message).toContain(`127.0.0.1:${sshd.port}`);
      // Nothing of the failed attempt is kept: not the repository, not the secret.
      await expect(vault.get('vault:repository:sftp-wrong:sftpPassword')).rejects.toThrow();
    } finally {
      user.remove();
    }
  }, 120_000);

  it('S3 keys: used to open the bucket; wrong ones fail without showing them; removing the repository removes its secrets', async () => {
    const location = `s3:${s3.endpoint}/${s3.bucket}/creds`;
    // s3rver's fixed key pair, given here as secrets: the host's environment has none.
    const info = await api(
      svc.addRepository({ name: 's3', location, password: secret(randomBytes(16).toString('hex')), create: true, credentials: { s3AccessKeyId: s3.accessKeyId, s3SecretAccessKey: s3.secretAccessKey } }),
    );
    expect(info.credentials.sort()).toEqual(['s3AccessKeyId', 's3SecretAccessKey']);
    await backupOnce(info.id, 's3-job');
    // s3rver checks the key ID (not the signature): a key ID it does not know is refused.
    const wrongId = secret(`AKIA${randomBytes(8).toString('hex').toUpperCase()}`);
    const wrongSecret = secret(randomBytes(20).toString('base64url'));
    const e = await failure(
      svc.addRepository({ name: 's3-wrong', location, passwordRef: `file:${path.join(work, 'repo.pw')}`, credentials: { s3AccessKeyId: wrongId, s3SecretAccessKey: wrongSecret } }),
    );
    expect(e.message).not.toMatch(/wrong password/);
    expect(e.message).toContain(`${s3.endpoint}/${s3.bucket}/creds`);
    await expect(vault.get('vault:repository:s3-wrong:s3SecretAccessKey')).rejects.toThrow();

    expect(info.passwordRef).toBe('vault:repository:s3');
    await api(svc.removeRepository(info.id));
    expect(db.credentials.get(info.id)).toEqual({});
    await expect(vault.get('vault:repository:s3:s3SecretAccessKey')).rejects.toThrow();
    // The repository password it stored goes too.
    await expect(vault.get('vault:repository:s3')).rejects.toThrow();
    // A colon in a name could reach another repository's secrets ("repository:NAME:FIELD"): refused.
    const colon = await failure(svc.addRepository({ name: 's3:s3SecretAccessKey', location, password: 'x', credentials: { s3AccessKeyId: s3.accessKeyId, s3SecretAccessKey: s3.secretAccessKey } }));
    expect(colon).toMatchObject({ field: 'name' });
  }, 120_000);

  it('validates credential fields, naming them, without echoing values', async () => {
    const base = { name: 'bad', password: 'x', create: true };
    const sftp = sftpLocation(sshd.user, path.join(work, 'never'));
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, location: sftp, credentials: { sftpToken: secret('tok-' + randomBytes(6).toString('hex')) } }, 'credentials.sftpToken'],
      [{ ...base, location: sftp, credentials: { s3AccessKeyId: secret('AKIA' + randomBytes(6).toString('hex')), s3SecretAccessKey: 'y' } }, 'credentials.s3AccessKeyId'],
      [{ ...base, location: `s3:${s3.endpoint}/b`, credentials: { s3AccessKeyId: 'AKIAONLY' } }, 'credentials.s3SecretAccessKey'],
      [{ ...base, location: sftp, credentials: { sftpPassword: '' } }, 'credentials.sftpPassword'],
      [{ ...base, location: sftp, credentials: { sftpPassword: 42 } }, 'credentials.sftpPassword'],
      [{ ...base, location: sftp, credentials: 'password' }, 'credentials'],
      [{ ...base, location: sftp, credentials: { sftpPassword: secret('pw-' + randomBytes(6).toString('hex')) }, credentialRefs: { sftpPassword: 'env:X' } }, 'credentialRefs.sftpPassword'],
      [{ ...base, location: sftp, credentialRefs: { sftpPassword: secret('plain-' + randomBytes(6).toString('hex')) } }, 'credentialRefs.sftpPassword'],
      [{ ...base, location: path.join(work, 'local'), credentials: { sftpPassword: 'z' } }, 'credentials.sftpPassword'],
    ];
    for (const [input, field] of cases) {
      const e = await failure(svc.addRepository(input as never));
      expect(e, JSON.stringify(input)).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).field).toBe(field);
    }
    expect(existsSync(path.join(work, 'never'))).toBe(false);
    expect((await api(svc.listRepositories())).map((r) => r.name)).not.toContain('bad');
  });

  it('no secret appears in the SQLite files, API responses, run logs or error texts', async () => {
    db.connection.pragma('wal_checkpoint(TRUNCATE)');
    const files = [dbFile(), `${dbFile()}-wal`, `${dbFile()}-shm`].filter(existsSync).map((f) => readFileSync(f));
    expect(files.length).toBeGreaterThan(0);
    // The references are there (so the check below looks at the right bytes)…
    expect(files.some((b) => b.includes('vault:repository:sftp-key:sftpKeyPassphrase'))).toBe(true);
    expect(seen.length).toBeGreaterThan(10);
    // …the secrets are not, whole or as their distinctive middle part (a key's base64 body).
    const needles = secrets.flatMap((s) => [s, ...(s.length > 200 ? [s.slice(100, 160)] : [])]);
    expect(needles.length).toBeGreaterThan(6);
    for (const n of needles) {
      for (const b of files) expect(b.includes(n), 'a secret in the database').toBe(false);
      for (const t of seen) expect(t.includes(n), `a secret in ${t.slice(0, 200)}`).toBe(false);
    }
  });
});
