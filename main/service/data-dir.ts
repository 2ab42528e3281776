import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The folder holding Lifeboat's database and logs: `--data-dir`, else
 * LIFEBOAT_DATA_DIR, else the platform's application-data folder (the same
 * one Electron's userData uses, so the app and the CLI share it).
 */
export function resolveDataDir(flag?: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  const chosen = flag ?? env.LIFEBOAT_DATA_DIR;
  if (chosen) return path.resolve(chosen);
  const home = os.homedir();
  if (platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Lifeboat');
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Lifeboat');
  return path.join(env.XDG_CONFIG_HOME ?? path.join(home, '.config'), 'Lifeboat');
}

/** Creates the data folder (private to the user) and returns the database path inside it. */
export function prepareDataDir(dir: string): { dir: string; database: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, database: path.join(dir, 'lifeboat.db') };
}
