/**
 * End to end in Debian's Chromium (1280x800) against the headless host over a real service,
 * SQLite file and encrypted secrets file: the Settings screen's notification channels. Errors
 * appear at their field, "Send test" delivers to a real loopback HTTP server (signed) and a
 * real SMTP server (AUTH over STARTTLS) and shows the outcome, the buttons work from the
 * keyboard, and a typed secret is never shown again. Screenshots: settings-notifications(-email).png.
 */
import { createHmac } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessHost } from '../../main/host/headless.js';
import type { LifeboatService } from '../../main/service/service.js';
import { startE2eApp, type E2eApp } from '../helpers/e2e-app.js';
import { prepareBrowserTests, screenshot } from '../helpers/e2e-browser.js';
import { makeCertificate, startSmtpServer, startWebhookServer, type SmtpTestServer, type WebhookServer } from '../helpers/notify-servers.js';
import { requireTool, scratch } from '../helpers/tools.js';

requireTool('openssl');

let s: ReturnType<typeof scratch>;
let app: E2eApp;
let svc: LifeboatService;
let host: HeadlessHost;
let page: Page;
let hook: WebhookServer;
let smtp: SmtpTestServer;
const problems: string[] = [];
const failedCalls: string[] = [];
const SMTP_PASSWORD = 'e2e smtp password 7f3a';
const SIGNING = 'e2e signing secret 91bd';

beforeAll(async () => {
  prepareBrowserTests();
  s = scratch('lifeboat-e2e-notify-');
  const cert = makeCertificate();
  [hook, smtp] = await Promise.all([startWebhookServer(), startSmtpServer({ ...cert, user: 'alerts', password: SMTP_PASSWORD })]);
  app = await startE2eApp(s.dir, { problems, failedCalls }, { hostName: 'e2e-box', smtpCa: cert.cert, notificationTimeoutMs: 10_000, warn: () => {} });
  ({ svc, host, page } = app);
}, 180_000);

afterAll(async () => {
  await app?.close();
  await Promise.all([hook?.close(), smtp?.close()]);
  s?.dispose();
});

const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 30_000, interval: 100 });

describe('notification channels in Settings', () => {
  it('errors at their field, test messages delivered and shown, keyboard usable, secrets never shown', async () => {
    await page.goto(host.openUrl);
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Notification channels', level: 2 }).waitFor();

    // Webhook: a bad URL is refused at the URL field.
    await page.getByLabel(/Send notifications to a webhook/).check();
    await page.getByLabel('Webhook URL').fill('hooks.example.org/lifeboat');
    await page.getByRole('button', { name: 'Save notification channels' }).click();
    await page.locator('[id="notifications.webhook.url-error"]', { hasText: 'is not a valid URL' }).waitFor();
    expect(await page.getByLabel('Webhook URL').getAttribute('aria-invalid')).toBe('true');
    // A header line without a colon is refused at the headers field before anything is sent.
    await page.getByLabel('Webhook URL').fill(hook.url);
    await page.getByLabel('Extra headers').fill('Authorization Bearer x');
    await page.getByRole('button', { name: 'Save notification channels' }).click();
    await page.locator('[id="notifications.webhook.headers-error"]', { hasText: 'write each header as Name: value' }).waitFor();
    await page.getByLabel('Extra headers').fill('Authorization: Bearer team-token');
    await page.getByLabel('Signing secret', { exact: true }).fill(SIGNING);
    await page.getByRole('button', { name: 'Send test webhook' }).click();
    await page.getByTestId('webhook-test').filter({ hasText: /^Delivered at/ }).waitFor();
    const req = hook.requests.at(-1)!;
    expect(req.headers.authorization).toBe('Bearer team-token');
    expect(req.headers['x-lifeboat-signature']).toBe(`sha256=${createHmac('sha256', SIGNING).update(req.body).digest('hex')}`);
    expect(JSON.parse(req.body)).toMatchObject({ version: 1, kind: 'test', host: 'e2e-box' });
    await page.getByTestId('webhook-last').filter({ hasText: 'delivered' }).waitFor();
    // The secret is gone from the field; the view only says one is stored.
    expect(await page.getByLabel('Signing secret', { exact: true }).inputValue()).toBe('');
    expect(await page.getByLabel('Signing secret', { exact: true }).getAttribute('placeholder')).toBe('stored; type to replace');

    // Email: a bad recipient is refused at the To field.
    await page.getByLabel(/Send notifications by email/).check();
    await page.getByLabel('SMTP server').fill('127.0.0.1');
    await page.getByLabel('SMTP port').fill(String(smtp.port));
    await page.getByLabel('Connection security').selectOption('starttls');
    await page.getByLabel('SMTP user name').fill('alerts');
    await page.getByLabel('SMTP password', { exact: true }).fill(SMTP_PASSWORD);
    await page.getByLabel('From').fill('lifeboat@example.org');
    await page.getByLabel('To', { exact: true }).fill('admin@example.org, nobody');
    await page.getByRole('button', { name: 'Save notification channels' }).click();
    await page.locator('[id="notifications.email.to-error"]', { hasText: '"nobody" is not an email address' }).waitFor();
    await page.getByLabel('To', { exact: true }).fill('admin@example.org, team@example.org');
    // From the keyboard: Tab from the last field to the test button, Enter.
    await page.getByLabel('To', { exact: true }).focus();
    await page.keyboard.press('Tab');
    await poll(() => page.evaluate('document.activeElement?.textContent')).toBe('Send test email');
    await page.keyboard.press('Enter');
    await page.getByTestId('email-test').filter({ hasText: /^Delivered at/ }).waitFor();
    expect(smtp.mails.at(-1)).toMatchObject({ to: ['admin@example.org', 'team@example.org'], secure: true, user: 'alerts' });
    expect(smtp.mails.at(-1)!.text).toContain('Subject: [Lifeboat e2e-box] Test notification from Lifeboat');
    expect(await page.getByLabel('SMTP password', { exact: true }).inputValue()).toBe('');

    // Stored as shown; at 1280x800 nothing runs off the side.
    expect((await svc.getSettings()).notifications).toMatchObject({
      webhook: { enabled: true, url: hook.url, headers: { Authorization: 'Bearer team-token' }, signingSecretStored: true },
      email: { enabled: true, host: '127.0.0.1', port: smtp.port, security: 'starttls', username: 'alerts', to: ['admin@example.org', 'team@example.org'], passwordStored: true },
    });
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
    await page.getByRole('heading', { name: 'Notification channels', level: 2 }).scrollIntoViewIfNeeded();
    await screenshot(page, 'settings-notifications');
    await page.getByRole('button', { name: 'Save notification channels' }).scrollIntoViewIfNeeded();
    await screenshot(page, 'settings-notifications-email');
    const html = await page.content();
    expect(html).not.toContain(SMTP_PASSWORD);
    expect(html).not.toContain(SIGNING);

    // A wrong password: the outcome names the channel.
    await page.getByLabel('SMTP password', { exact: true }).fill('not the password');
    await page.getByRole('button', { name: 'Send test email' }).click();
    await page.getByTestId('email-test').filter({ hasText: /^Not delivered: email \(SMTP 127\.0\.0\.1:\d+\): the server refused the user name or password/ }).waitFor();
    await page.getByTestId('email-last').filter({ hasText: 'failed' }).waitFor();
    await page.reload();
    await page.getByTestId('email-last').filter({ hasText: /failed: email \(SMTP/ }).waitFor();

    expect(problems).toEqual([]);
    // Only the two refused saves answered with an error status.
    expect(failedCalls).toEqual(['400 /api/updateSettings', '400 /api/updateSettings']);
  });
});
