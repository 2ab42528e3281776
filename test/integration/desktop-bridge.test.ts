/**
 * The desktop shell's pieces that run without Electron, against a real
 * service and SQLite file: the IPC call path (dispatchCall behind the bridge
 * transport, exactly what the preload and the main process do around the
 * IPC hop), the contract the preload receives, the tray icon's pixels, the
 * Linux autostart entry, and finding Electron's binary.
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
  it('answers every method of the contract and keeps the field of validation errors', async () => {
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
  it.skipIf(findElectronBinary(PROJECT_ROOT).path !== null)('without Electron\'s binary says why and starts the headless host with the UI', async () => {
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
      expect(out).toContain("lifeboat start: the desktop window cannot open here: Electron's binary was not downloaded");
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
