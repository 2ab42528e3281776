import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The Electron executable installed with the `electron` package, or null with
 * the reason when it is not there (its download is skipped or failed, as on
 * a machine without access to Electron's releases). Reads what the package's
 * own index.js reads, without throwing.
 */
export function findElectronBinary(fromDir: string, env: NodeJS.ProcessEnv = process.env): { path: string } | { path: null; reason: string } {
  let pkgDir: string;
  try {
    pkgDir = path.dirname(createRequire(path.join(fromDir, 'package.json')).resolve('electron/package.json'));
  } catch {
    return { path: null, reason: "the electron package is not installed (it is optional: npm leaves it out where Electron's binary cannot be downloaded)" };
  }
  const pathFile = path.join(pkgDir, 'path.txt');
  if (!existsSync(pathFile)) return { path: null, reason: "Electron's binary was not downloaded (node_modules/electron has no path.txt)" };
  const rel = readFileSync(pathFile, 'utf8').trim();
  const exe = env.ELECTRON_OVERRIDE_DIST_PATH ? path.join(env.ELECTRON_OVERRIDE_DIST_PATH, rel) : path.join(pkgDir, 'dist', rel);
  return existsSync(exe) ? { path: exe } : { path: null, reason: `Electron's binary is missing (${exe})` };
}
