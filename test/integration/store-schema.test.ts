// One test block per schema migration: apply the history up to it on an empty
// database file and check the resulting schema, STRICTness, a round-tripped
// row and the constraints that protect its invariants.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { migrate, readSchemaVersion } from '../../main/store/migrate.js';
import { MIGRATIONS } from '../../main/store/migrations/index.js';

interface ColumnInfo {
  name: string;
  type: string;
  notnull: number;
  dflt_value: unknown;
  pk: number;
}

let dir: string;
let db: Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-store-schema-'));
  db = new BetterSqlite3(join(dir, 'lifeboat.db'));
  db.pragma('foreign_keys = ON');
});

afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Apply migrations 1..version to the (empty) test database. */
function migrateTo(version: number): void {
  const outcome = migrate(db, { migrations: MIGRATIONS.slice(0, version) });
  expect(outcome).toMatchObject({ from: 0, to: version });
  expect(readSchemaVersion(db)).toBe(version);
}

function tableNames(): string[] {
  return (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);
}

function columns(table: string): Pick<ColumnInfo, 'name' | 'type' | 'notnull' | 'pk'>[] {
  return (db.pragma(`table_info(${table})`) as ColumnInfo[]).map(({ name, type, notnull, pk }) => ({ name, type, notnull, pk }));
}

function isStrict(table: string): boolean {
  const rows = db.pragma(`table_list(${table})`) as { schema: string; strict: number }[];
  const row = rows.find((r) => r.schema === 'main');
  if (row === undefined) throw new Error(`no table ${table}`);
  return row.strict === 1;
}

function uniqueColumns(table: string): string[][] {
  const indexes = db.pragma(`index_list(${table})`) as { name: string; unique: number; origin: string }[];
  return indexes
    .filter((i) => i.unique === 1)
    .map((i) => (db.pragma(`index_info(${i.name})`) as { name: string }[]).map((c) => c.name));
}

const T = '2025-01-02T03:04:05.678Z';
const HEX64 = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);

describe('every migration', () => {
  it.each(MIGRATIONS.map((m) => [m.version, m.name] as const))('up to %i (%s) creates only STRICT tables', (version) => {
    migrateTo(version);
    const tables = tableNames();
    expect(tables.length).toBeGreaterThan(0);
    for (const table of tables) expect(isStrict(table), `${table} is STRICT`).toBe(true);
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });
});

describe('migration 001-repositories-and-settings', () => {
  beforeEach(() => migrateTo(1));

  it('creates exactly the repositories and settings tables, both STRICT', () => {
    expect(tableNames()).toEqual(['repositories', 'settings']);
    expect(isStrict('repositories')).toBe(true);
    expect(isStrict('settings')).toBe(true);
  });

  it('gives repositories the documented columns', () => {
    expect(columns('repositories')).toEqual([
      { name: 'id', type: 'INTEGER', notnull: 0, pk: 1 },
      { name: 'name', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'location', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'password_ref', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'repository_id', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'created_at', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'updated_at', type: 'TEXT', notnull: 1, pk: 0 },
    ]);
    expect(uniqueColumns('repositories')).toEqual([['name']]);
    // No column that could hold a password in clear.
    expect(columns('repositories').map((c) => c.name)).not.toContain('password');
  });

  it('gives settings the documented columns', () => {
    expect(columns('settings')).toEqual([
      { name: 'key', type: 'TEXT', notnull: 1, pk: 1 },
      { name: 'value', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'updated_at', type: 'TEXT', notnull: 1, pk: 0 },
    ]);
  });

  it('stores and reads back a repository row', () => {
    const info = db
      .prepare(
        `INSERT INTO repositories (name, location, password_ref, repository_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run('offsite', 'sftp:backup@example.org:/srv/restic', 'keychain:lifeboat/offsite', HEX64, T, T);
    expect(db.prepare('SELECT * FROM repositories WHERE id = ?').get(info.lastInsertRowid)).toEqual({
      id: 1,
      name: 'offsite',
      location: 'sftp:backup@example.org:/srv/restic',
      password_ref: 'keychain:lifeboat/offsite',
      repository_id: HEX64,
      created_at: T,
      updated_at: T,
    });
    // Optional columns may be NULL.
    db.prepare(`INSERT INTO repositories (name, location, created_at, updated_at) VALUES ('local', '/mnt/usb/restic', ?, ?)`).run(T, T);
    expect(db.prepare("SELECT password_ref, repository_id FROM repositories WHERE name = 'local'").get()).toEqual({
      password_ref: null,
      repository_id: null,
    });
  });

  it('stores and reads back a settings row', () => {
    db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)').run('ui.theme', '{"mode":"dark"}', T);
    expect(db.prepare('SELECT * FROM settings').all()).toEqual([{ key: 'ui.theme', value: '{"mode":"dark"}', updated_at: T }]);
  });

  describe('rejects bad repository rows', () => {
    const insert = (row: Partial<Record<string, unknown>>) => () =>
      db
        .prepare(
          `INSERT INTO repositories (name, location, password_ref, repository_id, created_at, updated_at)
           VALUES (@name, @location, @password_ref, @repository_id, @created_at, @updated_at)`,
        )
        .run({ name: 'ok', location: '/srv/r', password_ref: null, repository_id: null, created_at: T, updated_at: T, ...row });

    it('accepts the baseline row used below', () => {
      expect(insert({})).not.toThrow();
    });
    it.each([
      ['an empty name', { name: '' }, /repositories_name_not_blank/],
      ['a blank name', { name: '   ' }, /repositories_name_not_blank/],
      ['an untrimmed name', { name: ' offsite' }, /repositories_name_trimmed/],
      ['a 201-character name', { name: 'x'.repeat(201) }, /repositories_name_max_length/],
      ['a NULL name', { name: null }, /NOT NULL constraint failed: repositories.name/],
      ['an empty location', { location: '' }, /repositories_location_not_blank/],
      ['a NULL location', { location: null }, /NOT NULL constraint failed: repositories.location/],
      ['a blank password_ref', { password_ref: ' ' }, /repositories_password_ref_not_blank/],
      ['a short repository_id', { repository_id: 'abc123' }, /repositories_repository_id_is_hex64/],
      ['an uppercase repository_id', { repository_id: HEX64.toUpperCase() }, /repositories_repository_id_is_hex64/],
      ['a non-hex repository_id', { repository_id: 'g'.repeat(64) }, /repositories_repository_id_is_hex64/],
      ['a non-ISO created_at', { created_at: '02/01/2025' }, /repositories_created_at_iso8601/],
      ['a local-time created_at', { created_at: '2025-01-02T03:04:05' }, /repositories_created_at_iso8601/],
      ['a non-ISO updated_at', { updated_at: 'yesterday' }, /repositories_updated_at_iso8601/],
      ['a BLOB name (STRICT typing)', { name: Buffer.from('offsite') }, /cannot store BLOB value in TEXT column/],
    ])('%s', (_label, row, error) => {
      expect(insert(row)).toThrow(error);
      expect(db.prepare('SELECT count(*) AS n FROM repositories').get()).toEqual({ n: 0 });
    });

    it('a duplicate name', () => {
      insert({ name: 'offsite' })();
      expect(insert({ name: 'offsite' })).toThrow(/UNIQUE constraint failed: repositories.name/);
    });

    it('a non-integer id (STRICT typing)', () => {
      expect(() =>
        db.prepare(`INSERT INTO repositories (id, name, location, created_at, updated_at) VALUES ('one', 'a', '/a', ?, ?)`).run(T, T),
      ).toThrow(/datatype mismatch/);
    });
  });

  describe('rejects bad settings rows', () => {
    const insert = (key: unknown, value: unknown, updatedAt: unknown = T) => () =>
      db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)').run(key, value, updatedAt);

    it.each([
      ['an empty key', insert('', '1'), /settings_key_not_blank/],
      ['an untrimmed key', insert('theme ', '1'), /settings_key_trimmed/],
      ['a NULL key', insert(null, '1'), /NOT NULL constraint failed: settings.key/],
      ['a value that is not JSON', insert('theme', 'dark'), /settings_value_is_json/],
      ['a NULL value', insert('theme', null), /NOT NULL constraint failed: settings.value/],
      ['a non-ISO updated_at', insert('theme', '1', 'now'), /settings_updated_at_iso8601/],
    ])('%s', (_label, run, error) => {
      expect(run).toThrow(error);
    });

    it('a duplicate key', () => {
      insert('theme', '"dark"')();
      expect(insert('theme', '"light"')).toThrow(/UNIQUE constraint failed: settings.key/);
    });
  });
});
