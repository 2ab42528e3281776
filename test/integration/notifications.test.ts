/**
 * Webhook and email notifications through the real service: a real SQLite
 * file, real runs, Lifeboat's encrypted secrets file, a real HTTP server and
 * a real SMTP server (AUTH, STARTTLS and implicit TLS, certificate made by
 * openssl) on loopback. Checks the payload and its HMAC, retry after a 503
 * and none after a 400, the email's headers and text, a wrong SMTP password
 * named clearly, the RPO watchdog notifying once per breach (also across a
 * restart), overdue restore tests on both channels, the Notifier's bounded
 * retries and timeouts, and that the SMTP password and the signing secret appear nowhere:
 * database file, WAL and shm, API responses, run logs, warnings and errors.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Notifier } from '../../main/notify/notifier.js';
import { WebhookChannel } from '../../main/notify/webhook.js';
import { EncryptedFileSecretStore } from '../../main/service/secret-stores.js';
import { DefaultSecretResolver } from '../../main/service/secrets.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import type { WebhookPayload } from '../../shared/notifications.js';
import { makeCertificate, startSmtpServer, startWebhookServer, type SmtpTestServer, type WebhookServer } from '../helpers/notify-servers.js';
import { SecretWatch } from '../helpers/secret-watch.js';
import { requireTool, scratch } from '../helpers/tools.js';

requireTool('openssl');

let s: ReturnType<typeof scratch>;
let src: string;
let vault: EncryptedFileSecretStore;
let hook: WebhookServer;
let smtp: SmtpTestServer;
let smtps: SmtpTestServer;
let relay: SmtpTestServer;
let cert: { key: string; cert: string };
let db: LifeboatDatabase;
let svc: LifeboatService;
let clock = new Date('2026-03-02T08:00:00Z');
const warnings: string[] = [];
/** Every API response and error text seen, searched for secrets at the end. */
const watch = new SecretWatch();
const { seen } = watch;

const smtpPassword = `smtp-${randomBytes(12).toString('base64url')}`;
const signingSecret = `sign-${randomBytes(12).toString('base64url')}`;
const wrongPassword = `wrong-${randomBytes(12).toString('base64url')}`;
const dbFile = () => path.join(s.dir, 'lifeboat.db');

function service(extra: { maxTickMs?: number } = {}): LifeboatService {
  return new LifeboatService({
    ...extra,
    db, secretStore: vault, secrets: new DefaultSecretResolver(process.env, [vault]), now: () => clock, timeZone: 'UTC', workers: 1, hostName: 'office-nas',
    notificationRetry: { retries: 2, baseMs: 50, maxMs: 200 }, notificationTimeoutMs: 5000, smtpCa: cert.cert, warn: (l) => warnings.push(l),
  });
}

const api = <T>(p: Promise<T>): Promise<T> => watch.call(p);

const email = (port: number, security: 'starttls' | 'tls' | 'plain') => ({ enabled: true, host: '127.0.0.1', port, security, username: 'alerts', from: 'lifeboat@example.org', to: ['admin@example.org', 'backup-team@example.org'] });

beforeAll(async () => {
  s = scratch('lifeboat-notify-');
  src = path.join(s.dir, 'src');
  mkdirSync(src);
  writeFileSync(path.join(src, 'ledger.csv'), 'date,amount\n2026-03-01,42\n');
  cert = makeCertificate();
  [hook, smtp, smtps, relay] = await Promise.all([
    startWebhookServer(),
    startSmtpServer({ ...cert, user: 'alerts', password: smtpPassword }),
    startSmtpServer({ ...cert, user: 'alerts', password: smtpPassword, implicitTls: true }),
    startSmtpServer({ ...cert, user: 'alerts', password: smtpPassword, plain: true }),
  ]);
  vault = await EncryptedFileSecretStore.open(path.join(s.dir, 'secrets.vault'), 'vault passphrase for the test');
  db = openDatabase(dbFile(), { now: () => clock });
  svc = service();
}, 60_000);
afterAll(async () => {
  await svc?.stop();
  db?.close();
  await Promise.all([hook?.close(), smtp?.close(), smtps?.close(), relay?.close()]);
  s?.dispose();
});

describe('channels through the service', () => {
  let repoId: number;

  it('stores the channels with their secrets write-only, and says only whether a secret is stored', async () => {
    repoId = (await api(svc.addRepository({ name: 'nas', location: path.join(s.dir, 'repo'), passwordRef: `file:${s.passwordFile}`, create: true }))).id;
    const view = await api(svc.updateSettings({
      notifications: {
        webhook: { enabled: true, url: hook.url, headers: { Authorization: 'Bearer team-token' }, signingSecret: { set: signingSecret } },
        email: { ...email(smtp.port, 'starttls'), password: { set: smtpPassword } },
      },
    }));
    expect(view.notifications).toMatchObject({
      desktop: true,
      webhook: { enabled: true, url: hook.url, headers: { Authorization: 'Bearer team-token' }, signingSecretStored: true, lastDelivery: null },
      email: { enabled: true, host: '127.0.0.1', port: smtp.port, security: 'starttls', username: 'alerts', passwordStored: true },
    });
    expect(JSON.stringify(view)).not.toContain(smtpPassword);
    // Only references in the database; the secrets themselves are in the vault.
    expect(db.settings.get('notificationSecretRefs', {})).toEqual({ webhookSigning: 'vault:notifications:webhook-signing', smtpPassword: 'vault:notifications:smtp-password' });
    await expect(api(svc.updateSettings({ notifications: { email: { ...email(smtp.port, 'starttls'), port: 0 } } }))).rejects.toThrow('notifications.email.port: must be a whole number from 1 to 65535');
    await expect(api(svc.testNotification('sms' as 'email'))).rejects.toThrow('channel: must be one of webhook, email');
  });

  it('"Send test" delivers on each channel now: a signed JSON POST, and a mail over STARTTLS with AUTH', async () => {
    const w = await api(svc.testNotification('webhook'));
    expect(w).toMatchObject({ channel: 'webhook', delivered: true, attempts: 1, kind: 'test', error: null });
    const req = hook.requests.at(-1)!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBe('Bearer team-token');
    expect(req.headers['x-lifeboat-event']).toBe('test');
    expect(req.headers['x-lifeboat-signature']).toBe(`sha256=${createHmac('sha256', signingSecret).update(req.body).digest('hex')}`);
    expect(JSON.parse(req.body)).toMatchObject({ version: 1, kind: 'test', host: 'office-nas', job: null, run: null });

    const m = await api(svc.testNotification('email'));
    expect(m).toMatchObject({ channel: 'email', delivered: true, attempts: 1, kind: 'test', error: null });
    const mail = smtp.mails.at(-1)!;
    expect(mail).toMatchObject({ from: 'lifeboat@example.org', to: ['admin@example.org', 'backup-team@example.org'], secure: true, user: 'alerts' });
    expect(mail.text).toMatch(/^Subject: \[Lifeboat office-nas\] Test notification from Lifeboat$/m);
    expect(mail.text).toContain('This is a test of the email channel');
    expect((await api(svc.getSettings())).notifications.email.lastDelivery).toMatchObject({ delivered: true, kind: 'test' });
  });

  it('implicit TLS works too (port 465 style), and plain only when chosen', async () => {
    await api(svc.updateSettings({ notifications: { email: email(smtps.port, 'tls') } }));
    expect(await api(svc.testNotification('email'))).toMatchObject({ delivered: true });
    expect(smtps.mails.at(-1)).toMatchObject({ secure: true, user: 'alerts' });
    // A relay without TLS: refused under STARTTLS (never silently sent in clear), delivered when plain is chosen.
    await api(svc.updateSettings({ notifications: { email: email(relay.port, 'starttls') } }));
    const refused = await api(svc.testNotification('email'));
    expect(refused.delivered).toBe(false);
    expect(refused.error).toMatch(new RegExp(`^email \\(SMTP 127\\.0\\.0\\.1:${relay.port}\\): the server does not support STARTTLS`));
    expect(relay.mails).toHaveLength(0);
    await api(svc.updateSettings({ notifications: { email: email(relay.port, 'plain') } }));
    expect(await api(svc.testNotification('email'))).toMatchObject({ delivered: true });
    expect(relay.mails.at(-1)).toMatchObject({ secure: false, user: 'alerts' });
    await api(svc.updateSettings({ notifications: { email: email(smtp.port, 'starttls') } }));
    // The password stayed stored: settings without `password` leave it alone.
    expect((await api(svc.getSettings())).notifications.email.passwordStored).toBe(true);
  });

  it('a failing run delivers to both channels, retrying the webhook after a 503', async () => {
    const job = await api(svc.createJob({ name: 'accounts', repositoryId: repoId, sources: { paths: [src] }, preCommand: 'echo no database; exit 4' }));
    const before = { hooks: hook.requests.length, mails: smtp.mails.length };
    hook.answers.push(503);
    const run = await api(svc.runNow(job.id));
    await svc.idle();
    await svc.notificationsIdle();
    const posts = hook.requests.slice(before.hooks);
    expect(posts).toHaveLength(2); // the 503, then the retry
    expect(posts[0]!.body).toBe(posts[1]!.body);
    expect(posts[0]!.headers['x-lifeboat-delivery']).not.toBe(posts[1]!.headers['x-lifeboat-delivery']);
    const payload = JSON.parse(posts[1]!.body) as WebhookPayload;
    expect(payload).toMatchObject({
      version: 1, kind: 'run-finished', host: 'office-nas', severity: 'critical', title: 'Backup of "accounts" failed', job: { id: job.id, name: 'accounts' },
      run: { id: run.id, kind: 'backup', status: 'failed', error: 'pre-command failed (exit 4); the backup did not start', bytesProcessed: 0, bytesAdded: 0 },
    });
    expect(payload.run!.endedAt).toBe(clock.toISOString());
    expect(posts[1]!.headers['x-lifeboat-signature']).toBe(`sha256=${createHmac('sha256', signingSecret).update(posts[1]!.body).digest('hex')}`);

    const mails = smtp.mails.slice(before.mails);
    expect(mails).toHaveLength(1);
    expect(mails[0]!.text).toMatch(/^Subject: \[Lifeboat office-nas\] Backup of "accounts" failed$/m);
    expect(mails[0]!.text).toMatch(/^X-Lifeboat-Event: run-finished$/m);
    expect(mails[0]!.text).toContain('Job: accounts');
    expect(mails[0]!.text).toContain('pre-command failed (exit 4); the backup did not start');
    const log = await api(svc.getRunLog(run.id));
    expect(log).toContain('notification sent by webhook');
    expect(log).toContain('notification sent by email');
    const view = (await api(svc.getSettings())).notifications;
    expect(view.webhook.lastDelivery).toMatchObject({ delivered: true, attempts: 2, kind: 'run-finished' });
  });

  it('a 400 is not retried; the failure is recorded, logged and shown, and the run is not affected', async () => {
    const job = (await api(svc.listJobs())).find((j) => j.job.name === 'accounts')!.job;
    const before = hook.requests.length;
    hook.answers.push(400);
    const run = await api(svc.runNow(job.id));
    await svc.idle();
    await svc.notificationsIdle();
    expect(hook.requests.length - before).toBe(1);
    const last = (await api(svc.getSettings())).notifications.webhook.lastDelivery!;
    expect(last).toMatchObject({ delivered: false, attempts: 1, kind: 'run-finished' });
    // The URL's path is left out of messages (it may be the token).
    expect(last.error).toBe(`webhook (${new URL(hook.url).origin}/…): the server answered HTTP 400: answer 400`);
    expect(warnings.at(-1)).toContain('HTTP 400');
    expect(await api(svc.getRunLog(run.id))).toContain('notification by webhook failed: webhook (');
    expect((await api(svc.listRuns({ jobId: job.id })))[0]).toMatchObject({ id: run.id, status: 'failed', error: 'pre-command failed (exit 4); the backup did not start' });
  });

  it('a wrong SMTP password gives a clear error naming the channel, without the password', async () => {
    await api(svc.updateSettings({ notifications: { email: { ...email(smtp.port, 'starttls'), password: { set: wrongPassword } } } }));
    const refusedBefore = smtp.refusedLogins;
    const r = await api(svc.testNotification('email'));
    expect(r.delivered).toBe(false);
    expect(r.error).toMatch(new RegExp(`^email \\(SMTP 127\\.0\\.0\\.1:${smtp.port}\\): the server refused the user name or password \\(535`));
    expect(r.error).not.toContain(wrongPassword);
    expect(smtp.refusedLogins).toBe(refusedBefore + 1);
    // A refused login is permanent: a run's notification tries once, no retries.
    const job = (await api(svc.listJobs())).find((j) => j.job.name === 'accounts')!.job;
    await api(svc.runNow(job.id));
    await svc.idle();
    await svc.notificationsIdle();
    expect(smtp.refusedLogins).toBe(refusedBefore + 2);
    expect((await api(svc.getSettings())).notifications.email.lastDelivery).toMatchObject({ delivered: false, attempts: 1 });
    await api(svc.updateSettings({ notifications: { email: { ...email(smtp.port, 'starttls'), password: { set: smtpPassword } } } }));
  });

  it('STARTTLS is required when chosen: a server certificate not trusted is refused, not skipped', async () => {
    const other = new LifeboatService({ db, secretStore: vault, secrets: new DefaultSecretResolver(process.env, [vault]), now: () => clock, hostName: 'office-nas', notificationTimeoutMs: 5000, warn: (l) => warnings.push(l) });
    const r = await api(other.testNotification('email'));
    await other.stop();
    expect(r.delivered).toBe(false);
    expect(r.error).toMatch(/^email \(SMTP 127\.0\.0\.1:\d+\): TLS failed: .*certificate/i);
  });
});

describe('RPO watchdog', () => {
  it('notifies once when a job breaches, not again after a restart, and again only after it recovered', async () => {
    const repoId = (await api(svc.listRepositories()))[0]!.id;
    clock = new Date('2026-03-10T08:00:00Z');
    const job = await api(svc.createJob({ name: 'payroll', repositoryId: repoId, sources: { paths: [src] }, rpoHours: 2 }));
    const rpoPosts = () => hook.requests.map((r) => JSON.parse(r.body) as WebhookPayload).filter((p) => p.kind === 'rpo-breached');
    const rpoMails = () => smtp.mails.filter((m) => m.text.includes('no successful backup within 2 h'));
    await svc.tick();
    clock = new Date('2026-03-10T10:00:00Z'); // exactly 2 h: still within
    await svc.tick();
    await svc.notificationsIdle();
    expect(rpoPosts()).toHaveLength(0);

    clock = new Date('2026-03-10T10:00:31Z');
    await svc.tick();
    await svc.tick();
    await svc.notificationsIdle();
    expect(rpoPosts()).toHaveLength(1);
    expect(rpoPosts()[0]).toMatchObject({ kind: 'rpo-breached', job: { id: job.id, name: 'payroll' }, rpo: { thresholdHours: 2, lastSuccessAt: null }, title: '"payroll": no successful backup within 2 h' });
    expect(rpoMails()).toHaveLength(1);
    expect((await api(svc.getJob(job.id))).rpo.breached).toBe(true);

    // A restart: the breach is remembered in the settings table; the watchdog (on the timer, not only when asked) stays quiet.
    await svc.stop();
    svc = service({ maxTickMs: 100 });
    clock = new Date('2026-03-10T11:00:00Z');
    await svc.tick();
    await svc.notificationsIdle();
    expect(rpoPosts()).toHaveLength(1);

    // A successful backup: recovered. Two hours and a bit later: a new breach, a new notification.
    await api(svc.runNow(job.id));
    await svc.idle();
    await svc.tick();
    expect(db.settings.get<number[]>('rpoBreachedJobs', [])).not.toContain(job.id);
    // Nobody looks this time: the scheduler's own timer runs the watchdog.
    svc.start();
    clock = new Date('2026-03-10T13:01:00Z');
    const deadline = Date.now() + 10_000;
    while (rpoPosts().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await svc.notificationsIdle();
    expect(rpoPosts()).toHaveLength(2);
    expect(rpoPosts()[1]!.rpo).toEqual({ thresholdHours: 2, lastSuccessAt: '2026-03-10T11:00:00.000Z' });
    expect(rpoMails()).toHaveLength(2);
  });
});

describe('overdue restore tests', () => {
  it('reach the webhook and email too, once a day', async () => {
    const repoId = (await api(svc.listRepositories()))[0]!.id;
    clock = new Date('2026-03-11T09:00:00Z');
    const job = await api(svc.createJob({ name: 'drill', repositoryId: repoId, sources: { paths: [src] }, restoreTest: { cadenceDays: 30, dueSoonDays: 7 } }));
    await api(svc.runNow(job.id));
    await svc.idle();
    await api(svc.startRestoreTest({ jobId: job.id, scope: { kind: 'sample', files: 1 }, seed: 1 }));
    await svc.idle();
    const overduePosts = () => hook.requests.map((r) => JSON.parse(r.body) as WebhookPayload).filter((p) => p.kind === 'restore-test-overdue');
    clock = new Date('2026-04-18T10:00:00Z'); // cadence plus the week's grace: overdue
    await svc.tick();
    await svc.tick();
    await svc.notificationsIdle();
    expect(overduePosts()).toHaveLength(1);
    expect(overduePosts()[0]).toMatchObject({ kind: 'restore-test-overdue', title: 'Restore tests overdue', severity: 'critical', job: null, run: null });
    expect(overduePosts()[0]!.text).toContain('Restore test overdue: drill');
    expect(smtp.mails.filter((m) => m.text.includes('Subject: [Lifeboat office-nas] Restore tests overdue'))).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('the SMTP password and the signing secret appear in no database file, API response, log, warning or error', async () => {
    await svc.notificationsIdle();
    const haystacks: [string, string][] = [];
    for (const f of [dbFile(), `${dbFile()}-wal`, `${dbFile()}-shm`]) if (existsSync(f)) haystacks.push([f, readFileSync(f).toString('latin1')]);
    for (const r of await svc.listRuns({})) haystacks.push([`log of run ${r.id}`, await svc.getRunLog(r.id)]);
    haystacks.push(['API responses and errors', seen.join('\n')], ['warnings', warnings.join('\n')], ['settings', JSON.stringify(await svc.getSettings())]);
    expect(seen.length).toBeGreaterThan(20);
    expect(warnings.length).toBeGreaterThan(0);
    for (const secret of [smtpPassword, signingSecret, wrongPassword]) {
      for (const [where, text] of haystacks) expect(text.includes(secret), `${where} holds a secret`).toBe(false);
      expect(readFileSync(path.join(s.dir, 'secrets.vault'), 'latin1').includes(secret)).toBe(false);
    }
    // Clearing removes the secret from the store as well.
    await api(svc.updateSettings({ notifications: { webhook: { enabled: true, url: hook.url, headers: {}, signingSecret: { clear: true } } } }));
    expect((await svc.getSettings()).notifications.webhook.signingSecretStored).toBe(false);
    await expect(vault.get('vault:notifications:webhook-signing')).rejects.toThrow('no secret');
    await svc.testNotification('webhook');
    expect(hook.requests.at(-1)!.headers['x-lifeboat-signature']).toBeUndefined();
  });
});

describe('the Notifier on its own', () => {
  it('gives up after the bounded retries, and a receiver that never answers neither blocks the caller nor hangs', async () => {
    // A receiver that takes the request and never answers.
    const silent = http.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}/`;
    const results: { delivered: boolean; attempts: number; error: string | null }[] = [];
    const event = { kind: 'test' as const, at: clock.toISOString(), title: 't', text: 't', severity: 'normal' as const, job: null, run: null, rpo: null };
    try {
      const always503 = new Notifier({
        channels: () => [new WebhookChannel({ enabled: true, url: hook.url, headers: {} }, 'h', async () => null, 2000)],
        onResult: (r) => results.push(r),
        now: () => clock,
        retry: { retries: 2, baseMs: 20, maxMs: 50 },
      });
      const before = hook.requests.length;
      hook.answers.push(503, 503, 503, 503);
      always503.notify(event);
      await always503.idle();
      hook.answers.length = 0;
      expect(hook.requests.length - before).toBe(3);
      expect(results[0]).toMatchObject({ delivered: false, attempts: 3 });
      expect(results[0]!.error).toMatch(/HTTP 503: answer 503 \(gave up after 3 attempts\)$/);

      const hanging = new Notifier({
        channels: () => [new WebhookChannel({ enabled: true, url: silentUrl, headers: {} }, 'h', async () => null, 300)],
        onResult: (r) => results.push(r),
        now: () => clock,
        retry: { retries: 5, baseMs: 60_000, maxMs: 60_000 },
      });
      const t0 = Date.now();
      hanging.notify(event); // returns at once
      expect(Date.now() - t0).toBeLessThan(100);
      // The first attempt times out (transient) and would wait a minute to retry: stop cuts that short.
      await new Promise((r) => setTimeout(r, 600));
      await hanging.stop();
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(results[1]).toMatchObject({ delivered: false, attempts: 1 });
      expect(results[1]!.error).toBe(`webhook (${silentUrl}): could not be reached: no answer within 0.3 s (Lifeboat stopped before a retry)`);
    } finally {
      silent.closeAllConnections();
      await new Promise((r) => silent.close(r));
    }
  });
});
