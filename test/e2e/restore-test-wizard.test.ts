/**
 * End to end: the restore-test wizard in Debian's Chromium at 1280x800, served by the headless
 * host over a real service, SQLite file and repository (made by our backup). Walks the five
 * steps (going back on the way, a field-named error, keyboard only where it matters), then
 * checks the stored evidence through the API and the exported HTML and CSV reports, and the
 * due state on the dashboard and the jobs list. Screenshots go to test-artifacts/screenshots/.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHeadlessHost, type HeadlessHost } from '../../main/host/headless.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { createApiClient, httpTransport } from '../../shared/api-client.js';
import type { LifeboatApi } from '../../shared/api.js';
import type { Job } from '../../shared/jobs.js';
import { openWatchedPage, prepareBrowserTests, screenshot } from '../helpers/e2e-browser.js';
import { RENDERER_DIST as DIST } from '../helpers/renderer-build.js';
import { scratch } from '../helpers/tools.js';


let s: ReturnType<typeof scratch>;
let db: LifeboatDatabase;
let svc: LifeboatService;
let host: HeadlessHost;
let browser: Browser;
let page: Page;
let api: LifeboatApi;
let job: Job;
const problems: string[] = [];
const failedCalls: string[] = [];

beforeAll(async () => {
  prepareBrowserTests();
  s = scratch('lifeboat-e2e-rt-');
  const src = path.join(s.dir, 'site');
  for (const d of ['pages', 'images', 'db']) mkdirSync(path.join(src, d), { recursive: true });
  for (let i = 0; i < 8; i++) writeFileSync(path.join(src, 'pages', `page-${i}.html`), `<p>page ${i}</p>\n`.repeat(50));
  writeFileSync(path.join(src, 'images', 'logo.png'), randomBytes(600 * 1024));
  writeFileSync(path.join(src, 'db', 'dump.sql'), 'INSERT INTO t VALUES (1);\n'.repeat(5000));
  db = openDatabase(path.join(s.dir, 'lifeboat.db'));
  svc = new LifeboatService({ db, workers: 1 });
  host = await startHeadlessHost(svc, { staticDir: DIST });
  api = createApiClient(httpTransport(host.url, host.token));
  writeFileSync(path.join(s.dir, 'repo.password'), 'e2e repository password');
  const repo = await api.addRepository({ name: 'nas', location: path.join(s.dir, 'repo'), passwordRef: `file:${path.join(s.dir, 'repo.password')}`, create: true });
  job = await api.createJob({ name: 'Site', repositoryId: repo.id, sources: { paths: [src] }, restoreTest: { targetRtoMinutes: 30, scope: { kind: 'sample', files: 5 } } });
  await api.runNow(job.id);
  await svc.idle();

  ({ browser, page } = await openWatchedPage({ problems, failedCalls }, { acceptDownloads: true }));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await host?.close();
  await svc?.stop();
  db?.close();
  s?.dispose();
});

const shot = (name: string) => screenshot(page, name);
const stepHeading = (n: number) => page.getByRole('heading', { level: 2, name: new RegExp(`^Step ${n} of 5`) });
const focusedText = () => page.evaluate<string>("document.activeElement ? document.activeElement.textContent : ''");

describe('the restore-test wizard in Chromium', () => {
  it('shows that the job was never tested on the dashboard and the jobs list', async () => {
    await page.goto(host.openUrl);
    const row = page.locator('tbody.job[data-job="Site"]');
    await row.locator('.restore-test .badge', { hasText: 'Never tested' }).waitFor();
    expect(await row.locator('.restore-test').textContent()).toContain('never tested: no restore from this job has been proven yet');
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('row', { name: /Site/ }).locator('.badge', { hasText: 'Never tested' }).waitFor();
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await shot('restore-test-dashboard-never-tested');
  });

  it('step 1: the job and its latest snapshot, with size and age', async () => {
    await page.getByRole('link', { name: 'Test a restore of Site' }).click();
    await page.getByRole('heading', { name: 'Restore test', level: 1 }).waitFor();
    await stepHeading(1).waitFor();
    expect(await page.getByLabel('Job').inputValue()).toBe(String(job.id));
    const facts = page.locator('.snapshot-facts');
    await facts.waitFor();
    expect(await facts.textContent()).toMatch(/^Snapshot [0-9a-f]{8}: taken .*, .* in 10 files/);
    expect(await page.getByLabel('Snapshot').locator('option').first().textContent()).toMatch(/^Latest \([0-9a-f]{8}, /);
    expect(await page.locator('[aria-current="step"]').textContent()).toContain('Job and snapshot');
    expect(await page.locator('.job-policy').textContent()).toBe('Policy: a passing test every 90 days (due soon 14 days before); target RTO 30 min; no automatic drills.');
    await shot('restore-test-1-snapshot');
    // Keyboard: the Next button is reached with Tab and pressed with Enter; the new step's heading takes focus.
    await page.getByRole('button', { name: 'Next' }).focus();
    await page.keyboard.press('Enter');
    await stepHeading(2).waitFor();
    expect(await focusedText()).toBe('Step 2 of 5: Scope and sandbox');
  });

  it("step 2: the scope (the job's default preselected), back to step 1 and forward again keeps the choices", async () => {
    expect(await page.getByLabel('A random sample of files').isChecked()).toBe(true);
    expect(await page.getByLabel('Number of files').inputValue()).toBe('5');
    await page.getByLabel('Number of files').fill('3');
    await page.getByLabel('Seed (optional)').fill('seven');
    await page.getByRole('button', { name: 'Back' }).click();
    await stepHeading(1).waitFor();
    await page.getByRole('button', { name: 'Next' }).click();
    await stepHeading(2).waitFor();
    expect(await page.getByLabel('Number of files').inputValue()).toBe('3');
    // The full-snapshot option is reachable from the keyboard (arrow keys move within the radio group).
    await page.getByLabel('A random sample of files').focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.getByLabel('A random sample by size').isChecked()).toBe(true);
    await page.keyboard.press('ArrowUp');
    expect(await page.getByLabel('A random sample of files').isChecked()).toBe(true);
    await shot('restore-test-2-scope');
    await page.getByRole('button', { name: 'Next' }).click();
    await stepHeading(3).waitFor();
  });

  it('step 3: a bad setting is refused by the service and shown next to its field on step 2', async () => {
    expect(await page.locator('.plan').textContent()).toContain('sample of 3 files');
    await page.getByRole('button', { name: 'Start the test' }).click();
    await stepHeading(2).waitFor();
    const seedError = page.locator('.field.has-error', { has: page.getByLabel('Seed (optional)') }).locator('.field-error');
    await seedError.waitFor();
    expect(await seedError.textContent()).toMatch(/must be a whole number/);
    // The refused field has the focus, so the error is in view and the admin is at it.
    expect(await page.evaluate<string>('document.activeElement && document.activeElement.id')).toBe('rt-seed');
    await shot('restore-test-2-error');
    await page.getByLabel('Seed (optional)').fill('7');
    await page.getByRole('button', { name: 'Next' }).click();
    await stepHeading(3).waitFor();
  });

  it('step 3 runs the test with progress, then step 4 shows the results with the RTO', async () => {
    await page.getByRole('button', { name: 'Start the test' }).click();
    await page.locator('.run-status').waitFor();
    await shot('restore-test-3-run');
    await stepHeading(4).waitFor({ timeout: 120_000 });
    const verdict = page.locator('.verdict');
    expect(await verdict.textContent()).toMatch(/^Passed: test #\d+/);
    const plan = await page.locator('.results .plan').textContent();
    expect(plan).toContain('3 of 3');
    expect(plan).toContain('3 against the snapshot');
    expect(plan).toContain('3 also against the live source');
    expect(plan).toContain('30 min: met');
    expect(plan).toContain('sample of 3 files (seed 7)');
    await shot('restore-test-4-results');
    // Back to the run step: it shows the finished run; forward again to the results.
    await page.getByRole('button', { name: 'Back' }).click();
    await stepHeading(3).waitFor();
    expect(await page.locator('.run-status').textContent()).toContain('success');
    await page.getByRole('button', { name: 'Results' }).click();
    await stepHeading(4).waitFor();
    await page.getByRole('button', { name: 'Sign off' }).click();
    await stepHeading(5).waitFor();
  });

  it('step 5 signs off; the evidence is stored and exported as HTML and CSV', async () => {
    const operator = page.getByLabel('Operator');
    await operator.fill('Ann Admin');
    await page.getByLabel('Note').fill('Quarterly drill: website restored fine');
    await page.getByRole('button', { name: 'Sign off' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('.signed', { hasText: 'Signed off by Ann Admin' }).waitFor();
    await shot('restore-test-5-signed');

    const [stored] = await api.listRestoreTests({ jobId: job.id });
    expect(stored).toMatchObject({ passed: true, operator: 'Ann Admin', note: 'Quarterly drill: website restored fine', seed: 7, filesVerified: 3, targetRtoMinutes: 30, rtoMet: true, trigger: 'manual' });
    expect(stored!.sample).toHaveLength(3);
    expect(stored!.signedOffAt).not.toBeNull();

    const [htmlDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the evidence report (HTML)' }).click()]);
    expect(htmlDownload.suggestedFilename()).toMatch(/^lifeboat-restore-evidence-Site-\d{4}-\d{2}-\d{2}-to-\d{4}-\d{2}-\d{2}\.html$/);
    const html = readFileSync((await htmlDownload.path())!, 'utf8');
    expect(html).toContain('<th scope="row">Site</th>');
    expect(html).toMatch(/<td class="passed">passed \(1\/1\)<\/td><\/tr>/);
    expect(html).toContain(`Test #${stored!.id}: Site`);
    expect(html).toContain('Ann Admin');
    expect(html).toContain('Quarterly drill: website restored fine');
    expect(html).toContain('target RTO 30 min: met');

    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download the evidence (CSV)' }).click()]);
    expect(csvDownload.suggestedFilename()).toMatch(/\.csv$/);
    const csv = readFileSync((await csvDownload.path())!, 'utf8').split('\n');
    expect(csv[0]).toBe('section,job,quarter,tested,passed,tests,passing_tests');
    expect(csv.filter((l) => l.startsWith('quarter,Site,')).at(-1)).toMatch(/^quarter,Site,\d{4}-Q\d,yes,yes,1,1$/);
    expect(csv.find((l) => l.startsWith(`test,${stored!.id},Site,`))).toContain(',pass,Ann Admin,Quarterly drill: website restored fine,');

    // Back from sign-off works too.
    await page.getByRole('button', { name: 'Back' }).click();
    await stepHeading(4).waitFor();
  });

  it('shows the job as tested on the dashboard and the jobs list', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    const row = page.locator('tbody.job[data-job="Site"]');
    await row.locator('.restore-test .badge', { hasText: 'Tested' }).waitFor();
    expect(await row.locator('.restore-test').textContent()).toMatch(/next test due on \d{4}-\d{2}-\d{2}/);
    await shot('restore-test-dashboard-tested');
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('row', { name: /Site/ }).locator('.badge', { hasText: 'Tested' }).waitFor();
  });

  it('met no script errors; the only refused call was the bad seed', () => {
    expect(problems).toEqual([]);
    expect(failedCalls).toEqual(['400 /api/startRestoreTest']);
  });
});
