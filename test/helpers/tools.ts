import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { accessSync, chmodSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(PROJECT_ROOT, 'main/cli/lifeboat.ts');
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx');

/**
 * Fails (never skips) when a system tool the test needs is missing, saying how to install it.
 */
export function requireTool(tool: string, debianPackage = tool): void {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
  if (r.status !== 0) throw new Error(`${tool} is required for this test: install it with \`apt-get install -y ${debianPackage}\``);
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function result(r: SpawnSyncReturns<string>): RunResult {
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs the real `lifeboat` CLI from the TypeScript sources in a child process. */
export function lifeboat(args: string[], opts: { env?: Record<string, string>; cwd?: string; asUser?: number } = {}): RunResult {
  const node = [process.execPath, '--import', TSX_LOADER, CLI, ...args];
  const cmd = opts.asUser !== undefined ? ['setpriv', `--reuid=${opts.asUser}`, `--regid=${opts.asUser}`, '--clear-groups', ...node] : node;
  return result(
    spawnSync(cmd[0]!, cmd.slice(1), {
      encoding: 'utf8',
      cwd: opts.cwd ?? PROJECT_ROOT,
      // The folder cache of the tests' backups stays out of the user's own cache folder.
      env: { ...process.env, LIFEBOAT_PASSWORD: '', LIFEBOAT_PASSWORD_FILE: '', LIFEBOAT_REPOSITORY: '', LIFEBOAT_CACHE_DIR: TEST_CACHE_DIR, ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
    }),
  );
}

/** The CLI's folder cache in tests (entries are per repository ID, so test files never share one). */
const TEST_CACHE_DIR = path.join(os.tmpdir(), 'lifeboat-test-cache');

/** Runs Debian's restic with a password file. */
export function restic(args: string[], passwordFile: string, opts: { cwd?: string } = {}): RunResult {
  return result(
    spawnSync('restic', ['--no-cache', '--password-file', passwordFile, ...args], { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 }),
  );
}

/** Asserts a command succeeded, with its output in the failure message. */
export function ok(r: RunResult, what: string): RunResult {
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/**
 * /var/tmp where it can be written, else the system's temporary folder: for
 * tests whose sources must sit below folders no other test changes (the
 * folders on the way to a source are in its snapshot; in /tmp, other tests'
 * folders come and go all the time).
 */
export function quietTemporaryFolder(): string {
  try {
    accessSync('/var/tmp', fsConstants.W_OK);
    return '/var/tmp';
  } catch {
    return os.tmpdir();
  }
}

/** A temporary folder (in `base`, the system's temporary folder by default) removed by `dispose`; contains a password file. */
export function scratch(prefix = 'lifeboat-test-', base = os.tmpdir()): { dir: string; passwordFile: string; dispose: () => void } {
  const dir = mkdtempSync(path.join(base, prefix));
  chmodSync(dir, 0o755);
  const passwordFile = path.join(dir, 'password');
  writeFileSync(passwordFile, 'correct horse battery staple\n');
  return { dir, passwordFile, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
