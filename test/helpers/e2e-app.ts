import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startHeadlessHost, type HeadlessHost } from '../../main/host/headless.js';
import { EncryptedFileSecretStore } from '../../main/service/secret-stores.js';
import { LifeboatService, type ServiceOptions } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { openWatchedPage, type PageRecord } from './e2e-browser.js';
import { RENDERER_DIST } from './renderer-build.js';

/** The app an end-to-end test drives: a real service and its store, the headless host, and a watched page in Chromium. */
export interface E2eApp {
  db: LifeboatDatabase;
  secretStore: EncryptedFileSecretStore;
  svc: LifeboatService;
  host: HeadlessHost;
  browser: Browser;
  page: Page;
  /** Closes the browser, the host, the service and the database, in that order. */
  close(): Promise<void>;
}

/**
 * Starts the app as `lifeboat serve --http` would, with its data in `dir`: the SQLite file, an
 * encrypted secrets file (the headless host's store where there is no keychain), the data folder;
 * `options` adds to or overrides the service's options. The page records console errors and
 * refused API calls into `record`.
 */
export async function startE2eApp(dir: string, record: PageRecord, options: Partial<ServiceOptions> = {}): Promise<E2eApp> {
  const db = openDatabase(path.join(dir, 'lifeboat.db'));
  const secretStore = await EncryptedFileSecretStore.open(path.join(dir, 'secrets.vault'), 'e2e vault passphrase');
  const svc = new LifeboatService({ db, workers: 1, secretStore, dataDir: dir, ...options });
  svc.start();
  const host = await startHeadlessHost(svc, { staticDir: RENDERER_DIST });
  const { browser, page } = await openWatchedPage(record);
  return {
    db,
    secretStore,
    svc,
    host,
    browser,
    page,
    async close() {
      await browser.close();
      await host.close();
      await svc.stop();
      db.close();
    },
  };
}
