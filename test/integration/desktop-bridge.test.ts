/**
 * The desktop shell's pieces that run without Electron, against a real
 * service and SQLite file: the IPC call path (dispatchCall behind the bridge
 * transport, exactly what the preload and the main process do around the
 * IPC hop), the contract the preload receives, the preload's own logic run
 * in a VM (Electron cannot run here), the window's security options, the
 * tray icon's pixels, the Linux autostart entry, finding Electron's binary,
 * and `lifeboat start` without it.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatchCall } from '../../main/host/dispatch.js';
import { desktopExecArgument, setLinuxAutostart } from '../../main/host/autostart.js';
import { findElectronBinary } from '../../main/host/electron-binary.js';
import { TRAY_COLOURS, trayIconBitmap } from '../../main/host/tray-icon.js';
import { LifeboatService } from '../../main/service/service.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { ApiError, bridgeTransport, createApiClient } from '../../shared/api-client.js';
import { API_METHODS, EVENT_NAMES } from '../../shared/api.js';
import { BRIDGE_CONTRACT, IPC_CHANNELS, type LifeboatBridge } from '../../shared/ipc.js';
import { PROJECT_ROOT, scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let db: LifeboatDatabase;
let svc: LifeboatService;

beforeAll(() => {
  s = scratch();
  db = openDatabase(path.join(s.dir, 'lifeboat.db'));
  svc = new LifeboatService({ db, dataDir: s.dir });
});
afterAll(async () => {
  await svc.stop();
  db.close();
  s.dispose();
});

/** The bridge as the preload builds it, with the IPC hop replaced by a structured clone. */
function bridgeOver(service: LifeboatService): Pick<LifeboatBridge, 'methods'> {
  const methods = Object.fromEntries(
    BRIDGE_CONTRACT.methods.map((m) => [m, async (...args: unknown[]) => structuredClone(await dispatchCall(service, m, structuredClone(args)))]),
  );
  return { methods: methods as unknown as LifeboatBridge['methods'] };
}

describe('the IPC call path', () => {
  it('answers calls of the contract through dispatchCall and keeps the field of validation errors', async () => {
    const api = createApiClient(bridgeTransport(bridgeOver(svc)));
    expect(await api.listJobs()).toEqual([]);
    expect((await api.getSettings()).dataDir).toBe(s.dir);
    const err = await api.createJob({ name: '', repositoryId: 1, sources: { paths: ['/srv'] } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ field: 'name', status: 400 });
    const other = await api.getRunLog(424242).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(ApiError);
  });

  it('refuses methods outside the contract and arguments that are not a list', async () => {
    expect(await dispatchCall(svc, 'stop', [])).toEqual({ ok: false, error: { message: 'method: no such method', field: 'method', validation: true } });
    expect(await dispatchCall(svc, 'constructor', [])).toMatchObject({ ok: false, error: { field: 'method' } });
    expect(await dispatchCall(svc, 'listJobs', { 0: 1 })).toMatchObject({ ok: false, error: { field: 'args' } });
    expect(await dispatchCall(svc, 'pauseSchedules', ['forever'])).toMatchObject({ ok: false, error: { field: 'duration', validation: true } });
  });

  it('hands the preload exactly the contract: every method, every event, the two channels', () => {
    expect([...BRIDGE_CONTRACT.methods].sort()).toEqual([...API_METHODS].sort());
    expect([...BRIDGE_CONTRACT.events].sort()).toEqual([...EVENT_NAMES].sort());
    expect(BRIDGE_CONTRACT.channels).toEqual(IPC_CHANNELS);
    const decoded = JSON.parse(Buffer.from(Buffer.from(JSON.stringify(BRIDGE_CONTRACT)).toString('base64url'), 'base64url').toString());
    expect(decoded).toEqual(JSON.parse(JSON.stringify(BRIDGE_CONTRACT)));
  });
});

describe('tray icon', () => {
  it('is a disc in the state colour, transparent in the corners, with a white dot while active', () => {
    for (const level of ['green', 'amber', 'red'] as const) {
      const px = trayIconBitmap(level, 16, false);
      expect(px.length).toBe(16 * 16 * 4);
      const at = (x: number, y: number) => [...px.subarray((y * 16 + x) * 4, (y * 16 + x) * 4 + 4)];
      const [r, g, b] = TRAY_COLOURS[level];
      expect(at(8, 8)).toEqual([b, g, r, 255]);
      expect(at(0, 0)[3]).toBe(0);
      const active = trayIconBitmap(level, 16, true);
      expect([...active.subarray((8 * 16 + 8) * 4, (8 * 16 + 8) * 4 + 4)]).toEqual([255, 255, 255, 255]);
      expect([...active.subarray((8 * 16 + 2) * 4, (8 * 16 + 2) * 4 + 3)]).toEqual([b, g, r]);
    }
  });
});

describe('start at login on Linux', () => {
  it('writes an autostart entry that starts hidden, and removes it', () => {
    const file = path.join(s.dir, 'autostart', 'lifeboat.desktop');
    setLinuxAutostart(true, ['/opt/Life boat/lifeboat', '--hidden'], file);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('[Desktop Entry]\nType=Application\nName=Lifeboat\n');
    expect(text).toContain('Exec="/opt/Life boat/lifeboat" "--hidden"\n');
    setLinuxAutostart(false, [], file);
    expect(existsSync(file)).toBe(false);
  });

  it('quotes Exec arguments as the desktop entry specification asks', () => {
    expect(desktopExecArgument('a"b')).toBe('"a\\\\"b"');
    expect(desktopExecArgument('c:\\x')).toBe('"c:\\\\\\\\x"');
    expect(desktopExecArgument('$HOME 100%')).toBe('"\\\\$HOME 100%%"');
  });
});

describe("Electron's binary", () => {
  it('is found where the package recorded it, and otherwise the reason is given', () => {
    const fake = path.join(s.dir, 'app');
    const pkg = path.join(fake, 'node_modules', 'electron');
    mkdirSync(path.join(pkg, 'dist'), { recursive: true });
    writeFileSync(path.join(fake, 'package.json'), '{}');
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'electron', version: '0.0.0', main: 'index.js' }));
    expect(findElectronBinary(fake)).toEqual({ path: null, reason: "Electron's binary was not downloaded (node_modules/electron has no path.txt)" });
    writeFileSync(path.join(pkg, 'path.txt'), 'electron');
    expect(findElectronBinary(fake)).toMatchObject({ path: null, reason: expect.stringContaining("Electron's binary is missing") });
    writeFileSync(path.join(pkg, 'dist', 'electron'), '#!/bin/sh\n');
    chmodSync(path.join(pkg, 'dist', 'electron'), 0o755);
    expect(findElectronBinary(fake)).toEqual({ path: path.join(pkg, 'dist', 'electron') });
    expect(findElectronBinary(path.join(s.dir, 'nowhere'))).toMatchObject({ path: null, reason: expect.stringContaining('not installed') });
  });
});

describe('the preload', () => {
  it('loads nothing at run time but electron (a sandboxed preload cannot), taking types only from shared/', () => {
    const file = path.join(PROJECT_ROOT, 'main/electron/preload.cts');
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    const runtime: string[] = [];
    const typeOnly: string[] = [];
    for (const st of src.statements) {
      if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) (st.importClause?.isTypeOnly ? typeOnly : runtime).push(st.moduleSpecifier.text);
    }
    expect(runtime).toEqual(['electron']);
    expect(typeOnly).toEqual(['../../shared/ipc.js']);
  });
});

describe('lifeboat start', () => {
  it('without Electron\'s binary says why and starts the headless host with the UI', async (ctx) => {
    if (findElectronBinary(PROJECT_ROOT).path !== null) {
      console.log('skipped: Electron\'s binary is present here, so `lifeboat start` opens the desktop app (see test/e2e/electron.test.ts)');
      ctx.skip();
    }
    const tsx = path.join(PROJECT_ROOT, 'node_modules/tsx/dist/loader.mjs');
    const child = spawn(process.execPath, ['--import', tsx, path.join(PROJECT_ROOT, 'main/cli/lifeboat.ts'), 'start'], {
      env: { ...process.env, LIFEBOAT_DATA_DIR: path.join(s.dir, 'start-data') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const end = Date.now() + 60_000;
      while (!/open (http:\/\/\S+)/.test(out)) {
        if (Date.now() > end || child.exitCode !== null) throw new Error(`no URL printed:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      // Why depends on how npm installed the optional electron package here: left out, or kept without its binary.
      const why = (findElectronBinary(PROJECT_ROOT) as { reason: string }).reason;
      expect(out).toContain(`lifeboat start: the desktop window cannot open here: ${why}; starting the headless host instead`);
      const url = /open (http:\/\/\S+)/.exec(out)![1]!;
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await fetch(url.replace(/\?token=.*/, 'api/listJobs'), { method: 'POST', body: '[]' }).then((r) => r.status)).toBe(401);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    expect(out).toContain('lifeboat serve: stopped');
  });
});

describe('the preload, run outside Electron', () => {
  // Electron cannot run here; the preload's own logic (reading the contract from its argument,
  // building one function per method, routing events) is run in a VM context whose `electron`
  // module records what the preload asks of it. The real one is covered by the Electron smoke test.
  it('exposes exactly the contract on window.lifeboat, invokes the call channel and routes events', async () => {
    const file = path.join(PROJECT_ROOT, 'main/electron/preload.cts');
    const js = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
    const exposed = new Map<string, unknown>();
    const invoked: unknown[][] = [];
    const handlers = new Map<string, (e: unknown, msg: unknown) => void>();
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, value: unknown) => exposed.set(key, value) },
      ipcRenderer: {
        invoke: async (...a: unknown[]) => {
          invoked.push(a);
          return { ok: true, result: 'answer' };
        },
        on: (channel: string, h: (e: unknown, msg: unknown) => void) => handlers.set(channel, h),
      },
    };
    const contract = Buffer.from(JSON.stringify(BRIDGE_CONTRACT)).toString('base64url');
    const vm = await import('node:vm');
    const module = { exports: {} };
    const requireInVm = (id: string) => {
      if (id !== 'electron') throw new Error(`the preload asked for ${id}`);
      return electron;
    };
    vm.runInNewContext(js, { require: requireInVm, module, exports: module.exports, process: { argv: ['electron', '--type=renderer', `--lifeboat-contract=${contract}`] }, atob });

    expect([...exposed.keys()]).toEqual(['lifeboat']);
    const bridge = exposed.get('lifeboat') as LifeboatBridge;
    expect(Object.keys(bridge).sort()).toEqual(['methods', 'on']);
    expect(Object.keys(bridge.methods).sort()).toEqual([...API_METHODS].sort());
    expect(await bridge.methods.getRunLog(7)).toEqual({ ok: true, result: 'answer' });
    expect(invoked).toEqual([[IPC_CHANNELS.call, 'getRunLog', [7]]]);

    const seen: unknown[] = [];
    const off = bridge.on('notification', (n) => seen.push(n));
    const send = handlers.get(IPC_CHANNELS.event)!;
    send({}, { event: 'notification', payload: { runId: 3 } });
    send({}, { event: 'runChanged', payload: { id: 3 } });
    off();
    send({}, { event: 'notification', payload: { runId: 4 } });
    expect(seen).toEqual([{ runId: 3 }]);
    expect(() => bridge.on('nonsense' as 'notification', () => {})).toThrow('no event named nonsense');
  });

  it('refuses to start without the contract argument', async () => {
    const js = ts.transpileModule(readFileSync(path.join(PROJECT_ROOT, 'main/electron/preload.cts'), 'utf8'), { compilerOptions: { module: ts.ModuleKind.CommonJS } }).outputText;
    const vm = await import('node:vm');
    const module = { exports: {} };
    expect(() => vm.runInNewContext(js, { require: () => ({ contextBridge: {}, ipcRenderer: {} }), module, exports: module.exports, process: { argv: [] }, atob })).toThrow('did not pass the API contract');
  });
});

describe('the desktop window', () => {
  it('is created context-isolated, sandboxed, without Node, and the page gets a strict CSP', () => {
    const file = path.join(PROJECT_ROOT, 'main/electron/main.ts');
    const text = readFileSync(file, 'utf8');
    const src = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const prefs = new Map<string, string>();
    const visit = (n: ts.Node) => {
      if (ts.isPropertyAssignment(n) && n.name.getText() === 'webPreferences' && ts.isObjectLiteralExpression(n.initializer)) {
        for (const p of n.initializer.properties) if (ts.isPropertyAssignment(p)) prefs.set(p.name.getText(), p.initializer.getText());
      }
      ts.forEachChild(n, visit);
    };
    visit(src);
    expect(Object.fromEntries([...prefs].filter(([k]) => ['contextIsolation', 'sandbox', 'nodeIntegration', 'nodeIntegrationInWorker', 'webSecurity', 'webviewTag'].includes(k)))).toEqual({
      contextIsolation: 'true',
      sandbox: 'true',
      nodeIntegration: 'false',
      nodeIntegrationInWorker: 'false',
      webSecurity: 'true',
      webviewTag: 'false',
    });
    expect(text).toContain(`"default-src 'none'"`);
    expect(text).toContain("setWindowOpenHandler(() => ({ action: 'deny' }))");
    expect(text).toContain('requestSingleInstanceLock()');
  });
});
