// Migration 003-restore-tests on a real database file: runs rebuilt with the
// 'restore-test' kind (rows and indexes kept), the STRICT restore_tests
// table with its constraints, and the RestoreTestStore over it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateJobConfig } from '../../shared/jobs.js';
import { RESTORE_TEST_DEFAULTS } from '../../shared/restore-test.js';
import { openDatabase } from '../../main/store/database.js';
import { migrate } from '../../main/store/migrate.js';
import { MIGRATIONS } from '../../main/store/migrations/index.js';
import type { NewRestoreTest } from '../../main/store/restore-tests.js';

const T = '2025-01-02T03:04:05.678Z';
const HEX64 = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);
let dir: string;
let file: string;
let db: Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-restore-tests-'));
  file = join(dir, 'lifeboat.db');
  db = new BetterSqlite3(file);
  db.pragma('foreign_keys = ON');
});

afterEach(() => {
  if (db.open) db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A schema-2 database with a repository, a job stored before restore tests existed, and two runs. */
function schema2WithRows(): void {
  expect(migrate(db, { migrations: MIGRATIONS.slice(0, 2) })).toMatchObject({ to: 2 });
  db.prepare(`INSERT INTO repositories (name, location, created_at, updated_at) VALUES ('offsite', '/srv/restic', ?, ?)`).run(T, T);
  const config = JSON.stringify({ name: 'site', repositoryId: 1, enabled: true, sources: { paths: ['/srv'], include: [], exclude: [] }, schedule: null });
  db.prepare(`INSERT INTO jobs (name, repository_id, config, enabled, created_at, updated_at) VALUES ('site', 1, ?, 1, ?, ?)`).run(config, T, T);
  db.prepare(`INSERT INTO runs (job_id, kind, "trigger", scheduled_for, queued_at, status, snapshot_id, files_new, log) VALUES (1, 'backup', 'schedule', ?, ?, 'success', ?, 7, 'a log')`).run(T, T, HEX64);
  db.prepare(`INSERT INTO runs (job_id, kind, "trigger", scheduled_for, queued_at, status) VALUES (1, 'check', 'manual', NULL, ?, 'failed')`).run(T);
}

function evidence(over: Partial<NewRestoreTest> = {}): NewRestoreTest {
  return {
    jobId: 1, jobName: 'site', runId: null, repositoryLocation: '/srv/restic', repositoryId: HEX64, snapshotId: HEX64, snapshotTime: T,
    trigger: 'manual', scope: { kind: 'sample', files: 3 }, seed: 1234, sample: ['/srv/a', '/srv/b'], filesPlanned: 2, bytesPlanned: 20,
    filesRestored: 2, bytesRestored: 20, filesVerified: 2, filesComparedWithSource: 1, mismatches: [], notRestored: [],
    startedAt: T, endedAt: T, durationMs: 1500, estimatedFullRestoreMs: 4000, targetRtoMinutes: 60, rtoMet: true, passed: true, failures: [],
    appVersion: 'lifeboat 0.1.0', sandboxPath: '/tmp/sandbox', sandboxKept: false, ...over,
  };
}

describe('migration 003-restore-tests', () => {
  beforeEach(() => {
    schema2WithRows();
    expect(migrate(db, { migrations: MIGRATIONS.slice(0, 3) })).toEqual({ from: 2, to: 3, applied: ['003-restore-tests'] });
  });

  it('keeps every run row and the runs indexes, and the table stays STRICT', () => {
    expect(db.prepare('SELECT id, kind, "trigger", snapshot_id, files_new, log FROM runs ORDER BY id').all()).toEqual([
      { id: 1, kind: 'backup', trigger: 'schedule', snapshot_id: HEX64, files_new: 7, log: 'a log' },
      { id: 2, kind: 'check', trigger: 'manual', snapshot_id: null, files_new: 0, log: '' },
    ]);
    const indexes = (db.pragma('index_list(runs)') as { name: string }[]).map((i) => i.name).sort();
    expect(indexes).toEqual(['runs_job_queued_at', 'runs_job_scheduled_for', 'runs_status']);
    for (const t of ['runs', 'restore_tests']) expect((db.pragma(`table_list(${t})`) as { strict: number }[])[0]?.strict).toBe(1);
    expect(db.pragma('foreign_key_check')).toEqual([]);
  });

  it("accepts runs of kind 'restore-test' and still refuses unknown kinds", () => {
    const insert = (kind: string) => db.prepare(`INSERT INTO runs (job_id, kind, "trigger", scheduled_for, queued_at, status) VALUES (1, ?, 'manual', NULL, ?, 'queued')`).run(kind, T);
    expect(() => insert('restore-test')).not.toThrow();
    expect(() => insert('restore')).toThrow(/runs_kind_known/);
  });

  it('still deletes the runs of a deleted job, and keeps its restore-test evidence with the job name', () => {
    db.close();
    const store = openDatabase(file);
    try {
      const t = store.restoreTests.add(evidence({ runId: 1 }));
      store.jobs.remove(1);
      expect(store.runs.list()).toEqual([]);
      expect(store.restoreTests.get(t.id)).toMatchObject({ jobId: null, jobName: 'site', runId: null });
    } finally {
      store.close();
    }
  });

  it('reads a job stored before restore tests existed with the default policy', () => {
    db.close();
    const store = openDatabase(file);
    try {
      expect(store.jobs.get(1)?.restoreTest).toEqual(RESTORE_TEST_DEFAULTS);
    } finally {
      store.close();
    }
  });

  describe('restore_tests refuses', () => {
    let store: ReturnType<typeof openDatabase>;
    beforeEach(() => {
      db.close();
      store = openDatabase(file);
    });
    afterEach(() => store.close());

    it.each([
      ['a pass with a mismatch', { mismatches: [{ path: '/srv/a', reason: 'differs' }] }, /restore_tests_passed_means_clean/],
      ['a pass with a file not restored', { notRestored: [{ path: '/srv/a', reason: 'pack damaged' }] }, /restore_tests_passed_means_clean/],
      ['a short snapshot id', { snapshotId: 'abc' }, /restore_tests_snapshot_id_is_hex64/],
      ['an unknown trigger', { trigger: 'cron' as never }, /restore_tests_trigger_known/],
      ['a local start time', { startedAt: '2025-01-02T03:04:05' }, /restore_tests_started_at_iso8601/],
      ['an RTO verdict without a target', { targetRtoMinutes: null, rtoMet: true }, /restore_tests_rto_met_needs_target/],
      ['a negative duration', { durationMs: -1 }, /restore_tests_counts_not_negative/],
      ['an unknown scope', { scope: { kind: 'most' } as never }, /restore_tests_scope_is_object/],
      ['a missing job', { jobId: 99 }, /FOREIGN KEY constraint failed/],
    ])('%s', (_label, over, error) => {
      expect(() => store.restoreTests.add(evidence(over))).toThrow(error);
      expect(store.restoreTests.list()).toEqual([]);
    });

    it('a blank operator or a sign-off without an operator', () => {
      const t = store.restoreTests.add(evidence());
      expect(() => store.restoreTests.signOff(t.id, '  ', null, new Date(T))).toThrow(/restore_tests_operator_not_blank/);
      expect(() => store.connection.prepare('UPDATE restore_tests SET signed_off_at = ? WHERE id = ?').run(T, t.id)).toThrow(/restore_tests_sign_off_complete/);
    });
  });
});

describe('RestoreTestStore', () => {
  it('round-trips evidence, signs it off, lists by job and period, and gives the due history', () => {
    db.close();
    const store = openDatabase(file);
    try {
      store.repositories.add({ name: 'r', location: '/srv/restic', passwordRef: null, repositoryId: null });
      const job = store.jobs.add(validateJobConfig({ name: 'site', repositoryId: 1, sources: { paths: ['/srv'] } }));
      expect(store.restoreTests.history(job.id)).toEqual({ lastPassedAt: null, lastTest: null });
      const a = store.restoreTests.add(evidence({ jobId: job.id, endedAt: '2026-01-10T00:00:00.000Z' }));
      const b = store.restoreTests.add(evidence({ jobId: job.id, endedAt: '2026-04-10T00:00:00.000Z', passed: false, rtoMet: false, failures: ['1 mismatch'], mismatches: [{ path: '/srv/a', reason: 'content differs' }] }));
      store.restoreTests.add(evidence({ jobId: null, jobName: null, trigger: 'cli', endedAt: '2026-02-01T00:00:00.000Z' }));
      expect(store.restoreTests.get(b.id)).toEqual({ ...evidence({ jobId: job.id, endedAt: '2026-04-10T00:00:00.000Z', passed: false, rtoMet: false, failures: ['1 mismatch'], mismatches: [{ path: '/srv/a', reason: 'content differs' }] }), id: b.id, operator: null, note: null, signedOffAt: null });
      const signed = store.restoreTests.signOff(a.id, 'Ann', 'all fine', new Date('2026-01-10T01:00:00.000Z'));
      expect(signed).toMatchObject({ operator: 'Ann', note: 'all fine', signedOffAt: '2026-01-10T01:00:00.000Z' });
      expect(store.restoreTests.list({ jobId: job.id }).map((t) => t.id)).toEqual([b.id, a.id]);
      expect(store.restoreTests.list({ from: '2026-01-15T00:00:00.000Z', to: '2026-03-01T00:00:00.000Z' }).map((t) => t.trigger)).toEqual(['cli']);
      expect(store.restoreTests.history(job.id)).toEqual({ lastPassedAt: '2026-01-10T00:00:00.000Z', lastTest: { endedAt: '2026-04-10T00:00:00.000Z', passed: false } });
      expect(() => store.restoreTests.signOff(999, 'Ann', null, new Date())).toThrow(/restore_tests/);
    } finally {
      store.close();
    }
  });
});
