/**
 * LocalTarget (main/engine/targets/local.ts) against a real temporary folder:
 * what only a folder target does (restic's local layout, folders created on
 * demand). The StorageTarget contract itself is checked for every target by
 * target-contract.ts (see targets.test.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileType } from '../../shared/repo/types.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import type { FileHandle } from '../../main/engine/targets/target.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const NON_CONFIG: FileType[] = ['data', 'keys', 'index', 'snapshots', 'locks'];

let tmp = '';
let root = '';
let target: LocalTarget;

beforeEach(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-local-'));
  root = path.join(tmp, 'repo');
  target = new LocalTarget(root);
  await target.create();
});
afterEach(async () => {
  await target.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** A random file with its storage ID as name. */
function newFile(type: FileType, size = 1000): { h: FileHandle; data: Buffer } {
  const data = randomBytes(size);
  return { h: { type, name: type === 'config' ? 'config' : sha256(data) }, data };
}

describe('LocalTarget.create', () => {
  it('makes restic local layout with data/00..ff', () => {
    expect(target.location).toBe(path.resolve(root));
    for (const d of ['data', 'keys', 'index', 'snapshots', 'locks']) {
      expect(statSync(path.join(root, d)).isDirectory(), d).toBe(true);
    }
    const prefixes = readdirSync(path.join(root, 'data')).sort();
    expect(prefixes).toHaveLength(256);
    expect(prefixes[0]).toBe('00');
    expect(prefixes[255]).toBe('ff');
    expect(prefixes).toEqual(Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')));
    for (const p of ['00', '7f', 'ff']) expect(statSync(path.join(root, 'data', p)).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(root, 'keys')).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(root, 'config'))).toBe(false);
  });

  it('is repeatable while no config exists, and refuses once one does', async () => {
    await target.create();
    await target.save({ type: 'config', name: '' }, Buffer.from('cfg'));
    await expect(target.create()).rejects.toThrow(`a repository already exists at ${path.resolve(root)}`);
    // and did not touch the existing repository
    expect(readFileSync(path.join(root, 'config'), 'utf8')).toBe('cfg');
  });

  it('creates missing parent folders', async () => {
    const deep = new LocalTarget(path.join(tmp, 'a', 'b', 'c'));
    await deep.create();
    expect(statSync(path.join(tmp, 'a', 'b', 'c', 'data', 'ab')).isDirectory()).toBe(true);
  });
});

/** What only a folder target does; everything else is in the contract suite (target-contract.ts). */
describe('LocalTarget folders', () => {
  it('lists nothing for a folder that does not exist', async () => {
    const empty = new LocalTarget(path.join(tmp, 'nothing-here'));
    for (const type of NON_CONFIG) expect(await empty.list(type)).toEqual([]);
  });

  it('recreates a missing data prefix folder on save', async () => {
    rmSync(path.join(root, 'data'), { recursive: true });
    const { h, data } = newFile('data');
    await target.save(h, data);
    expect(readFileSync(path.join(root, 'data', h.name.slice(0, 2), h.name)).equals(data)).toBe(true);
    expect(await target.list('data')).toEqual([{ name: h.name, size: data.length }]);
  });
});
