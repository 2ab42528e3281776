/**
 * End to end, the rest of the UI in Debian's Chromium against the headless host over a real
 * service, SQLite file, encrypted secrets file and local repository: first-run setup through to a
 * finished backup; browsing a snapshot and restoring a file (bytes checked on disk); comparing two
 * snapshots; a failing job turning the state red and its acknowledgement turning it green;
 * pausing schedules; settings and export. A screenshot of each screen goes to
 * test-artifacts/screenshots/.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessHost } from '../../main/host/headless.js';
import type { LifeboatService } from '../../main/service/service.js';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { startE2eApp, type E2eApp } from '../helpers/e2e-app.js';
import { prepareBrowserTests, screenshot } from '../helpers/e2e-browser.js';
import { scratch } from '../helpers/tools.js';


let s: ReturnType<typeof scratch>;
let src: string;
let app: E2eApp;
let svc: LifeboatService;
let host: HeadlessHost;
let page: Page;
const problems: string[] = [];
const failedCalls: string[] = [];
const logo = pseudoRandom('e2e-logo', 300_000);

beforeAll(async () => {
  prepareBrowserTests();
  s = scratch('lifeboat-e2e-desktop-');
  src = path.join(s.dir, 'site');
  mkdirSync(path.join(src, 'www', 'img'), { recursive: true });
  writeFileSync(path.join(src, 'www', 'index.html'), '<h1>Welcome</h1>\n');
  writeFileSync(path.join(src, 'www', 'img', 'logo.png'), logo);
  writeFileSync(path.join(src, 'notes.txt'), 'old notes\n');
  app = await startE2eApp(s.dir, { problems, failedCalls });
  ({ svc, host, page } = app);
}, 180_000);

afterAll(async () => {
  await app?.close();
  s?.dispose();
});

/** expect.poll with room for two shared, busy cores (its default gives up after a second). */
const poll = <T>(fn: () => Promise<T> | T) => expect.poll(fn, { timeout: 30_000, interval: 100 });
const shot = (name: string) => screenshot(page, name);
const next = () => page.getByRole('button', { name: 'Next' }).click();
const banner = () => page.getByRole('region', { name: 'Overall state' });

describe('the desktop screens in Chromium', () => {
  it('first-run setup: five steps from nothing to a finished backup', async () => {
    await page.goto(host.openUrl);
    await page.getByText('No backup jobs yet.').waitFor();
    await page.getByRole('link', { name: 'Set up your first backup' }).click();
    await page.getByRole('heading', { name: 'Step 1 of 5: Folders' }).waitFor();
    // Next without a folder: the error says which field.
    await next();
    await page.getByRole('alert').filter({ hasText: 'sources.paths' }).waitFor();
    await page.getByLabel('Name of this backup').fill('Website');
    await page.getByRole('textbox', { name: 'Folders', exact: true }).fill(src);
    await shot('setup-1-folders');
    await next();

    await page.getByRole('heading', { name: 'Step 2 of 5: Target' }).waitFor();
    await page.getByLabel('Location').fill(path.join(s.dir, 'repo'));
    await next();
    await page.getByRole('alert').filter({ hasText: 'test the connection first' }).waitFor();
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('Connection OK: reachable; no repository there yet').waitFor();
    await shot('setup-2-target');
    await next();

    await page.getByRole('heading', { name: 'Step 3 of 5: Password' }).waitFor();
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery');
    await page.getByLabel('Password again').fill('correct horse batterx');
    await next();
    await page.getByRole('alert').filter({ hasText: 'the two entries differ' }).waitFor();
    await page.getByLabel('Password again').fill('correct horse battery');
    await shot('setup-3-password');
    await next();

    await page.getByRole('heading', { name: 'Step 4 of 5: Schedule' }).waitFor();
    await page.locator('.schedule-preview code.normalized', { hasText: '*-*-* 02:00:00' }).waitFor();
    await shot('setup-4-schedule');
    await next();

    await page.getByRole('heading', { name: 'Step 5 of 5: Retention' }).waitFor();
    await page.getByLabel('Daily').fill('10');
    await shot('setup-5-retention');
    await page.getByRole('button', { name: 'Finish' }).click();

    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    const row = page.locator('tbody.job[data-job="Website"]');
    await row.locator('.last-run .badge-success').waitFor({ timeout: 90_000 });
    await shot('setup-done-dashboard');
    // What the wizard made: a repository whose password is in the secrets file, a scheduled job with retention.
    const [repo] = await svc.listRepositories();
    expect(repo).toMatchObject({ name: 'backups', location: path.join(s.dir, 'repo') });
    expect(repo!.passwordRef).toMatch(/^vault:/);
    const [job] = await svc.listJobs();
    expect(job!.job).toMatchObject({ name: 'Website', schedule: '*-*-* 02:00:00', retention: { daily: 10, weekly: 4, monthly: 12 }, sources: { paths: [src] } });
  });

  it('browses a snapshot, searches it and restores a file whose bytes match the original', async () => {
    // A second snapshot with changes, for the comparison below.
    writeFileSync(path.join(src, 'www', 'index.html'), '<h1>Welcome back</h1>\n');
    writeFileSync(path.join(src, 'www', 'about.html'), '<p>About us</p>\n');
    rmSync(path.join(src, 'notes.txt'));
    const [job] = await svc.listJobs();
    // Its retention (one a day) would forget the first snapshot after this second backup of the same day.
    await svc.updateJob(job!.job.id, { pruneAfterBackup: false });
    await svc.runNow(job!.job.id);
    await svc.idle();
    // The first snapshot's logo is what will be restored; the source copy goes away.
    rmSync(path.join(src, 'www', 'img', 'logo.png'));

    await page.getByRole('link', { name: 'Snapshots' }).click();
    await page.getByRole('heading', { name: 'Snapshots', level: 1 }).waitFor();
    const rows = page.getByRole('table', { name: 'Snapshots' }).locator('tbody tr');
    await poll(() => rows.count()).toBe(2);
    // Newest first: browse the older one.
    await rows.nth(1).getByRole('button', { name: /Browse snapshot/ }).click();
    const browser = page.locator('section.panel', { has: page.getByRole('heading', { name: /^Snapshot [0-9a-f]{8} of/ }) });
    await browser.waitFor();
    for (const part of src.split('/').filter(Boolean)) await browser.getByRole('button', { name: `📁 ${part}`, exact: true }).click();
    const listing = browser.getByRole('table', { name: `Contents of ${src}` });
    await listing.waitFor();
    expect(await listing.getByRole('row', { name: /notes\.txt/ }).textContent()).toContain('10 B');
    // A folder's size is the total below it.
    const www = listing.getByRole('row', { name: /www/ });
    expect(await www.textContent()).toContain('293 KiB'); // 300,017 bytes below it
    await shot('snapshots-browse');

    await browser.getByLabel('Search by name').fill('*.png');
    await browser.getByRole('button', { name: 'Search' }).click();
    const results = browser.getByRole('table', { name: 'Search results' });
    await results.getByText(`${src}/www/img/logo.png`).waitFor();
    await browser.getByLabel(`Select ${src}/www/img/logo.png for restore`).check();
    await shot('snapshots-search');

    const target = path.join(s.dir, 'restored');
    await browser.getByLabel('Folder', { exact: true }).fill(target);
    await browser.getByRole('button', { name: 'Restore', exact: true }).click();
    await browser.getByText(/Restored 1 files and \d+ folders/).waitFor();
    await shot('snapshots-restored');
    expect(readFileSync(path.join(target, src, 'www', 'img', 'logo.png')).equals(logo)).toBe(true);
  });

  it('compares two snapshots: added, removed and changed files', async () => {
    const rows = page.getByRole('table', { name: 'Snapshots' }).locator('tbody tr');
    await rows.nth(0).getByRole('checkbox').check();
    await rows.nth(1).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Compare selected (2/2)' }).click();
    await page.getByRole('heading', { name: /^Changes from/ }).waitFor();
    expect(await page.getByRole('list', { name: 'Added' }).textContent()).toContain(`${src}/www/about.html`);
    expect(await page.getByRole('list', { name: 'Removed' }).textContent()).toContain(`${src}/notes.txt`);
    const changed = await page.getByRole('list', { name: 'Changed' }).textContent();
    expect(changed).toContain(`${src}/www/index.html`);
    expect(changed).toContain('(was 17 B)');
    await page.getByRole('heading', { name: /^Changes from/ }).scrollIntoViewIfNeeded();
    await shot('snapshots-compare');
  });

  it('a failing job turns the state red; acknowledging the failure turns it green', async () => {
    const [repo] = await svc.listRepositories();
    const failing = await svc.createJob({ name: 'Database', repositoryId: repo!.id, sources: { paths: [src] }, preCommand: 'echo "mysqldump: access denied" >&2; exit 2' });
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await poll(() => banner().getAttribute('data-level')).toBe('green');
    const run = await svc.runNow(failing.id);
    // Live: the banner turns red from the appStatusChanged event, without reloading.
    await poll(() => banner().getAttribute('data-level')).toBe('red');
    expect(await banner().textContent()).toContain('1 failed run to look at');
    await shot('dashboard-red');

    await page.getByRole('link', { name: 'Activity' }).click();
    await page.getByLabel('Status').selectOption({ label: 'Failed, not acknowledged' });
    const rows = page.locator('.runs tbody tr');
    await poll(() => rows.count()).toBe(1);
    await rows.first().getByRole('link').click();
    const details = page.locator('.run-details');
    await details.getByText('pre-command failed (exit 2)').first().waitFor();
    await poll(() => details.locator('pre.log').textContent()).toContain('mysqldump: access denied');
    // The run's phases, in order, from its log.
    const phases = await details.getByRole('list', { name: 'Phases' }).locator('li').allTextContents();
    expect(phases.map((p) => p.replace(/^.*?\d\d:\d\d:\d\d\s*/, ''))).toEqual([
      'queued (manual): started by hand',
      expect.stringMatching(/^pre-command: echo/),
      'failed: pre-command failed (exit 2); the backup did not start',
    ]);
    await shot('activity-failed');
    await details.getByRole('button', { name: 'Acknowledge failure' }).click();
    await poll(() => rows.count()).toBe(0);
    expect((await svc.listRuns({ jobId: failing.id })).find((r) => r.id === run.id)!.acknowledged).toBe(true);

    await page.getByRole('link', { name: 'Dashboard' }).click();
    await poll(() => banner().getAttribute('data-level')).toBe('green');
    await shot('dashboard-acknowledged');
  });

  it('pauses all schedules from the dashboard and resumes them', async () => {
    await banner().getByRole('button', { name: 'Pause schedules 1 h' }).click();
    await banner().getByText(/Schedules paused until/).waitFor();
    expect(await banner().getAttribute('data-level')).toBe('amber');
    expect((await svc.getAppStatus()).pausedUntil).not.toBeNull();
    await shot('dashboard-paused');
    await banner().getByRole('button', { name: 'Resume schedules' }).click();
    await poll(() => banner().getAttribute('data-level')).toBe('green');
    expect((await svc.getAppStatus()).pausedUntil).toBeNull();
  });

  it('changes settings (errors by field), shows the data folder, exports the jobs', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    expect(await page.getByTestId('data-dir').textContent()).toBe(s.dir);
    await page.getByLabel('Runs at once (all jobs)').fill('40');
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('#maxConcurrentRuns-error', { hasText: 'must be a whole number from 1 to 16' }).waitFor();
    await page.getByLabel('Runs at once (all jobs)').fill('3');
    await page.getByLabel('Global bandwidth limit (KiB/s)').fill('4096');
    await page.getByLabel(/Start Lifeboat in the tray/).check();
    await page.getByLabel(/Desktop notifications/).uncheck();
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByText('Settings saved').waitFor();
    expect(await svc.getSettings()).toMatchObject({ maxConcurrentRuns: 3, bandwidth: { limitKiBps: 4096 }, startAtLogin: true, notifications: { desktop: false } });
    await page.reload();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
    expect(await page.getByLabel('Runs at once (all jobs)').inputValue()).toBe('3');

    // A second repository, added from Settings after a connection test.
    await page.getByLabel('Name', { exact: true }).fill('offsite');
    await page.getByLabel('Location', { exact: true }).fill(path.join(s.dir, 'repo2'));
    await page.getByRole('button', { name: 'Test connection' }).click();
    await page.getByText('OK: reachable; no repository there yet: one will be created').waitFor();
    await page.getByLabel('Password', { exact: true }).fill('another long password');
    await page.getByRole('button', { name: 'Add repository' }).click();
    await page.getByRole('table', { name: 'Repositories' }).getByRole('link', { name: 'offsite' }).waitFor();
    expect((await svc.listRepositories()).map((r) => r.name).sort()).toEqual(['backups', 'offsite']);
    expect(existsSync(path.join(s.dir, 'repo2', 'config'))).toBe(true);

    await page.getByRole('button', { name: 'Export jobs' }).click();
    await poll(() => page.getByLabel('Jobs export (JSON)').inputValue()).toContain('"format": "lifeboat-jobs"');
    const exported = JSON.parse(await page.getByLabel('Jobs export (JSON)').inputValue()) as { jobs: { name: string; repository: string }[] };
    expect(exported.jobs.map((j) => [j.name, j.repository]).sort()).toEqual([['Database', 'backups'], ['Website', 'backups']]);
    // Importing the same jobs again is refused by name, all or nothing.
    await page.getByRole('button', { name: 'Import jobs from the text below' }).click();
    await page.getByRole('alert').filter({ hasText: /jobs\[0\]\.name: a job named "\w+" already exists/ }).waitFor();
    await page.getByRole('heading', { name: 'Settings', level: 1 }).scrollIntoViewIfNeeded();
    await shot('settings');
  });

  it('is usable with the keyboard alone: the main navigation and a form', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Snapshots');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Snapshots', level: 1 }).waitFor();
  });

  it('met no script errors or Content-Security-Policy violations', () => {
    expect(problems).toEqual([]);
    // Only the refusals the test provoked.
    expect(new Set(failedCalls)).toEqual(new Set(['400 /api/updateSettings', '400 /api/importJobs']));
  });
});
