// openDatabase() and the migration runner against real SQLite files.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { DatabaseFromTheFutureError, MigrationError } from '../../main/store/errors.js';
import { migrate, readSchemaVersion } from '../../main/store/migrate.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from '../../main/store/migrations/index.js';

let dir: string;
let file: string;
const toClose: { close(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-store-db-'));
  file = join(dir, 'lifeboat.db');
});

afterEach(() => {
  for (const handle of toClose.splice(0)) handle.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(options?: Parameters<typeof openDatabase>[1]): LifeboatDatabase {
  const db = openDatabase(file, options);
  toClose.push(db);
  return db;
}

function raw(path = file): Database {
  const db = new BetterSqlite3(path);
  toClose.push(db);
  return db;
}

/**
 * The schema as SQLite records it, for before/after comparisons. SQLite's own
 * tables (sqlite_stat1 etc., created by `PRAGMA optimize` on close) are left out.
 */
function schemaOf(db: Database): unknown[] {
  return db
    .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name")
    .all();
}

const m001 = MIGRATIONS[0]!;
const T = '2025-01-02T03:04:05.000Z';

describe('openDatabase', () => {
  it('creates a new file at the latest schema with WAL, foreign keys, synchronous NORMAL and a busy timeout', () => {
    const db = open();
    expect(db.path).toBe(file);
    expect(db.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(readSchemaVersion(db.connection)).toBe(LATEST_SCHEMA_VERSION);
    expect(db.connection.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.connection.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.connection.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(db.connection.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(existsSync(file)).toBe(true);
  });

  it('honours busyTimeoutMs', () => {
    expect(open({ busyTimeoutMs: 1234 }).connection.pragma('busy_timeout', { simple: true })).toBe(1234);
  });

  it('leaves the file in WAL mode for other connections too', () => {
    open().close();
    expect(raw().pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('is idempotent: reopening keeps the schema, the version and the data and applies nothing', () => {
    const first = open();
    first.repositories.add({ name: 'offsite', location: '/srv/restic' });
    first.settings.set('ui.theme', 'dark');
    const schema = schemaOf(first.connection);
    first.close();

    for (let i = 0; i < 2; i++) {
      const again = open();
      expect(again.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      expect(schemaOf(again.connection)).toEqual(schema);
      expect(migrate(again.connection)).toEqual({ from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION, applied: [] });
      expect(again.repositories.list().map((r) => r.name)).toEqual(['offsite']);
      expect(again.settings.get('ui.theme', 'light')).toBe('dark');
      again.close();
    }
  });

  it('close() can be called twice', () => {
    const db = open();
    db.close();
    expect(() => db.close()).not.toThrow();
    expect(db.connection.open).toBe(false);
  });

  it('works in memory', () => {
    const db = openDatabase(':memory:');
    toClose.push(db);
    expect(db.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(db.repositories.list()).toEqual([]);
  });

  it('rejects an empty path', () => {
    expect(() => openDatabase('')).toThrow(TypeError);
  });

  it('transaction() commits on return and rolls back on throw', () => {
    const db = open();
    expect(db.transaction(() => db.repositories.add({ name: 'a', location: '/a' }).name)).toBe('a');
    expect(() =>
      db.transaction(() => {
        db.repositories.add({ name: 'b', location: '/b' });
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(db.repositories.list().map((r) => r.name)).toEqual(['a']);
  });
});

describe('a database from the future', () => {
  function makeFutureDatabase(journalMode: 'delete' | 'wal'): Buffer {
    const db = new BetterSqlite3(file);
    db.pragma(`journal_mode = ${journalMode}`);
    db.exec("CREATE TABLE from_the_future (x TEXT) STRICT; INSERT INTO from_the_future VALUES ('hello')");
    db.pragma('user_version = 999');
    db.close();
    return readFileSync(file);
  }

  it.each(['delete', 'wal'] as const)('(%s journal) is refused with a clear error and left byte-for-byte untouched', (mode) => {
    const before = makeFutureDatabase(mode);
    const listing = readdirSync(dir).sort();

    let caught: unknown;
    try {
      open();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DatabaseFromTheFutureError);
    const error = caught as DatabaseFromTheFutureError;
    expect(error.message).toBe(
      `the database at ${file} was written by a newer Lifeboat (schema 999, this version knows up to ${LATEST_SCHEMA_VERSION}); upgrade Lifeboat`,
    );
    expect(error.name).toBe('DatabaseFromTheFutureError');
    expect(error).toMatchObject({ path: file, databaseVersion: 999, newestKnownVersion: LATEST_SCHEMA_VERSION });

    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(listing); // no -wal/-shm/-journal left behind
    // ...and it is still the newer Lifeboat's database.
    const check = raw();
    expect(check.pragma('journal_mode', { simple: true })).toBe(mode);
    expect(check.prepare('SELECT x FROM from_the_future').get()).toEqual({ x: 'hello' });
  });

  it('is refused by migrate() too, before anything runs', () => {
    const db = raw();
    migrate(db, { migrations: [m001] });
    let ran = false;
    const later: Migration = { version: 1, name: 'other-history', up: () => void (ran = true) };
    expect(() => migrate(db, { migrations: [] })).toThrow(DatabaseFromTheFutureError);
    expect(() => migrate(db, { migrations: [], path: 'custom-name.db' })).toThrow(
      /^the database at custom-name\.db was written by a newer Lifeboat \(schema 1, this version knows up to 0\)/,
    );
    expect(() => openDatabase(file, { migrations: [] })).toThrow(DatabaseFromTheFutureError);
    expect(migrate(db, { migrations: [later] })).toEqual({ from: 1, to: 1, applied: [] });
    expect(ran).toBe(false);
    expect(readSchemaVersion(db)).toBe(1);
  });
});

describe('a failing migration', () => {
  const explodes: Migration = {
    version: 2,
    name: 'explodes',
    up(db) {
      db.exec('CREATE TABLE half_done (x TEXT) STRICT');
      db.exec('ALTER TABLE repositories ADD COLUMN colour TEXT');
      db.prepare(`INSERT INTO repositories (name, location, created_at, updated_at) VALUES ('ghost', '/g', ?, ?)`).run(T, T);
      db.pragma('user_version = 77');
      throw new Error('disk on fire');
    },
  };

  it('leaves user_version, schema and data exactly as before and names the migration', () => {
    const db = raw();
    migrate(db, { migrations: [m001] });
    db.prepare(`INSERT INTO repositories (name, location, created_at, updated_at) VALUES ('real', '/r', ?, ?)`).run(T, T);
    const schema = schemaOf(db);
    const rows = db.prepare('SELECT * FROM repositories').all();

    let caught: unknown;
    try {
      migrate(db, { migrations: [m001, explodes] });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(MigrationError);
    const error = caught as MigrationError;
    expect(error.message).toMatch(/^migration 002-explodes failed and was rolled back \(the database stays at schema 1\): disk on fire$/);
    expect(error).toMatchObject({ version: 2, migrationName: 'explodes' });
    expect((error.cause as Error).message).toBe('disk on fire');

    expect(db.inTransaction).toBe(false);
    expect(readSchemaVersion(db)).toBe(1);
    expect(schemaOf(db)).toEqual(schema);
    expect(db.prepare('SELECT * FROM repositories').all()).toEqual(rows);
  });

  it('keeps the earlier migrations of the same run and stays at the last good version on disk', () => {
    expect(() => open({ migrations: [m001, explodes] })).toThrow(/migration 002-explodes failed/);
    // openDatabase closed its connection; the file is at schema 1 with schema-1 tables only.
    const db = raw();
    expect(readSchemaVersion(db)).toBe(1);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all()).toEqual([
      { name: 'repositories' },
      { name: 'settings' },
    ]);
    db.close();
    // and the real history still opens it.
    expect(open().schemaVersion).toBe(LATEST_SCHEMA_VERSION);
  });

  it('rolls back a first migration completely: an empty file stays at schema 0 with no tables', () => {
    const broken: Migration = {
      version: 1,
      name: 'broken-start',
      up(db) {
        db.exec('CREATE TABLE a (x TEXT) STRICT');
        db.exec('CREATE TABLE b (x NOT_A_TYPE) STRICT'); // STRICT refuses unknown types
      },
    };
    expect(() => open({ migrations: [broken] })).toThrow(/migration 001-broken-start failed.*unknown datatype/);
    const db = raw();
    expect(readSchemaVersion(db)).toBe(0);
    expect(schemaOf(db)).toEqual([]);
  });

  it('is rolled back when it leaves foreign-key violations behind', () => {
    const dangling: Migration = {
      version: 2,
      name: 'dangling-reference',
      up(db) {
        db.exec(`CREATE TABLE snapshots (
          id INTEGER PRIMARY KEY,
          repository INTEGER NOT NULL REFERENCES repositories (id)
        ) STRICT`);
        db.exec('INSERT INTO snapshots (repository) VALUES (42)');
      },
    };
    const db = raw();
    db.pragma('foreign_keys = ON');
    migrate(db, { migrations: [m001] });
    expect(() => migrate(db, { migrations: [m001, dangling] })).toThrow(/002-dangling-reference failed.*foreign-key violation/);
    expect(readSchemaVersion(db)).toBe(1);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1); // restored
  });

  it('cannot commit the runner transaction behind its back without being reported', () => {
    const commits: Migration = {
      version: 2,
      name: 'commits-early',
      up(db) {
        db.exec('COMMIT');
      },
    };
    const db = raw();
    migrate(db, { migrations: [m001] });
    expect(() => migrate(db, { migrations: [m001, commits] })).toThrow(/002-commits-early failed.*must not COMMIT or ROLLBACK/);
    expect(readSchemaVersion(db)).toBe(1);
  });
});

describe('the runner', () => {
  it('applies each pending migration in order, in its own transaction, and reports them', () => {
    const seen: number[] = [];
    const step = (version: number, name: string): Migration => ({
      version,
      name,
      up(db) {
        expect(db.inTransaction).toBe(true);
        expect(readSchemaVersion(db)).toBe(version - 1);
        expect(db.pragma('foreign_keys', { simple: true })).toBe(0);
        seen.push(version);
        db.exec(`CREATE TABLE t${version} (x TEXT) STRICT`);
      },
    });
    const db = raw();
    db.pragma('foreign_keys = ON');
    const history = [m001, step(2, 'second'), step(3, 'third')];
    expect(migrate(db, { migrations: history.slice(0, 2) })).toEqual({
      from: 0,
      to: 2,
      applied: ['001-repositories-and-settings', '002-second'],
    });
    expect(migrate(db, { migrations: history })).toEqual({ from: 2, to: 3, applied: ['003-third'] });
    expect(seen).toEqual([2, 3]);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
  });

  it('refuses a malformed migration list before touching the database', () => {
    const db = raw();
    const gap: Migration = { version: 3, name: 'gap', up: () => {} };
    expect(() => migrate(db, { migrations: [m001, gap] })).toThrow(/has version 3, expected 2/);
    expect(() => openDatabase(join(dir, 'other.db'), { migrations: [gap] })).toThrow(/expected 1/);
    expect(existsSync(join(dir, 'other.db'))).toBe(false);
    expect(readSchemaVersion(db)).toBe(0);
  });

  it('refuses to run inside an open transaction', () => {
    const db = raw();
    db.exec('BEGIN');
    expect(() => migrate(db, { migrations: [m001] })).toThrow(/inside an open transaction/);
    db.exec('ROLLBACK');
  });
});
