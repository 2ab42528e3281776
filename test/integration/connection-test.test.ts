/**
 * "Test connection" with the credentials an admin is typing (first-run setup,
 * the repository form): real sshd, real s3rver, real SQLite file, Lifeboat's
 * encrypted secrets file. Right credentials pass; wrong ones fail naming the
 * field; a new SFTP host key is shown (not pinned), a changed one refused; the
 * database, the secret store and the pin file are byte-for-byte unchanged; no
 * secret appears in any response or error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConnectionTest } from '../../shared/api.js';
import { EncryptedFileSecretStore } from '../../main/service/secret-stores.js';
import { DefaultSecretResolver } from '../../main/service/secrets.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { ValidationError } from '../../shared/validation.js';
import { SecretWatch } from '../helpers/secret-watch.js';
import { startS3Server, startSignatureCheckingFront, type S3Server } from '../helpers/s3-server.js';
import { createPasswordUser, sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';

const isRoot = process.getuid?.() === 0;
let work: string;
let sshd: Sshd;
let s3: S3Server;
let db: LifeboatDatabase;
let svc: LifeboatService;
let knownHosts: string;
let keyText: string;
let passphrase: string;
/** Every secret handed to the service (none may come back), and every response and error text. */
const watch = new SecretWatch();
const { secrets, seen } = watch;
const secret = (s: string) => watch.secret(s);

const fileHash = (f: string) => (existsSync(f) ? createHash('sha256').update(readFileSync(f)).digest('hex') : 'absent');
/** What a test must not change: the database (and its WAL), the secrets file, the pin file. */
const state = () => ['lifeboat.db', 'lifeboat.db-wal', 'secrets.vault', 'known_hosts.json'].map((f) => `${f} ${fileHash(path.join(work, f))}`);

const tryIt = (input: Parameters<LifeboatService['testConnection']>[0]): Promise<ConnectionTest> => watch.call(svc.testConnection(input));

async function refused(input: Parameters<LifeboatService['testConnection']>[0]): Promise<ValidationError> {
  const e = await tryIt(input).then(
    (r) => new Error(`expected a refusal, got ${JSON.stringify(r)}`),
    (err: Error) => err,
  );
  expect(e).toBeInstanceOf(ValidationError);
  return e as ValidationError;
}

const sftpLocation = (user: string, dir: string) => `sftp://${user}@127.0.0.1:${sshd.port}/${dir}`;

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-conntest-'));
  chmodSync(work, 0o755);
  [sshd, s3] = await Promise.all([startSshd({ passwordAuthentication: true }), startS3Server()]);
  passphrase = secret(randomBytes(18).toString('base64url'));
  const keyFile = sshKeygen(path.join(work, 'id_passphrase'), 'ed25519', passphrase);
  sshd.authorize(readFileSync(`${keyFile}.pub`, 'utf8'));
  keyText = secret(readFileSync(keyFile, 'utf8'));
  const vault = await EncryptedFileSecretStore.open(path.join(work, 'secrets.vault'), 'vault passphrase for the test');
  await vault.put('unrelated', 'an entry so the secrets file exists');
  db = openDatabase(path.join(work, 'lifeboat.db'));
  knownHosts = path.join(work, 'known_hosts.json');
  svc = new LifeboatService({
    db,
    secretStore: vault,
    secrets: new DefaultSecretResolver(process.env, [vault]),
    workers: 1,
    timeZone: 'UTC',
    targetOptions: (location) => (/^sftp:/.test(location) ? { sftp: { knownHostsFile: knownHosts } } : {}),
  });
}, 60_000);
afterAll(async () => {
  await svc?.stop();
  db?.close();
  await Promise.all([sshd?.dispose(), s3?.dispose()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('testConnection with the credentials being entered', () => {
  it('SFTP with a typed private key and passphrase: passes, shows the new host key, pins nothing', async () => {
    const before = state();
    const location = sftpLocation(sshd.user, path.join(work, 'sftp-repo'));
    const r = await tryIt({ location, credentials: { sftpPrivateKey: keyText, sftpKeyPassphrase: passphrase } });
    expect(r).toMatchObject({ ok: true, initialized: false, hostKey: { hostPort: `127.0.0.1:${sshd.port}`, status: 'new', keyType: sshd.hostKeyType, fingerprint: sshd.hostFingerprint } });
    expect(r.message).toContain(sshd.hostFingerprint);
    expect(existsSync(knownHosts)).toBe(false);
    expect(existsSync(path.join(work, 'sftp-repo'))).toBe(false);
    expect(state()).toEqual(before);
    expect(await svc.listRepositories()).toEqual([]);
  });

  it('SFTP: a wrong passphrase, a key the server does not know, or no key at all fail naming the field', async () => {
    const location = sftpLocation(sshd.user, path.join(work, 'sftp-repo'));
    const wrongPassphrase = secret(`not-${passphrase}`);
    expect(await tryIt({ location, credentials: { sftpPrivateKey: keyText, sftpKeyPassphrase: wrongPassphrase } })).toMatchObject({ ok: false, field: 'credentials.sftpKeyPassphrase' });
    const stranger = secret(readFileSync(sshKeygen(path.join(work, 'id_stranger'), 'ed25519'), 'utf8'));
    const r = await tryIt({ location, credentials: { sftpPrivateKey: stranger } });
    expect(r).toMatchObject({ ok: false, field: 'credentials.sftpPrivateKey', hostKey: { status: 'new', fingerprint: sshd.hostFingerprint } });
    expect(r.message).toMatch(/^credentials\.sftpPrivateKey: .*authentication failed/);
    // Input that cannot be right is refused before connecting.
    expect((await refused({ location, credentials: { sftpPrivateKey: keyText, s3AccessKeyId: 'AKIA', s3SecretAccessKey: 'x' } })).field).toBe('credentials.s3AccessKeyId');
    expect((await refused({ location, credentials: { sftpPassword: '' } })).field).toBe('credentials.sftpPassword');
    expect((await refused({ location, credentialRefs: { sftpPrivateKey: `file:${path.join(work, 'no-such-key')}` } })).field).toBe('credentialRefs.sftpPrivateKey');
    expect(existsSync(knownHosts)).toBe(false);
  });

  it('SFTP: a key kept in a file (credentialRefs) passes; a pinned key is reported as matching', async () => {
    writeFileSync(path.join(work, 'passphrase.txt'), passphrase);
    const location = sftpLocation(sshd.user, path.join(work, 'sftp-repo'));
    // The admin confirmed the fingerprint and added a repository: the key is pinned now.
    writeFileSync(knownHosts, JSON.stringify({ version: 1, hosts: { [`127.0.0.1:${sshd.port}`]: { keyType: sshd.hostKeyType, fingerprint: sshd.hostFingerprint, pinnedAt: '2026-11-23T00:00:00.000Z' } } }));
    const before = state();
    const r = await tryIt({ location, credentials: { sftpPrivateKey: keyText }, credentialRefs: { sftpKeyPassphrase: `file:${path.join(work, 'passphrase.txt')}` } });
    expect(r).toMatchObject({ ok: true, hostKey: { status: 'pinned', fingerprint: sshd.hostFingerprint } });
    const wrong = await tryIt({ location, credentials: { sftpPrivateKey: keyText }, credentialRefs: { sftpKeyPassphrase: `file:${path.join(work, 'id_stranger.pub')}` } });
    expect(wrong).toMatchObject({ ok: false, field: 'credentialRefs.sftpKeyPassphrase' });
    expect(state()).toEqual(before);
  });

  it('SFTP: a host key different from the pinned one is refused, showing both fingerprints', async () => {
    const location = sftpLocation(sshd.user, path.join(work, 'sftp-repo'));
    const other = 'SHA256:' + createHash('sha256').update('another server').digest('base64').replace(/=+$/, '');
    writeFileSync(knownHosts, JSON.stringify({ version: 1, hosts: { [`127.0.0.1:${sshd.port}`]: { keyType: sshd.hostKeyType, fingerprint: other, pinnedAt: '2026-11-23T00:00:00.000Z' } } }));
    const before = state();
    const r = await tryIt({ location, credentials: { sftpPrivateKey: keyText, sftpKeyPassphrase: passphrase } });
    expect(r).toMatchObject({ ok: false, field: 'location', hostKey: { status: 'changed', fingerprint: sshd.hostFingerprint, pinned: { fingerprint: other } } });
    expect(r.message).toMatch(/changed.*refusing to connect/);
    expect(r.message).not.toContain(work); // the pin file's scratch copy is not named
    expect(state()).toEqual(before);
    rmSync(knownHosts);
  });

  it('SFTP: adding the repository pins only the host key the admin confirmed; any other is refused and nothing is pinned or stored', async () => {
    rmSync(knownHosts, { force: true });
    const location = sftpLocation(sshd.user, path.join(work, 'sftp-confirmed'));
    const test = await tryIt({ location, credentials: { sftpPrivateKey: keyText, sftpKeyPassphrase: passphrase } });
    expect(test.hostKey).toMatchObject({ status: 'new', fingerprint: sshd.hostFingerprint });
    const other = 'SHA256:' + createHash('sha256').update('the key the admin saw').digest('base64').replace(/=+$/, '');
    const add = (hostKeyFingerprint: string) =>
      svc.addRepository({ name: 'confirmed', location, password: secret('confirmed repository password'), create: true, credentials: { sftpPrivateKey: keyText, sftpKeyPassphrase: passphrase }, hostKeyFingerprint });
    // The server presents a key other than the one confirmed (as after a swap between test and add).
    await expect(add(other)).rejects.toThrow(/not the one confirmed: confirmed SHA256:.*refusing to connect/);
    expect(existsSync(knownHosts)).toBe(false);
    expect(await svc.listRepositories()).toEqual([]);
    await expect(add('SHA256:short')).rejects.toMatchObject({ field: 'hostKeyFingerprint' });
    // The confirmed key: added, and that key pinned.
    const repo = await add(test.hostKey!.fingerprint);
    expect(repo.name).toBe('confirmed');
    expect(JSON.parse(readFileSync(knownHosts, 'utf8')).hosts[`127.0.0.1:${sshd.port}`].fingerprint).toBe(sshd.hostFingerprint);
    await svc.removeRepository(repo.id);
    rmSync(knownHosts, { force: true });
  });

  it('SFTP with a password (a test user, as root): right passes, wrong fails naming credentials.sftpPassword', async (ctx) => {
    if (!isRoot) {
      console.log('skipped: creating the SFTP test user with a password needs root (run the tests as root, as CI does)');
      return ctx.skip();
    }
    const home = path.join(work, 'pwhome');
    const user = createPasswordUser(home);
    try {
      secret(user.password);
      const before = state();
      const location = sftpLocation(user.name, path.join(home, 'repo'));
      expect(await tryIt({ location, credentials: { sftpPassword: user.password } })).toMatchObject({ ok: true, initialized: false, hostKey: { status: 'new' } });
      const wrong = await tryIt({ location, credentials: { sftpPassword: secret(`not-${user.password}`) } });
      expect(wrong).toMatchObject({ ok: false, field: 'credentials.sftpPassword' });
      expect(wrong.message).toMatch(/authentication failed/);
      expect(state()).toEqual(before);
    } finally {
      user.remove();
    }
  });

  it('S3 with typed keys: passes; an unknown access key fails naming it; nothing is stored', async () => {
    const location = `s3:${s3.endpoint}/${s3.bucket}/conn`;
    const before = state();
    // s3rver's own key pair, typed by the admin (the host's environment has none).
    const keys = { s3AccessKeyId: s3.accessKeyId, s3SecretAccessKey: s3.secretAccessKey };
    expect(await tryIt({ location, credentials: keys })).toMatchObject({ ok: true, initialized: false });
    const wrongId = await tryIt({ location, credentials: { s3AccessKeyId: secret(`AKIA${randomBytes(8).toString('hex').toUpperCase()}`), s3SecretAccessKey: secret(randomBytes(20).toString('base64')) } });
    expect(wrongId).toMatchObject({ ok: false, field: 'credentials.s3AccessKeyId' });
    expect(wrongId.message).toMatch(/InvalidAccessKeyId/);
    // Without keys (the host has none in its environment) the field to fill in is named.
    expect((await refused({ location })).field).toBe('credentials.s3AccessKeyId');
    expect((await refused({ location, credentials: { s3AccessKeyId: s3.accessKeyId } })).field).toBe('credentials.s3SecretAccessKey');
    expect(state()).toEqual(before);
  });

  it('S3 behind a signature check (s3rver checks only the key ID): the right secret passes, a wrong one fails naming credentials.s3SecretAccessKey', async () => {
    const front = await startSignatureCheckingFront(s3);
    try {
      const location = `s3:${front.endpoint}/${s3.bucket}/signed`;
      const before = state();
      expect(await tryIt({ location, credentials: { s3AccessKeyId: s3.accessKeyId, s3SecretAccessKey: s3.secretAccessKey } })).toMatchObject({ ok: true, initialized: false });
      expect(front.refused).toBe(0);
      const r = await tryIt({ location, credentials: { s3AccessKeyId: s3.accessKeyId, s3SecretAccessKey: secret(randomBytes(20).toString('base64')) } });
      expect(r).toMatchObject({ ok: false, field: 'credentials.s3SecretAccessKey' });
      expect(r.message).toMatch(/SignatureDoesNotMatch/);
      expect(front.refused).toBeGreaterThan(0);
      // The same through a reference to a file holding the wrong secret.
      writeFileSync(path.join(work, 's3-secret.txt'), secret(randomBytes(20).toString('hex')));
      const viaRef = await tryIt({ location, credentials: { s3AccessKeyId: s3.accessKeyId }, credentialRefs: { s3SecretAccessKey: `file:${path.join(work, 's3-secret.txt')}` } });
      expect(viaRef).toMatchObject({ ok: false, field: 'credentialRefs.s3SecretAccessKey' });
      expect(state()).toEqual(before);
    } finally {
      await front.close();
    }
  });

  it('S3: a repository with its password opens; a wrong password names the password field', async () => {
    const location = `s3:${s3.endpoint}/${s3.bucket}/with-repo`;
    const keys = { s3AccessKeyId: s3.accessKeyId, s3SecretAccessKey: s3.secretAccessKey };
    const repoPassword = secret(randomBytes(12).toString('hex'));
    await svc.addRepository({ name: 's3-repo', location, password: repoPassword, create: true, credentials: keys });
    const before = state();
    expect(await tryIt({ location, credentials: keys, password: repoPassword })).toMatchObject({ ok: true, initialized: true });
    expect(await tryIt({ location, credentials: keys })).toMatchObject({ ok: true, initialized: true });
    expect(await tryIt({ location, credentials: keys, password: secret(`x${repoPassword}`) })).toMatchObject({ ok: false, field: 'password' });
    expect(state()).toEqual(before);
  });

  it('no response or error contains a secret', () => {
    expect(seen.length).toBeGreaterThan(15);
    const all = seen.join('\n');
    for (const s of secrets) expect(all.includes(s), `a secret (${s.length} chars) was found in a response`).toBe(false);
  });
});
