// RepositoryStore and SettingsStore on a real, migrated SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { DuplicateValueError, RecordNotFoundError } from '../../main/store/errors.js';

let dir: string;
let file: string;
let db: LifeboatDatabase;
let clock: Date;

const HEX64 = '0123456789abcdef'.repeat(4);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-store-accessors-'));
  file = join(dir, 'lifeboat.db');
  clock = new Date('2025-03-01T10:00:00.000Z');
  db = openDatabase(file, { now: () => clock });
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('RepositoryStore', () => {
  it('adds a repository and returns it with its id and timestamps', () => {
    const repo = db.repositories.add({
      name: 'offsite',
      location: 'sftp:backup@example.org:/srv/restic',
      passwordRef: 'keychain:lifeboat/offsite',
    });
    expect(repo).toEqual({
      id: expect.any(Number),
      name: 'offsite',
      location: 'sftp:backup@example.org:/srv/restic',
      passwordRef: 'keychain:lifeboat/offsite',
      repositoryId: null,
      createdAt: '2025-03-01T10:00:00.000Z',
      updatedAt: '2025-03-01T10:00:00.000Z',
    });
    expect(db.repositories.get(repo.id)).toEqual(repo);
    expect(db.repositories.getByName('offsite')).toEqual(repo);
  });

  it('returns undefined for unknown ids and names (names are case-sensitive)', () => {
    db.repositories.add({ name: 'offsite', location: '/r' });
    expect(db.repositories.get(999)).toBeUndefined();
    expect(db.repositories.getByName('nope')).toBeUndefined();
    expect(db.repositories.getByName('Offsite')).toBeUndefined();
  });

  it('lists repositories ordered by name', () => {
    for (const name of ['usb', 'cloud', 'nas']) db.repositories.add({ name, location: `/${name}` });
    expect(db.repositories.list().map((r) => r.name)).toEqual(['cloud', 'nas', 'usb']);
  });

  it('refuses a duplicate name with an error naming the field', () => {
    db.repositories.add({ name: 'offsite', location: '/a' });
    const error = caught(() => db.repositories.add({ name: 'offsite', location: '/b' }));
    expect(error).toBeInstanceOf(DuplicateValueError);
    expect(error).toMatchObject({ table: 'repositories', field: 'name', value: 'offsite' });
    expect((error as Error).message).toBe('a repository with name "offsite" already exists (repositories.name must be unique)');
    expect(db.repositories.list()).toHaveLength(1);
  });

  it('lets the schema reject invalid values', () => {
    expect(() => db.repositories.add({ name: '  ', location: '/a' })).toThrow(/repositories_name_not_blank/);
    expect(() => db.repositories.add({ name: 'a', location: '' })).toThrow(/repositories_location_not_blank/);
    expect(() => db.repositories.add({ name: 'a', location: '/a', repositoryId: 'xyz' })).toThrow(/repositories_repository_id_is_hex64/);
    expect(db.repositories.list()).toEqual([]);
  });

  it('updates some fields, keeps the others, and bumps updatedAt', () => {
    const repo = db.repositories.add({ name: 'offsite', location: '/a', passwordRef: 'keychain:x' });
    clock = new Date('2025-03-02T08:30:00.000Z');
    const updated = db.repositories.update(repo.id, { location: '/b', repositoryId: HEX64 });
    expect(updated).toEqual({
      ...repo,
      location: '/b',
      repositoryId: HEX64,
      updatedAt: '2025-03-02T08:30:00.000Z',
    });
    expect(db.repositories.get(repo.id)).toEqual(updated);
  });

  it('clears nullable fields with null and leaves them with undefined', () => {
    const repo = db.repositories.add({ name: 'offsite', location: '/a', passwordRef: 'keychain:x', repositoryId: HEX64 });
    expect(db.repositories.update(repo.id, { passwordRef: undefined }).passwordRef).toBe('keychain:x');
    const cleared = db.repositories.update(repo.id, { passwordRef: null, repositoryId: null });
    expect(cleared.passwordRef).toBeNull();
    expect(cleared.repositoryId).toBeNull();
  });

  it('renames, refusing a name another repository has', () => {
    const a = db.repositories.add({ name: 'a', location: '/a' });
    db.repositories.add({ name: 'b', location: '/b' });
    expect(db.repositories.update(a.id, { name: 'a2' }).name).toBe('a2');
    const error = caught(() => db.repositories.update(a.id, { name: 'b', location: '/changed' }));
    expect(error).toBeInstanceOf(DuplicateValueError);
    expect(error).toMatchObject({ field: 'name', value: 'b' });
    expect(db.repositories.get(a.id)).toMatchObject({ name: 'a2', location: '/a' });
    // Renaming to its own current name is not a conflict.
    expect(db.repositories.update(a.id, { name: 'a2' }).name).toBe('a2');
  });

  it('throws RecordNotFoundError when updating a missing repository', () => {
    expect(() => db.repositories.update(42, { name: 'x' })).toThrow(RecordNotFoundError);
    expect(() => db.repositories.update(42, { name: 'x' })).toThrow('no row in repositories with id 42');
  });

  it('removes repositories and says whether one was removed', () => {
    const repo = db.repositories.add({ name: 'offsite', location: '/a' });
    expect(db.repositories.remove(repo.id)).toBe(true);
    expect(db.repositories.remove(repo.id)).toBe(false);
    expect(db.repositories.get(repo.id)).toBeUndefined();
    // The name is free again.
    expect(db.repositories.add({ name: 'offsite', location: '/b' }).location).toBe('/b');
  });

  it('persists across reopening', () => {
    const repo = db.repositories.add({ name: 'offsite', location: '/a' });
    db.close();
    db = openDatabase(file);
    expect(db.repositories.get(repo.id)).toEqual(repo);
  });
});

describe('SettingsStore', () => {
  it('returns the fallback for a missing key', () => {
    expect(db.settings.get('missing', 42)).toBe(42);
    expect(db.settings.get<string[]>('missing', [])).toEqual([]);
  });

  it('round-trips JSON values of every kind', () => {
    const values: [string, unknown][] = [
      ['string', 'dark'],
      ['number', 3.5],
      ['boolean', false],
      ['array', [1, 'two', null]],
      ['object', { schedule: { every: 'day', at: '02:00' }, keep: { daily: 7 } }],
    ];
    for (const [key, value] of values) db.settings.set(key, value);
    for (const [key, value] of values) expect(db.settings.get(key, 'fallback')).toEqual(value);
  });

  it('returns a stored null rather than the fallback', () => {
    db.settings.set('nothing', null);
    expect(db.settings.get('nothing', 'fallback')).toBeNull();
  });

  it('overwrites values and records when', () => {
    db.settings.set('ui.theme', 'dark');
    clock = new Date('2025-03-05T00:00:00.000Z');
    db.settings.set('ui.theme', 'light');
    expect(db.settings.get('ui.theme', 'dark')).toBe('light');
    expect(db.connection.prepare('SELECT value, updated_at FROM settings WHERE key = ?').get('ui.theme')).toEqual({
      value: '"light"',
      updated_at: '2025-03-05T00:00:00.000Z',
    });
  });

  it('deletes keys and says whether one existed', () => {
    db.settings.set('k', 1);
    expect(db.settings.delete('k')).toBe(true);
    expect(db.settings.delete('k')).toBe(false);
    expect(db.settings.get('k', 0)).toBe(0);
  });

  it('refuses values with no JSON form and blank keys', () => {
    expect(() => db.settings.set('k', undefined)).toThrow(TypeError);
    expect(() => db.settings.set('k', () => 1)).toThrow(/a function value cannot be stored as JSON/);
    expect(() => db.settings.set('k', 10n)).toThrow(TypeError);
    expect(() => db.settings.set('', 1)).toThrow(/settings_key_not_blank/);
    expect(db.settings.get('k', 'none')).toBe('none');
  });

  it('persists across reopening', () => {
    db.settings.set('retention', { daily: 7 });
    db.close();
    db = openDatabase(file);
    expect(db.settings.get('retention', {})).toEqual({ daily: 7 });
  });
});
