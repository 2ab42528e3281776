/**
 * First-run setup in Debian's Chromium with an SFTP target on a real sshd (started here) whose
 * connection is tested with the key being typed: a wrong passphrase is refused naming the field,
 * the right one shows the server's new host-key fingerprint, which must be confirmed before going
 * on; the test pins and stores nothing, adding the repository does. Then to a finished backup.
 * And the Settings repository form with an S3 target on a real s3rver, keys typed and tested.
 * Screenshots go to test-artifacts/screenshots/.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessHost } from '../../main/host/headless.js';
import type { LifeboatService } from '../../main/service/service.js';
import { startE2eApp, type E2eApp } from '../helpers/e2e-app.js';
import { prepareBrowserTests, screenshot } from '../helpers/e2e-browser.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { sshKeygen, startSshd, type Sshd } from '../helpers/sshd.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let sshd: Sshd;
let s3: S3Server;
let src: string;
let app: E2eApp;
let svc: LifeboatService;
let host: HeadlessHost;
let page: Page;
let keyText: string;
let knownHosts: string;
const passphrase = 'a passphrase typed in setup 7f3c';
const problems: string[] = [];
const failedCalls: string[] = [];

beforeAll(async () => {
  prepareBrowserTests();
  s = scratch('lifeboat-e2e-setup-sftp-');
  [sshd, s3] = await Promise.all([startSshd(), startS3Server()]);
  const keyFile = sshKeygen(path.join(s.dir, 'id_setup'), 'ed25519', passphrase);
  sshd.authorize(readFileSync(`${keyFile}.pub`, 'utf8'));
  keyText = readFileSync(keyFile, 'utf8');
  src = path.join(s.dir, 'site');
  mkdirSync(src);
  writeFileSync(path.join(src, 'orders.csv'), 'id,total\n1,42\n');
  knownHosts = path.join(s.dir, 'known_hosts.json');
  app = await startE2eApp(s.dir, { problems, failedCalls }, {
    // What `lifeboat serve` gives: Lifeboat's own host-key pin file, no credentials.
    targetOptions: (location) => (/^sftp:/.test(location) ? { sftp: { knownHostsFile: knownHosts } } : {}),
  });
  ({ svc, host, page } = app);
}, 180_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([sshd?.dispose(), s3?.dispose()]);
  s?.dispose();
});

const shot = (name: string) => screenshot(page, name);
const next = () => page.getByRole('button', { name: 'Next' }).click();
const testButton = () => page.getByRole('button', { name: 'Test connection' });

describe('first-run setup with an SFTP target', () => {
  it('tests the connection with the typed key, shows the host key to confirm, then backs up', async () => {
    await page.goto(host.openUrl);
    await page.getByRole('link', { name: 'Set up your first backup' }).click();
    await page.getByLabel('Name of this backup').fill('Shop');
    await page.getByRole('textbox', { name: 'Folders', exact: true }).fill(src);
    await next();

    await page.getByRole('heading', { name: 'Step 2 of 5: Target' }).waitFor();
    const location = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${path.join(s.dir, 'offsite')}`;
    await page.getByLabel('Location').fill(location);
    // The credential fields appear for an sftp: location.
    await page.getByLabel('Private key').fill(keyText);
    await page.getByLabel('Key passphrase').fill('not the passphrase');
    await testButton().click();
    await page.getByText('Connection failed: credentials.sftpKeyPassphrase: ').waitFor();
    expect(await page.getByLabel('Key passphrase').getAttribute('aria-invalid')).toBe('true');
    await next();
    await page.getByRole('alert').filter({ hasText: 'credentials.sftpKeyPassphrase: test the connection first' }).waitFor();

    await page.getByLabel('Key passphrase').fill(passphrase);
    await testButton().click();
    await page.getByText('Connection OK: reachable; no repository there yet').waitFor();
    await expect(page.locator('.connection-test code.fingerprint').textContent()).resolves.toBe(sshd.hostFingerprint);
    // Testing pinned nothing and stored nothing.
    expect(existsSync(knownHosts)).toBe(false);
    expect(await svc.listRepositories()).toEqual([]);
    // The fingerprint must be confirmed before going on.
    await next();
    await page.getByRole('alert').filter({ hasText: 'confirm the server’s host key fingerprint' }).waitFor();
    await page.getByLabel('This is the server’s fingerprint').check();
    await shot('setup-sftp-2-target-tested');
    await next();

    await page.getByRole('heading', { name: 'Step 3 of 5: Password' }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByLabel('Password again').fill('correct horse battery');
    await next();
    await page.getByRole('heading', { name: 'Step 4 of 5: Schedule' }).waitFor();
    await next();
    await page.getByRole('heading', { name: 'Step 5 of 5: Retention' }).waitFor();
    await page.getByRole('button', { name: 'Finish' }).click();

    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.locator('tbody.job[data-job="Shop"] .last-run .badge-success').waitFor({ timeout: 90_000 });
    await shot('setup-sftp-done-dashboard');
    // Adding the repository stored the key and passphrase as references and pinned the confirmed key.
    const [repo] = await svc.listRepositories();
    expect(repo).toMatchObject({ name: 'backups', location });
    expect([...repo!.credentials].sort()).toEqual(['sftpKeyPassphrase', 'sftpPrivateKey']);
    const pins = JSON.parse(readFileSync(knownHosts, 'utf8')) as { hosts: Record<string, { fingerprint: string }> };
    expect(pins.hosts[`127.0.0.1:${sshd.port}`]?.fingerprint).toBe(sshd.hostFingerprint);
    const dbBytes = readFileSync(path.join(s.dir, 'lifeboat.db')).toString('latin1') + (existsSync(path.join(s.dir, 'lifeboat.db-wal')) ? readFileSync(path.join(s.dir, 'lifeboat.db-wal')).toString('latin1') : '');
    expect(dbBytes.includes(passphrase)).toBe(false);
    expect(dbBytes.includes(keyText.split('\n')[1]!)).toBe(false);
  });

  it('the Settings repository form tests an S3 target with the keys typed, then adds it', async () => {
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    const location = `s3:${s3.endpoint}/${s3.bucket}/offsite`;
    await page.getByLabel('Name', { exact: true }).fill('bucket');
    await page.getByLabel('Location', { exact: true }).fill(location);
    await page.getByLabel('Access key ID').fill('AKIANOSUCHKEY0000000');
    await page.getByLabel('Secret access key').fill('not the secret');
    await testButton().click();
    await page.getByText('Connection failed: credentials.s3AccessKeyId: ').waitFor();
    await page.getByLabel('Access key ID').fill(s3.accessKeyId);
    await page.getByLabel('Secret access key').fill(s3.secretAccessKey);
    await testButton().click();
    await page.getByText('Connection OK: reachable; no repository there yet').waitFor();
    expect((await svc.listRepositories()).map((r) => r.name)).toEqual(['backups']);
    await page.getByLabel('Password', { exact: true }).fill('a long bucket password');
    await shot('settings-repository-s3-tested');
    await page.getByRole('button', { name: 'Add repository' }).click();
    await page.getByRole('table', { name: 'Repositories' }).getByRole('link', { name: 'bucket' }).waitFor();
    const added = (await svc.listRepositories()).find((r) => r.name === 'bucket');
    expect([...added!.credentials].sort()).toEqual(['s3AccessKeyId', 's3SecretAccessKey']);
  });

  it('met no script errors', () => {
    expect(problems).toEqual([]);
  });
});
