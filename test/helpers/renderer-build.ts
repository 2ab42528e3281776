import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './tools.js';

export const RENDERER_DIST = path.join(PROJECT_ROOT, 'renderer/dist');
const LOCK = path.join(PROJECT_ROOT, 'renderer/.build-lock');

/** Newest modification time of the files under `p` (a file or a folder), build output excluded. */
function newest(p: string): number {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(p).filter((n) => n !== 'node_modules' && n !== 'dist' && n !== '.build-lock').map((n) => newest(path.join(p, n))));
}

function fresh(): boolean {
  const index = path.join(RENDERER_DIST, 'index.html');
  const built = existsSync(index) ? statSync(index).mtimeMs : 0;
  return built >= Math.max(newest(path.join(PROJECT_ROOT, 'renderer')), newest(path.join(PROJECT_ROOT, 'shared')), newest(path.join(PROJECT_ROOT, 'vite.config.ts')));
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/**
 * Builds the renderer (Vite) when its build is older than its sources. Test files run in
 * parallel: one builds while holding a lock folder, the others wait for it rather than empty
 * renderer/dist under a running build. A lock older than 5 minutes is taken as abandoned.
 */
export function ensureRendererBuilt(): void {
  if (fresh()) return;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      if (Date.now() - statSync(LOCK, { throwIfNoEntry: false })!.mtimeMs > 5 * 60_000) rmSync(LOCK, { recursive: true, force: true });
      else sleep(200);
    }
  }
  try {
    if (fresh()) return;
    const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`vite build failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
