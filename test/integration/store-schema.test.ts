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

describe('migration 002-jobs-and-runs', () => {
  const CONFIG = (name: string, repositoryId: number, enabled = true) => JSON.stringify({ name, repositoryId, enabled, sources: { paths: ['/srv'] } });
  let repositoryId: number;

  beforeEach(() => {
    migrateTo(1);
    repositoryId = Number(
      db.prepare(`INSERT INTO repositories (name, location, created_at, updated_at) VALUES ('offsite', '/srv/restic', ?, ?)`).run(T, T)
        .lastInsertRowid,
    );
    expect(migrate(db, { migrations: MIGRATIONS.slice(0, 2) })).toEqual({ from: 1, to: 2, applied: ['002-jobs-and-runs'] });
  });

  const insertJob = (row: Partial<Record<string, unknown>> = {}) => {
    const values = { name: 'site', repository_id: repositoryId, enabled: 1, created_at: T, updated_at: T, ...row };
    const config = 'config' in row ? row.config : CONFIG(String(values.name), Number(values.repository_id), values.enabled === 1);
    return Number(
      db
        .prepare(
          `INSERT INTO jobs (name, repository_id, config, enabled, created_at, updated_at)
           VALUES (@name, @repository_id, @config, @enabled, @created_at, @updated_at)`,
        )
        .run({ ...values, config }).lastInsertRowid,
    );
  };

  const insertRun = (row: Partial<Record<string, unknown>> = {}) =>
    Number(
      db
        .prepare(
          `INSERT INTO runs (job_id, kind, "trigger", scheduled_for, queued_at, status)
           VALUES (@job_id, @kind, @trigger, @scheduled_for, @queued_at, @status)`,
        )
        .run({ job_id: 1, kind: 'backup', trigger: 'schedule', scheduled_for: T, queued_at: T, status: 'queued', ...row }).lastInsertRowid,
    );

  it('adds the jobs and runs tables, both STRICT, and keeps the schema-1 tables and rows', () => {
    expect(tableNames()).toEqual(['jobs', 'repositories', 'runs', 'settings']);
    expect(isStrict('jobs')).toBe(true);
    expect(isStrict('runs')).toBe(true);
    expect(db.prepare('SELECT name FROM repositories').all()).toEqual([{ name: 'offsite' }]);
  });

  it('gives jobs the documented columns, a unique name and a RESTRICT foreign key to repositories', () => {
    expect(columns('jobs')).toEqual([
      { name: 'id', type: 'INTEGER', notnull: 0, pk: 1 },
      { name: 'name', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'repository_id', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'config', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'enabled', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'created_at', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'updated_at', type: 'TEXT', notnull: 1, pk: 0 },
    ]);
    expect(uniqueColumns('jobs')).toEqual([['name']]);
    expect(db.pragma('foreign_key_list(jobs)')).toMatchObject([{ table: 'repositories', from: 'repository_id', to: 'id', on_delete: 'RESTRICT' }]);
  });

  it('gives runs the documented columns, defaults, a CASCADE foreign key to jobs and the indexes', () => {
    const info = db.pragma('table_info(runs)') as ColumnInfo[];
    expect(info.map(({ name, type, notnull, pk }) => ({ name, type, notnull, pk }))).toEqual([
      { name: 'id', type: 'INTEGER', notnull: 0, pk: 1 },
      { name: 'job_id', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'kind', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'trigger', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'scheduled_for', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'queued_at', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'started_at', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'ended_at', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'status', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'phase', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'reason', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'snapshot_id', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'files_new', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'files_changed', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'files_unmodified', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'bytes_processed', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'bytes_added', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'error_count', type: 'INTEGER', notnull: 1, pk: 0 },
      { name: 'error', type: 'TEXT', notnull: 0, pk: 0 },
      { name: 'log', type: 'TEXT', notnull: 1, pk: 0 },
      { name: 'acknowledged', type: 'INTEGER', notnull: 1, pk: 0 },
    ]);
    const defaults = Object.fromEntries(info.filter((c) => c.dflt_value !== null).map((c) => [c.name, c.dflt_value]));
    expect(defaults).toEqual({
      files_new: '0',
      files_changed: '0',
      files_unmodified: '0',
      bytes_processed: '0',
      bytes_added: '0',
      error_count: '0',
      log: "''",
      acknowledged: '0',
    });
    expect(db.pragma('foreign_key_list(runs)')).toMatchObject([{ table: 'jobs', from: 'job_id', to: 'id', on_delete: 'CASCADE' }]);
    const indexes = (db.pragma('index_list(runs)') as { name: string; origin: string }[])
      .filter((i) => i.origin === 'c')
      .map((i) => (db.pragma(`index_info(${i.name})`) as { name: string }[]).map((c) => c.name))
      .sort();
    expect(indexes).toEqual([['job_id', 'queued_at'], ['job_id', 'scheduled_for'], ['status']]);
  });

  it('stores and reads back a job row and a run row with its defaults', () => {
    const jobId = insertJob();
    expect(db.prepare('SELECT * FROM jobs').get()).toEqual({
      id: jobId,
      name: 'site',
      repository_id: repositoryId,
      config: CONFIG('site', repositoryId),
      enabled: 1,
      created_at: T,
      updated_at: T,
    });
    const runId = insertRun({ job_id: jobId });
    expect(db.prepare('SELECT * FROM runs WHERE id = ?').get(runId)).toEqual({
      id: runId,
      job_id: jobId,
      kind: 'backup',
      trigger: 'schedule',
      scheduled_for: T,
      queued_at: T,
      started_at: null,
      ended_at: null,
      status: 'queued',
      phase: null,
      reason: null,
      snapshot_id: null,
      files_new: 0,
      files_changed: 0,
      files_unmodified: 0,
      bytes_processed: 0,
      bytes_added: 0,
      error_count: 0,
      error: null,
      log: '',
      acknowledged: 0,
    });
    // A manual run has no slot; catch-up runs have one.
    expect(() => insertRun({ job_id: jobId, trigger: 'manual', scheduled_for: null })).not.toThrow();
    expect(() => insertRun({ job_id: jobId, trigger: 'catch-up' })).not.toThrow();
  });

  describe('rejects bad job rows', () => {
    it('accepts the baseline row used below', () => {
      expect(() => insertJob()).not.toThrow();
    });
    it.each([
      ['an empty name', { name: '' }, /jobs_name_not_blank/],
      ['an untrimmed name', { name: 'site ' }, /jobs_name_trimmed/],
      ['a 201-character name', { name: 'x'.repeat(201) }, /jobs_name_max_length/],
      ['a NULL name', { name: null, config: CONFIG('x', 1) }, /NOT NULL constraint failed: jobs.name/],
      ['a config that is not JSON', { config: '{name: site}' }, /jobs_config_is_json/],
      ['a config that is not an object', { config: '[1]' }, /jobs_config_is_object/],
      ['a config whose name differs from the column', { config: CONFIG('other', 1) }, /jobs_config_matches_columns/],
      ['a config whose repositoryId differs from the column', { config: CONFIG('site', 2) }, /jobs_config_matches_columns/],
      ['a config whose enabled differs from the column', { config: CONFIG('site', 1, false) }, /jobs_config_matches_columns/],
      ['a config without enabled', { config: JSON.stringify({ name: 'site', repositoryId: 1 }) }, /jobs_config_matches_columns/],
      ['enabled = 2', { enabled: 2, config: JSON.stringify({ name: 'site', repositoryId: 1, enabled: true }) }, /jobs_enabled_is_boolean/],
      ['a config whose enabled is 1, not true', { config: JSON.stringify({ name: 'site', repositoryId: 1, enabled: 1 }) }, /jobs_config_matches_columns/],
      ['a non-ISO created_at', { created_at: 'today' }, /jobs_created_at_iso8601/],
      ['a non-ISO updated_at', { updated_at: '2025-01-02 03:04:05' }, /jobs_updated_at_iso8601/],
      ['a text repository_id (STRICT typing)', { repository_id: 'one', config: CONFIG('site', 1) }, /cannot store TEXT value in INTEGER column/],
    ])('%s', (_label, row, error) => {
      expect(() => insertJob(row)).toThrow(error);
      expect(db.prepare('SELECT count(*) AS n FROM jobs').get()).toEqual({ n: 0 });
    });

    it('a duplicate name', () => {
      insertJob();
      expect(() => insertJob()).toThrow(/UNIQUE constraint failed: jobs.name/);
    });

    it('a repository that does not exist', () => {
      expect(() => insertJob({ repository_id: 42 })).toThrow(/FOREIGN KEY constraint failed/);
    });

    it('deleting a repository that jobs use', () => {
      insertJob();
      expect(() => db.prepare('DELETE FROM repositories WHERE id = ?').run(repositoryId)).toThrow(/FOREIGN KEY constraint failed/);
      expect(db.prepare('SELECT count(*) AS n FROM repositories').get()).toEqual({ n: 1 });
      // Once its jobs are gone the repository can go.
      db.exec('DELETE FROM jobs');
      expect(db.prepare('DELETE FROM repositories WHERE id = ?').run(repositoryId).changes).toBe(1);
    });
  });

  describe('rejects bad run rows', () => {
    beforeEach(() => void insertJob());

    it('accepts the baseline row used below', () => {
      expect(() => insertRun()).not.toThrow();
    });
    it.each([
      ['an unknown kind', { kind: 'restore' }, /runs_kind_known/],
      ['an unknown trigger', { trigger: 'cron' }, /runs_trigger_known/],
      ['an unknown status', { status: 'done' }, /runs_status_known/],
      ['a status in capitals', { status: 'FAILED' }, /runs_status_known/],
      ['a manual run with a scheduled_for', { trigger: 'manual' }, /runs_scheduled_for_null_iff_manual/],
      ['a scheduled run without scheduled_for', { scheduled_for: null }, /runs_scheduled_for_null_iff_manual/],
      ['a catch-up run without scheduled_for', { trigger: 'catch-up', scheduled_for: null }, /runs_scheduled_for_null_iff_manual/],
      ['a scheduled_for without milliseconds', { scheduled_for: '2025-01-02T03:04:05Z' }, /runs_scheduled_for_iso8601/],
      ['a local-time queued_at', { queued_at: '2025-01-02T03:04:05.000' }, /runs_queued_at_iso8601/],
      ['a NULL queued_at', { queued_at: null }, /NOT NULL constraint failed: runs.queued_at/],
      ['a NULL kind', { kind: null }, /NOT NULL constraint failed: runs.kind/],
      ['a missing job', { job_id: 99 }, /FOREIGN KEY constraint failed/],
    ])('%s', (_label, row, error) => {
      expect(() => insertRun(row)).toThrow(error);
      expect(db.prepare('SELECT count(*) AS n FROM runs').get()).toEqual({ n: 0 });
    });

    it.each([
      ['files_new', -1, /runs_files_new_not_negative/],
      ['files_changed', -1, /runs_files_changed_not_negative/],
      ['files_unmodified', -5, /runs_files_unmodified_not_negative/],
      ['bytes_processed', -1, /runs_bytes_processed_not_negative/],
      ['bytes_added', -1, /runs_bytes_added_not_negative/],
      ['error_count', -1, /runs_error_count_not_negative/],
      ['acknowledged', 2, /runs_acknowledged_is_boolean/],
      ['snapshot_id', 'abc', /runs_snapshot_id_is_hex64/],
      ['snapshot_id', HEX64.toUpperCase(), /runs_snapshot_id_is_hex64/],
      ['started_at', 'soon', /runs_started_at_iso8601/],
      ['ended_at', '2025-01-02T03:04:05.000+01:00', /runs_ended_at_iso8601/],
      ['files_new', 1.5, /cannot store REAL value in INTEGER column/],
      ['log', null, /NOT NULL constraint failed: runs.log/],
    ])('%s = %s', (column, value, error) => {
      const id = insertRun();
      expect(() => db.prepare(`UPDATE runs SET ${column} = ? WHERE id = ?`).run(value, id)).toThrow(error);
    });

    it('accepts a valid snapshot id, counts and times', () => {
      const id = insertRun();
      db.prepare(
        `UPDATE runs SET snapshot_id = ?, files_new = 3, bytes_added = 4096, started_at = ?, ended_at = ?, status = 'success' WHERE id = ?`,
      ).run(HEX64, T, T, id);
      expect(db.prepare('SELECT snapshot_id, files_new, bytes_added, status FROM runs').get()).toEqual({
        snapshot_id: HEX64,
        files_new: 3,
        bytes_added: 4096,
        status: 'success',
      });
    });
  });

  it('deleting a job deletes its runs and no others', () => {
    const first = insertJob({ name: 'first' });
    const second = insertJob({ name: 'second' });
    insertRun({ job_id: first });
    insertRun({ job_id: first, trigger: 'manual', scheduled_for: null });
    insertRun({ job_id: second });
    db.prepare('DELETE FROM jobs WHERE id = ?').run(first);
    expect(db.prepare('SELECT job_id FROM runs').all()).toEqual([{ job_id: second }]);
  });
});
