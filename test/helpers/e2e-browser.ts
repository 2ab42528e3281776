/**
 * What every end-to-end UI test shares: Debian's Chromium (Playwright cannot download browsers
 * here), the built renderer, a 1280x800 page that records what went wrong, and screenshots kept
 * as test artifacts.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureRendererBuilt } from './renderer-build.js';
import { PROJECT_ROOT } from './tools.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const SCREENSHOTS = path.join(PROJECT_ROOT, 'test-artifacts/screenshots');

/** Fails with how to install Chromium when it is missing; builds the UI if its build is stale. */
export function prepareBrowserTests(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is required for the end-to-end UI tests: install it with \`apt-get install -y chromium\` (expected at ${CHROMIUM})`);
  ensureRendererBuilt();
  mkdirSync(SCREENSHOTS, { recursive: true });
}

/** What a watched page saw: console and page errors, and API calls answered with an error status. */
export interface PageRecord {
  problems: string[];
  failedCalls: string[];
}

/**
 * Launches Chromium with a 1280x800 page (en-GB) that appends console errors and page errors to
 * `record.problems` and every HTTP answer of 400 or more to `record.failedCalls` ("400 /api/x").
 * Refused validation calls log a console error too; those are left to `failedCalls`.
 */
export async function openWatchedPage(record: PageRecord, options: { acceptDownloads?: boolean } = {}): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB', ...(options.acceptDownloads ? { acceptDownloads: true } : {}) });
  const page = await context.newPage();
  // Two shared cores run the other test files at the same time: be patient, not flaky.
  page.setDefaultTimeout(60_000);
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 400 \(Bad Request\)/.test(m.text())) record.problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) record.failedCalls.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  page.on('pageerror', (e) => record.problems.push(`page error: ${e.message}`));
  return { browser, page };
}

/** Saves a screenshot of the page as test-artifacts/screenshots/NAME.png. */
export function screenshot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}
