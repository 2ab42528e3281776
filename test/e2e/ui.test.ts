/**
 * End to end: the real UI (renderer/dist) in Debian's Chromium, served by the headless host
 * over a real service, SQLite file and repository. Creates a job through the editor (live
 * schedule preview and errors), runs it from the dashboard (live progress over WebSocket
 * events), and reads its log in Activity. Screenshots of each screen go to
 * test-artifacts/screenshots/.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeadlessHost, type HeadlessHost } from '../../main/host/headless.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { createApiClient, httpTransport } from '../../shared/api-client.js';
import type { RepositoryInfo } from '../../shared/api.js';
import { openWatchedPage, prepareBrowserTests, screenshot } from '../helpers/e2e-browser.js';
import { RENDERER_DIST as DIST } from '../helpers/renderer-build.js';
import { scratch } from '../helpers/tools.js';


let s: ReturnType<typeof scratch>;
let db: LifeboatDatabase;
let svc: LifeboatService;
let host: HeadlessHost;
let browser: Browser;
let page: Page;
let repo: RepositoryInfo;
const problems: string[] = [];
const failedCalls: string[] = [];

beforeAll(async () => {
  prepareBrowserTests();
  s = scratch('lifeboat-e2e-');
  const src = path.join(s.dir, 'documents');
  mkdirSync(path.join(src, 'letters'), { recursive: true });
  writeFileSync(path.join(src, 'letters', 'a.txt'), 'Dear admin,\n'.repeat(1000));
  writeFileSync(path.join(src, 'notes.md'), '# Notes\n');
  writeFileSync(path.join(src, 'cache.tmp'), 'excluded');
  // Incompressible data, so that under the job's bandwidth limit the run lasts a few seconds and its progress shows.
  writeFileSync(path.join(src, 'scan.bin'), randomBytes(1536 * 1024));
  db = openDatabase(path.join(s.dir, 'lifeboat.db'));
  svc = new LifeboatService({ db, workers: 1 });
  host = await startHeadlessHost(svc, { staticDir: DIST });
  const api = createApiClient(httpTransport(host.url, host.token));
  writeFileSync(path.join(s.dir, 'repo.password'), 'e2e repository password');
  repo = await api.addRepository({ name: 'nas', location: path.join(s.dir, 'repo'), passwordRef: `file:${path.join(s.dir, 'repo.password')}`, create: true });

  ({ browser, page } = await openWatchedPage({ problems, failedCalls }));
});

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await svc?.stop();
  db?.close();
  s?.dispose();
});

const shot = (name: string) => screenshot(page, name);

describe('the UI in Chromium', () => {
  it('opens on the dashboard, authorised by the cookie the opening URL set', async () => {
    await page.goto(host.openUrl);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('Dashboard');
    await page.getByText('No backup jobs yet.').waitFor();
    await page.getByText('Live', { exact: true }).waitFor();
    // The token left the URL's query for an HttpOnly cookie the page cannot read.
    expect(await page.evaluate('document.cookie')).toBe('');
    await shot('dashboard-empty');
  });

  it('creates a job in the editor, with the schedule previewed as it is typed and errors next to their fields', async () => {
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'New job' }).click();
    await page.getByRole('heading', { name: 'New job' }).waitFor();

    await page.getByLabel('Name').fill('Documents');
    // The only repository is preselected; choosing it by label works too.
    await page.getByLabel('Repository').selectOption({ label: `nas (${repo.location})` });
    await page.getByLabel('Source paths').fill(path.join(s.dir, 'documents'));
    await page.getByLabel('Excludes').fill('*.tmp');

    const schedule = page.getByLabel('Schedule', { exact: true });
    await schedule.pressSequentially('Mon..Fri 18:00', { delay: 20 });
    const preview = page.locator('.schedule-preview');
    await preview.locator('code.normalized', { hasText: 'Mon..Fri *-*-* 18:00:00' }).waitFor();
    await expect.poll(() => preview.locator('.next-runs li').count()).toBe(5);
    const slots = await preview.locator('.next-runs time').evaluateAll((els) => els.map((e) => e.getAttribute('datetime') ?? ''));
    expect(slots).toHaveLength(5);
    for (const t of slots) {
      const d = new Date(t);
      expect(d.getUTCHours() === 18 || d.getTimezoneOffset() !== 0, t).toBe(true);
      expect([1, 2, 3, 4, 5]).toContain(d.getDay());
    }
    expect(await preview.locator('.next-runs li').first().textContent()).toMatch(/^(Mon|Tue|Wed|Thu|Fri), /);

    // A bad expression: the error names the token and the column, and marks the token.
    await schedule.fill('');
    await schedule.pressSequentially('Mon..Fxi 18:00', { delay: 20 });
    const scheduleError = preview.locator('.field-error');
    await scheduleError.filter({ hasText: 'invalid weekday "Fxi" at column 6' }).waitFor();
    expect(await scheduleError.locator('mark').textContent()).toBe('Fxi');
    expect(await schedule.getAttribute('aria-invalid')).toBe('true');
    await shot('job-editor-schedule-error');

    // The service's validation error lands next to the field it names, which takes focus.
    await schedule.fill('Mon..Fri 18:00');
    await preview.locator('code.normalized').waitFor();
    await page.getByLabel('Upload workers').fill('99');
    await page.getByLabel('Bandwidth limit (KiB/s)').fill('256');
    await page.getByLabel('Name').press('Enter');
    const workersError = page.locator('[data-field="uploadWorkers"] .field-error');
    await workersError.waitFor();
    expect(await workersError.textContent()).toBe('must be a whole number from 1 to 16');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('field-uploadWorkers');
    await shot('job-editor-field-error');
    await page.getByLabel('Upload workers').fill('4');
    expect(await workersError.count()).toBe(0);
    await page.getByLabel('When the previous run is still going').selectOption('skip');
    await shot('job-editor');

    // Enter submits the form; the dashboard shows the new job with its next run and why.
    await page.getByLabel('Upload workers').press('Enter');
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    const row = page.locator('tbody.job[data-job="Documents"]');
    await row.waitFor();
    const next = row.locator('.next-run time');
    const nextAt = await next.getAttribute('datetime');
    expect(nextAt).toBe(slots[0]);
    expect(await row.locator('.next-run .reason').textContent()).not.toBe('');
    expect(await row.locator('.last-run').textContent()).toContain('Never run');
    await page.getByText('Saved job “Documents”.').waitFor();
  });

  it('runs the job from the dashboard and shows its progress and result live', async () => {
    const row = page.locator('tbody.job[data-job="Documents"]');
    await row.getByRole('button', { name: 'Run Documents now' }).click();
    // Live progress from runProgress events: the bar with figures, then the result, without reloading.
    const progress = row.locator('.active-run progress');
    await progress.waitFor();
    await row.locator('.progress-figures').waitFor();
    expect(await row.locator('.progress-figures').textContent()).toMatch(/of .* files · .*\/s/);
    // The files are read at once; the upload, limited to 256 KiB/s, takes a few seconds: show that phase.
    await row.locator('.active-run', { hasText: 'uploading' }).waitFor();
    await shot('dashboard-running');
    await row.locator('.last-run .badge-success').waitFor({ timeout: 60_000 });
    expect(await row.locator('.active-run').count()).toBe(0);
    expect(await row.locator('.last-run').textContent()).toMatch(/took \d+:\d\d · .* added/);
    await shot('dashboard');
  });

  it('shows the run in Activity with its details and log', async () => {
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByRole('heading', { name: 'Activity', level: 1 }).waitFor();
    const first = page.locator('.runs tbody tr').first();
    await first.locator('.badge-success').waitFor();
    expect(await first.textContent()).toContain('Documents');
    await first.getByRole('link').click();
    const details = page.locator('.run-details');
    await details.getByRole('heading', { name: /Run #\d+ of Documents/ }).waitFor();
    const log = details.locator('pre.log');
    await expect.poll(() => log.textContent()).toMatch(/\S/);
    expect(await log.textContent()).not.toBe('Loading…');
    expect(await details.textContent()).toMatch(/new, 0 changed/);
    await shot('activity');
  });

  it('lists the job and reopens it in the editor with its settings', async () => {
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor();
    await page.getByRole('row', { name: /Documents/ }).waitFor();
    await shot('jobs');
    await page.getByRole('link', { name: 'Documents' }).click();
    await page.getByRole('heading', { name: 'Edit job “Documents”' }).waitFor();
    expect(await page.getByLabel('Schedule', { exact: true }).inputValue()).toBe('Mon..Fri 18:00');
    expect(await page.getByLabel('Upload workers').inputValue()).toBe('4');
    expect(await page.getByLabel('Bandwidth limit (KiB/s)').inputValue()).toBe('256');
    expect(await page.getByLabel('When the previous run is still going').inputValue()).toBe('skip');
  });

  it('sets the restore-test policy in the editor, with a refused setting shown at its field', async () => {
    expect(await page.getByLabel('A passing test every (days)').inputValue()).toBe('90');
    await page.getByLabel('A passing test every (days)').fill('10');
    await page.getByLabel('Target RTO (minutes)').fill('45');
    await page.getByLabel('Automatic drills (calendar event)').fill('Sun 04:00');
    // The reminder (14 days by default) must come within the cadence: the service says so at that field.
    await page.getByRole('button', { name: 'Save changes' }).click();
    const dueSoonError = page.locator('[data-field="dueSoonDays"] .field-error');
    await dueSoonError.waitFor();
    expect(await dueSoonError.textContent()).toContain('must be less than cadenceDays (10)');
    expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('field-dueSoonDays');
    await page.getByLabel('Remind this many days before').fill('3');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved job “Documents”.').waitFor();
    const api = createApiClient(httpTransport(host.url, host.token));
    const [status] = (await api.listJobs()).filter((j) => j.job.name === 'Documents');
    expect(status!.job.restoreTest).toMatchObject({ cadenceDays: 10, dueSoonDays: 3, targetRtoMinutes: 45, drillSchedule: 'Sun 04:00' });
  });

  it('met no script errors or Content-Security-Policy violations', () => {
    expect(problems).toEqual([]);
    // Only the refusals the test provoked: the bad schedule (previewed as typed), the bad upload workers,
    // and the restore-test reminder longer than its cadence.
    expect(new Set(failedCalls)).toEqual(new Set(['400 /api/previewSchedule', '400 /api/createJob', '400 /api/updateJob']));
    expect(failedCalls.filter((c) => c === '400 /api/createJob')).toHaveLength(1);
    expect(failedCalls.filter((c) => c === '400 /api/updateJob')).toHaveLength(1);
  });
});
