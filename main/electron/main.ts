/**
 * The desktop app: Electron's main process. Thin: it hosts the one
 * `LifeboatService` in process (scheduler + SQLite store), shows the React UI
 * in a locked-down window, and keeps a tray. Everything it shows is computed
 * by host-agnostic code (shared/app-state.ts, the service); this file only
 * wires it to Electron. The only folder that imports `electron`.
 *
 * Security: one instance; the window is context-isolated and sandboxed,
 * without Node; the page is served from our own `app://` scheme with a strict
 * CSP; navigation away, new windows, webviews and permission requests are
 * refused; the preload exposes only the API contract, and every call is
 * checked (sender, method) here and validated by the service.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, nativeImage, Notification, protocol, session, Tray, type MenuItemConstructorOptions } from 'electron';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT_NAMES, type AppStatus, type LifeboatApi, type LifeboatEvents } from '../../shared/api.js';
import { trayMenu, type TrayAction, type TrayLevel, type TrayMenuItem } from '../../shared/app-state.js';
import { formatDuration } from '../../shared/format.js';
import { BRIDGE_CONTRACT, CONTRACT_ARGUMENT, IPC_CHANNELS, type BridgeEvent } from '../../shared/ipc.js';
import { createService } from '../cli/commands/service.js';
import { setLinuxAutostart } from '../host/autostart.js';
import { dispatchCall } from '../host/dispatch.js';
import { trayIconBitmap } from '../host/tray-icon.js';
import type { LifeboatService } from '../service/service.js';

const SCHEME = 'app';
const ORIGIN = `${SCHEME}://lifeboat`;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
const CONTENT_TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2' };
/** Stopping runs at a safe point this quickly needs no question. */
const QUIET_QUIT_MS = 10_000;

let window: BrowserWindow | null = null;
let tray: Tray | null = null;
let service: LifeboatService;
let closeDatabase: () => void = () => {};
let quitting = false;
let stopped = false;

// The renderer's origin: a standard, secure scheme served by us (no file://, no web server).
protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false } }]);

if (!app.requestSingleInstanceLock()) {
  // Another Lifeboat runs: it shows its window (second-instance) and this one leaves.
  app.quit();
} else {
  app.on('second-instance', () => showWindow());
  app.on('window-all-closed', () => {
    // Closing the window keeps Lifeboat in the tray; only Quit ends it.
  });
  app.on('web-contents-created', (_e, contents) => {
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
    contents.on('will-navigate', (e, url) => {
      if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault();
    });
    contents.on('will-redirect', (e, url) => {
      if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault();
    });
    contents.on('will-attach-webview', (e) => e.preventDefault());
  });
  app.on('before-quit', (e) => {
    if (stopped) return;
    e.preventDefault();
    if (!quitting) void quitAtSafePoint();
  });
  app.whenReady().then(start, (e: unknown) => {
    dialog.showErrorBox('Lifeboat could not start', (e as Error).message);
    app.exit(1);
  });
}

async function start(): Promise<void> {
  app.setAppUserModelId('org.lifeboat.app');
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  protocol.handle(SCHEME, serveRenderer);

  const created = await createService({});
  service = created.svc;
  closeDatabase = () => created.db.close();
  registerIpc();
  service.on('appStatusChanged', (s) => void refreshTray(s));
  service.on('notification', notify);
  service.start();

  tray = new Tray(trayIcon('green', false));
  tray.on('click', () => showWindow());
  await refreshTray();
  await applyStartAtLogin();
  if (!process.argv.includes('--hidden')) showWindow();
}

/** Serves renderer/dist on app://lifeboat/ with the CSP; nothing outside it. */
async function serveRenderer(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.origin !== ORIGIN) return new Response('not found', { status: 404 });
  const rel = path.normalize(decodeURIComponent(url.pathname)).replace(/^[/\\]+/, '') || 'index.html';
  if (rel.startsWith('..') || path.isAbsolute(rel)) return new Response('not found', { status: 404 });
  try {
    const body = await readFile(path.join(app.getAppPath(), 'renderer', 'dist', rel));
    return new Response(body, {
      headers: { 'content-type': CONTENT_TYPES[path.extname(rel)] ?? 'application/octet-stream', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' },
    });
  } catch {
    return new Response('not found', { status: 404 });
  }
}

function createWindow(): BrowserWindow {
  const contract = Buffer.from(JSON.stringify(BRIDGE_CONTRACT)).toString('base64url');
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    show: false,
    title: 'Lifeboat',
    autoHideMenuBar: true,
    webPreferences: {
      preload: path.join(HERE, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
      additionalArguments: [`${CONTRACT_ARGUMENT}${contract}`],
    },
  });
  win.on('close', (e) => {
    // The window hides; the scheduler keeps running in the tray.
    if (!quitting) {
      e.preventDefault();
      win.hide();
    }
  });
  win.on('closed', () => {
    window = null;
  });
  void win.loadURL(`${ORIGIN}/index.html`);
  return win;
}

/** Shows the window, at a route of the UI's hash router when given (e.g. "#/activity/12"). */
function showWindow(hash?: string): void {
  window ??= createWindow();
  const win = window;
  if (hash) {
    const go = () => void win.webContents.executeJavaScript(`location.hash = ${JSON.stringify(hash)}`);
    if (win.webContents.isLoading()) win.webContents.once('did-finish-load', go);
    else go();
  }
  if (win.webContents.isLoading()) win.once('ready-to-show', () => win.show());
  else win.show();
  win.focus();
}

/** The UI's route to one run in Activity (renderer/src/router.ts). */
const runRoute = (runId: number) => `#/activity/${runId}`;

function registerIpc(): void {
  ipcMain.handle(IPC_CHANNELS.call, async (event, method: unknown, args: unknown) => {
    // Only our own page may call: not another frame, not a page navigated elsewhere.
    const from = event.senderFrame?.url ?? '';
    if (!from.startsWith(`${ORIGIN}/`)) return { ok: false, error: { message: 'caller: not the Lifeboat window', field: 'caller', validation: true } };
    const outcome = await dispatchCall(service, method, args);
    if (outcome.ok && method === ('updateSettings' satisfies keyof LifeboatApi)) await applyStartAtLogin();
    return outcome;
  });
  for (const name of EVENT_NAMES) {
    service.on(name, (payload: LifeboatEvents[typeof name]) => {
      const message: BridgeEvent = { event: name, payload };
      if (window && !window.isDestroyed()) window.webContents.send(IPC_CHANNELS.event, message);
    });
  }
}

function trayIcon(level: TrayLevel, active: boolean): Electron.NativeImage {
  const image = nativeImage.createFromBitmap(trayIconBitmap(level, 16, active), { width: 16, height: 16, scaleFactor: 1 });
  image.addRepresentation({ scaleFactor: 2, width: 32, height: 32, buffer: nativeImage.createFromBitmap(trayIconBitmap(level, 32, active), { width: 32, height: 32 }).toPNG() });
  return image;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', hour: '2-digit', minute: '2-digit' });

async function refreshTray(status?: AppStatus): Promise<void> {
  if (!tray || stopped) return;
  const s = status ?? (await service.getAppStatus());
  const jobs = await service.listJobs();
  tray.setImage(trayIcon(s.tray.level, s.tray.activeRuns > 0));
  tray.setToolTip(`Lifeboat: ${s.tray.summary}`);
  const items = trayMenu(s.tray, { jobs, unacknowledgedFailures: s.unacknowledgedFailures, pausedUntil: s.pausedUntil }, (iso) => timeFormat.format(new Date(iso)));
  tray.setContextMenu(Menu.buildFromTemplate(items.map(toMenuItem)));
}

function toMenuItem(item: TrayMenuItem): MenuItemConstructorOptions {
  if (item.separator) return { type: 'separator' };
  const action = item.action;
  return {
    label: item.label,
    enabled: item.enabled,
    ...(item.submenu ? { submenu: item.submenu.map(toMenuItem) } : {}),
    ...(action ? { click: () => void perform(action) } : {}),
  };
}

async function perform(action: TrayAction): Promise<void> {
  try {
    switch (action.type) {
      case 'open':
        return showWindow(action.runId ? runRoute(action.runId) : undefined);
      case 'run-now':
        await service.runNow(action.jobId);
        return;
      case 'pause':
        await service.pauseSchedules(action.duration);
        return;
      case 'resume':
        await service.resumeSchedules();
        return;
      case 'quit':
        app.quit();
        return;
    }
  } catch (e) {
    dialog.showErrorBox('Lifeboat', (e as Error).message);
  }
}

function notify(n: LifeboatEvents['notification']): void {
  if (!Notification.isSupported()) return;
  const note = new Notification({ title: n.title, body: n.body, urgency: n.urgency });
  // A run opens that run; a job alone (an RPO breach) the dashboard; neither, overdue restore tests.
  note.on('click', () => showWindow(n.runId !== null ? runRoute(n.runId) : n.jobId !== null ? '#/' : '#/restore-test'));
  note.show();
}

/** Start at login: login items on macOS and Windows, an autostart entry on Linux; started hidden in the tray. */
async function applyStartAtLogin(): Promise<void> {
  const { startAtLogin } = await service.getSettings();
  if (process.platform === 'linux') {
    const command = app.isPackaged ? [process.execPath, '--hidden'] : [process.execPath, app.getAppPath(), '--hidden'];
    setLinuxAutostart(startAtLogin, process.env.APPIMAGE ? [process.env.APPIMAGE, '--hidden'] : command);
  } else {
    app.setLoginItemSettings({ openAtLogin: startAtLogin, args: ['--hidden'] });
  }
}

/**
 * Quit: with nothing running, at once. Otherwise the running runs are
 * stopped at a safe point (packs being uploaded are finished and indexed);
 * when that may take long, the user is asked first.
 */
async function quitAtSafePoint(): Promise<void> {
  const q = service.quitReadiness();
  if (!q.safe && (q.estimatedMs === null || q.estimatedMs > QUIET_QUIT_MS)) {
    const wait = q.estimatedMs === null ? 'a moment we cannot estimate' : `about ${formatDuration(q.estimatedMs)}`;
    const { response } = await dialog.showMessageBox({
      type: 'question',
      buttons: ['Stop them safely and quit', 'Keep running'],
      defaultId: 1,
      cancelId: 1,
      message: `${q.running.length} run${q.running.length === 1 ? ' is' : 's are'} in progress`,
      detail: `Quitting stops ${q.running.length === 1 ? 'it' : 'them'} cleanly: data being uploaded is finished and indexed first (${wait}), so nothing is left half-written. The next scheduled run picks up where this one stopped.`,
    });
    if (response !== 0) return;
  }
  quitting = true;
  tray?.setToolTip('Lifeboat: finishing uploads in flight, then quitting');
  try {
    await service.stop();
  } finally {
    closeDatabase();
    stopped = true;
    tray?.destroy();
    app.quit();
  }
}
