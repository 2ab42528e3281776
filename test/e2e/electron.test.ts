/**
 * Smoke test of the real desktop app through Playwright's Electron driver:
 * the window opens on the UI served from app://, the preload exposes exactly
 * the API contract (and no Node), calls reach the in-process service, and
 * closing the window keeps the app in the tray. Where Electron's binary is not
 * installed (its download is not possible on every machine) the test is
 * skipped and says why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { _electron as electron } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { findElectronBinary } from '../../main/host/electron-binary.js';
import { API_METHODS } from '../../shared/api.js';
import { ensureRendererBuilt } from '../helpers/renderer-build.js';
import { PROJECT_ROOT, scratch } from '../helpers/tools.js';

const binary = findElectronBinary(PROJECT_ROOT);
if (binary.path === null) process.stdout.write(`electron smoke test skipped: ${binary.reason}\n`);

describe.skipIf(binary.path === null)('the desktop app (Electron)', () => {
  it('opens the UI with only the API contract exposed, serves calls, and stays in the tray when closed', async () => {
    // The app runs from dist/ (compiled main process and preload) and renderer/dist.
    const r = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tsc failed:\n${r.stdout}\n${r.stderr}`);
    ensureRendererBuilt();
    const s = scratch('lifeboat-electron-');
    const shots = path.join(PROJECT_ROOT, 'test-artifacts/screenshots');
    mkdirSync(shots, { recursive: true });
    const app = await electron.launch({
      executablePath: binary.path!,
      args: [PROJECT_ROOT, '--no-sandbox'],
      env: { ...process.env, LIFEBOAT_DATA_DIR: s.dir, XDG_CONFIG_HOME: path.join(s.dir, 'config') } as Record<string, string>,
    });
    try {
      const win = await app.firstWindow();
      await win.waitForLoadState('domcontentloaded');
      expect(win.url()).toBe('app://lifeboat/index.html');
      await win.getByRole('navigation', { name: 'Main' }).waitFor();
      const exposed = await win.evaluate(() => {
        const w = globalThis as unknown as { lifeboat?: { methods: Record<string, unknown> }; require?: unknown; process?: unknown };
        return { methods: Object.keys(w.lifeboat?.methods ?? {}).sort(), require: typeof w.require, process: typeof w.process };
      });
      expect(exposed).toEqual({ methods: [...API_METHODS].sort(), require: 'undefined', process: 'undefined' });
      const settings = await win.evaluate(async () => (globalThis as unknown as { lifeboat: { methods: { getSettings: () => Promise<{ ok: boolean; result: { dataDir: string } }> } } }).lifeboat.methods.getSettings());
      expect(settings).toMatchObject({ ok: true, result: { dataDir: s.dir } });
      await win.screenshot({ path: path.join(shots, 'electron-window.png') });
      // Closing the window hides it; the main process (scheduler, tray) keeps running.
      const afterClose = await app.evaluate(({ BrowserWindow }) => {
        const w = BrowserWindow.getAllWindows()[0]!;
        w.close();
        return { windows: BrowserWindow.getAllWindows().length, visible: w.isVisible() };
      });
      expect(afterClose).toEqual({ windows: 1, visible: false });
      expect(existsSync(path.join(s.dir, 'lifeboat.db'))).toBe(true);
    } finally {
      await app.close();
      s.dispose();
    }
  });
});
