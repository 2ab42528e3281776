/**
 * The real oracle: repositories written by the restic binary must open with
 * our crypto, and key files / ciphertexts we write must be accepted by restic.
 * restic is required: without it this suite fails (it does not skip).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decompress } from 'zstd-napi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../main/engine/repository.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import {
  WrongPasswordError,
  createKeyFile,
  masterKeyFromJSON,
  open,
  openKeyFile,
  UserKeyCache,
  parseKeyFile,
  seal,
  type MasterKey,
} from '../../workers/crypto/crypto.js';

const PASSWORD = 'first password: lifeboat ✓';
const SECOND_PASSWORD = 'second password, made by lifeboat';

let tmp = '';
let repo = '';
let dataDir = '';

/** Environment for restic with nothing inherited that could point it elsewhere. */
function resticEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, RESTIC_CACHE_DIR: path.join(tmp, 'cache'), ...extra };
  for (const name of ['RESTIC_REPOSITORY', 'RESTIC_REPOSITORY_FILE', 'RESTIC_PASSWORD', 'RESTIC_PASSWORD_FILE', 'RESTIC_PASSWORD_COMMAND', 'RESTIC_KEY_HINT']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function restic(args: string[], extraEnv: Record<string, string> = { RESTIC_PASSWORD: PASSWORD }): string {
  const res = spawnSync('restic', ['--repo', repo, '--no-cache', ...args], {
    env: resticEnv(extraEnv),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    throw new Error(`restic ${args.join(' ')} exited ${String(res.status)}:\n${res.stderr}\n${res.stdout}`);
  }
  return res.stdout;
}

function requireRestic(): void {
  const res = spawnSync('restic', ['version'], { encoding: 'utf8' });
  if (res.error || res.status !== 0) {
    throw new Error(
      'the restic binary is required for test/integration/crypto-restic.test.ts but was not found: install it with `apt-get install -y restic`',
    );
  }
}

/** Files in a repository subdirectory, recursing into data/xx style subfolders. */
function listRepoFiles(sub: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(full);
    }
  };
  walk(path.join(repo, sub));
  return out.sort();
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * Decodes the plaintext of an unpacked file (snapshot, index, ...) in
 * repository format 2: a leading '{' or '[' means the whole plaintext is JSON;
 * a leading 0x02 means zstd-compressed JSON follows.
 */
function decodeUnpacked(plaintext: Buffer): unknown {
  const first = plaintext[0];
  if (first === 0x7b || first === 0x5b) return JSON.parse(plaintext.toString('utf8'));
  if (first === 0x02) return JSON.parse(decompress(plaintext.subarray(1)).toString('utf8'));
  throw new Error(`unknown unpacked-file version byte 0x${(first ?? 0).toString(16)}`);
}

let master: MasterKey;

// A test of its own so that a missing restic shows up as a failure with the fix,
// not only as a failed hook with skipped tests.
it('has the restic binary (apt-get install -y restic)', () => {
  requireRestic();
});

describe('restic repository ↔ lifeboat crypto', () => {
  beforeAll(() => {
    requireRestic();
    tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-crypto-restic-'));
    repo = path.join(tmp, 'repo');
    dataDir = path.join(tmp, 'data');
    mkdirSync(path.join(dataDir, 'sub'), { recursive: true });
    writeFileSync(path.join(dataDir, 'hello.txt'), 'hello from lifeboat\n');
    writeFileSync(path.join(dataDir, 'sub', 'numbers.bin'), Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251)));
    restic(['init', '--repository-version', '2']);
    restic(['backup', dataDir, '--host', 'lifeboat-test-host']);
  });

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('opens the key file restic wrote and recovers restic\'s master key', async () => {
    const keys = listRepoFiles('keys');
    expect(keys).toHaveLength(1);
    const bytes = readFileSync(keys[0]!);
    expect(path.basename(keys[0]!)).toBe(sha256Hex(bytes));
    const kf = parseKeyFile(bytes);
    expect(kf.kdf).toBe('scrypt');
    expect(Buffer.from(kf.salt, 'base64')).toHaveLength(64);

    master = await openKeyFile(PASSWORD, bytes);
    const fromRestic = masterKeyFromJSON(restic(['cat', 'masterkey']));
    expect(master.encrypt.equals(fromRestic.encrypt)).toBe(true);
    expect(master.macK.equals(fromRestic.macK)).toBe(true);
    expect(master.macR.equals(fromRestic.macR)).toBe(true);
  });

  it('rejects a wrong password with WrongPasswordError', async () => {
    const bytes = readFileSync(listRepoFiles('keys')[0]!);
    await expect(openKeyFile('not the password', bytes)).rejects.toThrow(WrongPasswordError);
  });

  it('opens the repository again from a UserKeyCache (one scrypt), and still refuses a wrong password', async () => {
    const cache = new UserKeyCache();
    for (let i = 0; i < 2; i++) {
      const r = await Repository.open(new LocalTarget(repo), PASSWORD, { keyCache: cache });
      expect(r.key.encrypt.equals(master.encrypt)).toBe(true);
      await r.close();
    }
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
    await expect(Repository.open(new LocalTarget(repo), 'not the password', { keyCache: cache })).rejects.toThrow(WrongPasswordError);
  });

  it('decrypts the config: plain JSON (never compressed) with version 2', () => {
    const plaintext = open(master, readFileSync(path.join(repo, 'config')));
    // restic stores the config uncompressed even in format version 2: no version byte.
    expect(plaintext[0]).toBe(0x7b);
    const config = JSON.parse(plaintext.toString('utf8')) as { version: number; id: string; chunker_polynomial: string };
    expect(config.version).toBe(2);
    expect(config.id).toMatch(/^[0-9a-f]{64}$/);
    expect(config.chunker_polynomial).toMatch(/^[0-9a-f]+$/);
    expect(config).toEqual(JSON.parse(restic(['cat', 'config'])));
  });

  it('decrypts a snapshot: version byte 0x02 then zstd-compressed JSON', () => {
    const files = listRepoFiles('snapshots');
    expect(files).toHaveLength(1);
    const sealed = readFileSync(files[0]!);
    const id = path.basename(files[0]!);
    expect(id).toBe(sha256Hex(sealed));
    const plaintext = open(master, sealed);
    expect(plaintext[0]).toBe(0x02);
    const snapshot = decodeUnpacked(plaintext) as { tree: string; paths: string[]; hostname: string; time: string };
    expect(snapshot.paths).toEqual([dataDir]);
    expect(snapshot.hostname).toBe('lifeboat-test-host');
    expect(snapshot.tree).toMatch(/^[0-9a-f]{64}$/);
    expect(snapshot).toEqual(JSON.parse(restic(['cat', 'snapshot', id])));
  });

  it('decrypts the index files the same way', () => {
    const files = listRepoFiles('index');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const index = decodeUnpacked(open(master, readFileSync(file))) as { packs: unknown[] };
      expect(Array.isArray(index.packs)).toBe(true);
      expect(index.packs.length).toBeGreaterThan(0);
    }
  });

  it('writes a key file that restic accepts for a second password', async () => {
    const created = await createKeyFile(SECOND_PASSWORD, master, { username: 'lifeboat-user', hostname: 'lifeboat-host' });
    writeFileSync(path.join(repo, 'keys', created.id), created.json);
    const pwFile = path.join(tmp, 'second-password');
    writeFileSync(pwFile, SECOND_PASSWORD);

    const snapshots = JSON.parse(restic(['-p', pwFile, 'snapshots', '--json'], {})) as { id: string }[];
    expect(snapshots.map((s) => s.id)).toEqual([path.basename(listRepoFiles('snapshots')[0]!)]);
    expect(restic(['-p', pwFile, 'key', 'list'], {})).toContain('lifeboat-user');

    // Our own code opens it too, and the first password still opens restic's key.
    const again = await openKeyFile(SECOND_PASSWORD, created.json);
    expect(again.encrypt.equals(master.encrypt)).toBe(true);
    await expect(openKeyFile(PASSWORD, created.json)).rejects.toThrow(WrongPasswordError);
  });

  it('writes ciphertext restic can read (an uncompressed JSON snapshot sealed by us)', () => {
    const [original] = listRepoFiles('snapshots');
    const snapshot = decodeUnpacked(open(master, readFileSync(original!))) as Record<string, unknown>;
    // A distinct snapshot document so its id differs; plain JSON is valid in format 2.
    const ours = Buffer.from(JSON.stringify({ ...snapshot, tags: ['sealed-by-lifeboat'] }));
    const sealed = seal(master, ours);
    const id = sha256Hex(sealed);
    writeFileSync(path.join(repo, 'snapshots', id), sealed);

    const listed = JSON.parse(restic(['snapshots', '--json'])) as { id: string; tags?: string[] }[];
    expect(listed.map((s) => s.id).sort()).toEqual([path.basename(original!), id].sort());
    expect(listed.find((s) => s.id === id)?.tags).toEqual(['sealed-by-lifeboat']);
    // restic can also decrypt the snapshot's tree through it.
    const ls = restic(['ls', id]);
    expect(ls).toContain('hello.txt');
    expect(execFileSync('restic', ['--repo', repo, '--no-cache', 'check'], { env: resticEnv({ RESTIC_PASSWORD: PASSWORD }), encoding: 'utf8' })).toMatch(/no errors were found/);
  });
});
