// JobStore and RunStore (schema 2) on a real, migrated SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateJobConfig, type JobConfig, type RunRecord } from '../../shared/jobs.js';
import { ValidationError } from '../../shared/validation.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { DuplicateValueError, RecordNotFoundError } from '../../main/store/errors.js';
import { migrate, readSchemaVersion } from '../../main/store/migrate.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../../main/store/migrations/index.js';
import { INTERRUPTED_RUN_ERROR, RUN_LOG_MAX_BYTES, RUN_LOG_TRUNCATION_MARKER, type NewRun } from '../../main/store/runs.js';

let dir: string;
let file: string;
let db: LifeboatDatabase;
let clock: Date;
let repositoryId: number;

const HEX64 = '0123456789abcdef'.repeat(4);
const START = '2025-03-01T10:00:00.000Z';

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-store-jobs-runs-'));
  file = join(dir, 'lifeboat.db');
  clock = new Date(START);
  db = openDatabase(file, { now: () => clock });
  repositoryId = db.repositories.add({ name: 'offsite', location: '/srv/restic' }).id;
});

afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Move the test clock forward. */
function tick(ms = 1000): string {
  clock = new Date(clock.getTime() + ms);
  return clock.toISOString();
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/** A complete job configuration, built directly (no validateJobConfig). */
function config(overrides: Partial<JobConfig> = {}): JobConfig {
  return {
    name: 'website',
    repositoryId,
    sources: { paths: ['/var/www'], include: [], exclude: ['*.tmp'] },
    schedule: '*-*-* 02:00:00',
    mode: 'incremental',
    retention: { daily: 7, weekly: 4 },
    pruneAfterBackup: true,
    pruneSchedule: 'Sun 04:00',
    checkSchedule: null,
    checkReadData: 'none',
    overlap: 'queue',
    uploadWorkers: 4,
    bandwidth: { limitKiBps: 2048, windows: [{ from: '22:00', to: '06:00', limitKiBps: null }] },
    notify: 'errors',
    rpoHours: 26,
    catchUp: true,
    enabled: true,
    preCommand: 'mysqldump site > /var/www/dump.sql',
    postCommand: null,
    tags: ['web'],
    restoreTest: { cadenceDays: 30, dueSoonDays: 7, targetRtoMinutes: 240, scope: { kind: 'percent', percent: 5 }, drillSchedule: 'Sat 05:00' },
    ...overrides,
  };
}

describe('JobStore', () => {
  it('adds a job and returns its whole configuration with id and timestamps', () => {
    const job = db.jobs.add(config());
    expect(job).toEqual({ id: expect.any(Number), ...config(), createdAt: START, updatedAt: START });
    expect(db.jobs.get(job.id)).toEqual(job);
    expect(db.jobs.getByName('website')).toEqual(job);
    // The mirrored columns agree with the config.
    expect(db.connection.prepare('SELECT name, repository_id, enabled FROM jobs').get()).toEqual({
      name: 'website',
      repository_id: repositoryId,
      enabled: 1,
    });
  });

  it('round-trips a configuration produced by validateJobConfig', () => {
    const validated = validateJobConfig({ name: 'docs', repositoryId, sources: { paths: ['/srv/docs'] }, schedule: 'daily' });
    const job = db.jobs.add(validated);
    expect(db.jobs.get(job.id)).toEqual({ id: job.id, ...validated, createdAt: START, updatedAt: START });
  });

  it('returns undefined for unknown ids and names (names are case-sensitive)', () => {
    db.jobs.add(config());
    expect(db.jobs.get(999)).toBeUndefined();
    expect(db.jobs.getByName('Website')).toBeUndefined();
  });

  it('lists jobs ordered by name, optionally only enabled ones or those of one repository', () => {
    const other = db.repositories.add({ name: 'usb', location: '/mnt/usb' }).id;
    db.jobs.add(config({ name: 'mail', enabled: false }));
    db.jobs.add(config({ name: 'crm', repositoryId: other }));
    db.jobs.add(config({ name: 'website' }));
    expect(db.jobs.list().map((j) => j.name)).toEqual(['crm', 'mail', 'website']);
    expect(db.jobs.list({ enabled: true }).map((j) => j.name)).toEqual(['crm', 'website']);
    expect(db.jobs.list({ enabled: false }).map((j) => j.name)).toEqual(['mail']);
    expect(db.jobs.list({ repositoryId: other }).map((j) => j.name)).toEqual(['crm']);
    expect(db.jobs.list({ repositoryId, enabled: true }).map((j) => j.name)).toEqual(['website']);
  });

  it('refuses a duplicate name with DuplicateValueError naming the field, on add and on update', () => {
    const first = db.jobs.add(config({ name: 'website' }));
    const error = caught(() => db.jobs.add(config({ name: 'website' })));
    expect(error).toBeInstanceOf(DuplicateValueError);
    expect(error).toMatchObject({ table: 'jobs', field: 'name', value: 'website' });
    expect((error as Error).message).toBe('a job with name "website" already exists (jobs.name must be unique)');

    const second = db.jobs.add(config({ name: 'mail' }));
    expect(caught(() => db.jobs.update(second.id, config({ name: 'website' })))).toMatchObject({ name: 'DuplicateValueError', field: 'name' });
    expect(db.jobs.list().map((j) => [j.id, j.name])).toEqual([
      [second.id, 'mail'],
      [first.id, 'website'],
    ]);
  });

  it('refuses a repository that does not exist with a ValidationError naming repositoryId', () => {
    const error = caught(() => db.jobs.add(config({ repositoryId: 4242 })));
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'repositoryId' });
    expect((error as Error).message).toBe('repositoryId: no repository with id 4242');
    expect(db.jobs.list()).toEqual([]);

    const job = db.jobs.add(config());
    expect(caught(() => db.jobs.update(job.id, config({ repositoryId: 4242 })))).toMatchObject({ name: 'ValidationError', field: 'repositoryId' });
    expect(db.jobs.get(job.id)).toEqual(job);
  });

  it('lets the schema reject an invalid name', () => {
    expect(() => db.jobs.add(config({ name: ' ' }))).toThrow(/jobs_name_not_blank/);
    expect(() => db.jobs.add(config({ name: 'site ' }))).toThrow(/jobs_name_trimmed/);
    expect(() => db.jobs.add(config({ name: 'x'.repeat(201) }))).toThrow(/jobs_name_max_length/);
    expect(db.jobs.list()).toEqual([]);
  });

  it('replaces the configuration on update, keeping id and createdAt', () => {
    const job = db.jobs.add(config());
    const later = tick(60_000);
    const changed = config({ name: 'website-nightly', enabled: false, schedule: null, tags: [], retention: null });
    const updated = db.jobs.update(job.id, changed);
    expect(updated).toEqual({ id: job.id, ...changed, createdAt: START, updatedAt: later });
    expect(db.jobs.get(job.id)).toEqual(updated);
    expect(db.jobs.getByName('website')).toBeUndefined();
    expect(db.jobs.list({ enabled: true })).toEqual([]);
  });

  it('throws RecordNotFoundError when updating a missing job', () => {
    const error = caught(() => db.jobs.update(77, config()));
    expect(error).toBeInstanceOf(RecordNotFoundError);
    expect(error).toMatchObject({ table: 'jobs', id: 77 });
  });

  it('does not store a Job\'s id or timestamps inside its config', () => {
    const job = db.jobs.add(config());
    tick();
    const updated = db.jobs.update(job.id, { ...job, name: 'renamed' });
    const stored = JSON.parse((db.connection.prepare('SELECT config FROM jobs').get() as { config: string }).config) as object;
    expect(Object.keys(stored).sort()).toEqual(Object.keys(config()).sort());
    expect(updated.updatedAt).not.toBe(job.updatedAt);
  });

  it('removes a job together with its runs', () => {
    const job = db.jobs.add(config());
    const other = db.jobs.add(config({ name: 'mail' }));
    db.runs.create({ jobId: job.id, kind: 'backup', trigger: 'manual', scheduledFor: null, status: 'queued' });
    db.runs.create({ jobId: job.id, kind: 'prune', trigger: 'manual', scheduledFor: null, status: 'success' });
    const kept = db.runs.create({ jobId: other.id, kind: 'backup', trigger: 'manual', scheduledFor: null, status: 'queued' });
    expect(db.jobs.remove(job.id)).toBe(true);
    expect(db.jobs.remove(job.id)).toBe(false);
    expect(db.jobs.get(job.id)).toBeUndefined();
    expect(db.runs.list()).toEqual([kept]);
  });

  it('keeps a repository that jobs use from being deleted', () => {
    const job = db.jobs.add(config());
    expect(() => db.repositories.remove(repositoryId)).toThrow(/FOREIGN KEY constraint failed/);
    expect(db.repositories.get(repositoryId)).toBeDefined();
    db.jobs.remove(job.id);
    expect(db.repositories.remove(repositoryId)).toBe(true);
  });
});

describe('RunStore', () => {
  let jobId: number;
  let otherJobId: number;

  beforeEach(() => {
    jobId = db.jobs.add(config()).id;
    otherJobId = db.jobs.add(config({ name: 'mail' })).id;
  });

  const scheduled = (scheduledFor: string, overrides: Partial<NewRun> = {}): NewRun => ({
    jobId,
    kind: 'backup',
    trigger: 'schedule',
    scheduledFor,
    status: 'queued',
    ...overrides,
  });
  const manual = (overrides: Partial<NewRun> = {}): NewRun => ({
    jobId,
    kind: 'backup',
    trigger: 'manual',
    scheduledFor: null,
    status: 'queued',
    ...overrides,
  });

  describe('create and get', () => {
    it('records a queued run with queuedAt = now, zero counts, no log', () => {
      const run = db.runs.create(scheduled('2025-03-01T02:00:00.000Z', { reason: 'scheduled', phase: 'waiting for a free slot' }));
      expect(run).toEqual({
        id: expect.any(Number),
        jobId,
        kind: 'backup',
        trigger: 'schedule',
        scheduledFor: '2025-03-01T02:00:00.000Z',
        queuedAt: START,
        startedAt: null,
        endedAt: null,
        status: 'queued',
        phase: 'waiting for a free slot',
        reason: 'scheduled',
        snapshotId: null,
        filesNew: 0,
        filesChanged: 0,
        filesUnmodified: 0,
        bytesProcessed: 0,
        bytesAdded: 0,
        errorCount: 0,
        error: null,
        acknowledged: false,
      } satisfies RunRecord);
      expect(db.runs.get(run.id)).toEqual(run);
      expect(db.runs.getLog(run.id)).toBe('');
      expect(db.runs.get(run.id + 1)).toBeUndefined();
    });

    it('sets startedAt for a run created running and endedAt for one created finished', () => {
      expect(db.runs.create(manual({ status: 'running' }))).toMatchObject({ startedAt: START, endedAt: null });
      const skipped = db.runs.create(scheduled('2025-03-01T02:00:00.000Z', { status: 'skipped', reason: 'previous run still going' }));
      expect(skipped).toMatchObject({ status: 'skipped', startedAt: null, endedAt: START, reason: 'previous run still going' });
    });

    it('stores scheduledFor in toISOString() form, whatever ISO-8601 spelling it was given in', () => {
      expect(db.runs.create(scheduled('2025-03-01T03:00+01:00')).scheduledFor).toBe('2025-03-01T02:00:00.000Z');
      expect(db.runs.create(scheduled('2025-03-01T02:00:00.5Z')).scheduledFor).toBe('2025-03-01T02:00:00.500Z');
      expect(db.runs.create(scheduled('2025-02-28T22:30:00.123456-03:30')).scheduledFor).toBe('2025-03-01T02:00:00.123Z');
    });

    it('refuses times that are not ISO-8601 with an offset, naming the field', () => {
      for (const bad of ['2025-03-01 02:00:00Z', '2025-03-01T02:00:00', '2025-02-30T02:00:00Z', '2025-03-01T24:00:00Z', 'tomorrow', '']) {
        const error = caught(() => db.runs.create(scheduled(bad)));
        expect(error, bad).toBeInstanceOf(ValidationError);
        expect(error).toMatchObject({ field: 'scheduledFor' });
      }
      expect(db.runs.list()).toEqual([]);
    });

    it('refuses a missing job with a ValidationError naming jobId', () => {
      const error = caught(() => db.runs.create(manual({ jobId: 999 })));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toBe('jobId: no job with id 999');
    });

    it('lets the schema reject bad kinds, triggers, statuses and a slot that does not fit the trigger', () => {
      expect(() => db.runs.create(manual({ kind: 'restore' as never }))).toThrow(/runs_kind_known/);
      expect(() => db.runs.create(manual({ trigger: 'cron' as never }))).toThrow(/runs_trigger_known/);
      expect(() => db.runs.create(manual({ status: 'done' as never }))).toThrow(/runs_status_known/);
      expect(() => db.runs.create(manual({ scheduledFor: START }))).toThrow(/runs_scheduled_for_null_iff_manual/);
      expect(() => db.runs.create(scheduled(START, { trigger: 'catch-up', scheduledFor: null }))).toThrow(
        /runs_scheduled_for_null_iff_manual/,
      );
      expect(db.runs.list()).toEqual([]);
    });
  });

  describe('update', () => {
    it('changes the given fields, keeps omitted ones and clears fields set to null', () => {
      const run = db.runs.create(manual({ phase: 'waiting', reason: 'started by hand' }));
      const started = tick();
      expect(db.runs.update(run.id, { status: 'running', startedAt: started, phase: 'scanning' })).toEqual({
        ...run,
        status: 'running',
        startedAt: started,
        phase: 'scanning',
      });
      const ended = tick();
      const done = db.runs.update(run.id, {
        status: 'partial',
        endedAt: ended,
        phase: null,
        snapshotId: HEX64,
        filesNew: 10,
        filesChanged: 2,
        filesUnmodified: 1000,
        bytesProcessed: 5_000_000_000,
        bytesAdded: 12345,
        errorCount: 1,
        error: undefined,
      });
      expect(done).toEqual({
        ...run,
        status: 'partial',
        startedAt: started,
        endedAt: ended,
        phase: null,
        snapshotId: HEX64,
        filesNew: 10,
        filesChanged: 2,
        filesUnmodified: 1000,
        bytesProcessed: 5_000_000_000,
        bytesAdded: 12345,
        errorCount: 1,
      });
      expect(db.runs.get(run.id)).toEqual(done);
      expect(db.runs.update(run.id, {})).toEqual(done);
    });

    it('normalises times and refuses bad ones', () => {
      const run = db.runs.create(manual());
      expect(db.runs.update(run.id, { startedAt: '2025-03-01T12:00:00+02:00' }).startedAt).toBe('2025-03-01T10:00:00.000Z');
      expect(caught(() => db.runs.update(run.id, { endedAt: 'later' }))).toMatchObject({ name: 'ValidationError', field: 'endedAt' });
      expect(caught(() => db.runs.update(run.id, { queuedAt: null as never }))).toMatchObject({ name: 'ValidationError', field: 'queuedAt' });
    });

    it('throws RecordNotFoundError for a missing run', () => {
      const error = caught(() => db.runs.update(404, { phase: 'x' }));
      expect(error).toBeInstanceOf(RecordNotFoundError);
      expect(error).toMatchObject({ table: 'runs', id: 404 });
    });

    it('refuses fields that cannot change and lets the schema refuse bad values', () => {
      const run = db.runs.create(manual());
      expect(caught(() => db.runs.update(run.id, { jobId: otherJobId } as never))).toMatchObject({ name: 'ValidationError', field: 'jobId' });
      expect(caught(() => db.runs.update(run.id, { id: 5 } as never))).toMatchObject({ name: 'ValidationError', field: 'id' });
      expect(caught(() => db.runs.update(run.id, { log: 'x' } as never))).toMatchObject({ name: 'ValidationError', field: 'log' });
      expect(caught(() => db.runs.update(run.id, { acknowledged: 1 as never }))).toMatchObject({ field: 'acknowledged' });
      expect(() => db.runs.update(run.id, { filesNew: -1 })).toThrow(/runs_files_new_not_negative/);
      expect(() => db.runs.update(run.id, { snapshotId: 'abc' })).toThrow(/runs_snapshot_id_is_hex64/);
      expect(() => db.runs.update(run.id, { status: 'finished' as never })).toThrow(/runs_status_known/);
      expect(() => db.runs.update(run.id, { trigger: 'schedule' })).toThrow(/runs_scheduled_for_null_iff_manual/);
      expect(db.runs.get(run.id)).toEqual(run);
    });
  });

  describe('list', () => {
    it('returns runs newest first, filtered by job and status, paged with limit and beforeId', () => {
      const ids: number[] = [];
      const statuses = ['success', 'failed', 'skipped', 'success', 'partial'] as const;
      statuses.forEach((status, i) => {
        ids.push(db.runs.create(scheduled(`2025-03-0${i + 1}T02:00:00.000Z`, { status })).id);
        tick();
      });
      const other = db.runs.create(manual({ jobId: otherJobId, status: 'failed' })).id;

      expect(db.runs.list().map((r) => r.id)).toEqual([other, ...[...ids].reverse()]);
      expect(db.runs.list({ jobId }).map((r) => r.id)).toEqual([...ids].reverse());
      expect(db.runs.list({ jobId: otherJobId }).map((r) => r.id)).toEqual([other]);
      expect(db.runs.list({ statuses: ['failed'] }).map((r) => r.id)).toEqual([other, ids[1]]);
      expect(db.runs.list({ jobId, statuses: ['success', 'partial'] }).map((r) => r.id)).toEqual([ids[4], ids[3], ids[0]]);
      expect(db.runs.list({ statuses: [] })).toEqual([]);
      expect(db.runs.list({ jobId: 999 })).toEqual([]);

      const page1 = db.runs.list({ jobId, limit: 2 });
      expect(page1.map((r) => r.id)).toEqual([ids[4], ids[3]]);
      const page2 = db.runs.list({ jobId, limit: 2, beforeId: page1.at(-1)!.id });
      expect(page2.map((r) => r.id)).toEqual([ids[2], ids[1]]);
      const page3 = db.runs.list({ jobId, limit: 2, beforeId: page2.at(-1)!.id });
      expect(page3.map((r) => r.id)).toEqual([ids[0]]);
      expect(db.runs.list({ jobId, limit: 0 })).toEqual([]);
      // The records are complete.
      expect(db.runs.list({ limit: 1 })[0]).toEqual(db.runs.get(other));
    });

    it('refuses malformed filters with a ValidationError naming the field', () => {
      expect(caught(() => db.runs.list({ limit: -1 }))).toMatchObject({ name: 'ValidationError', field: 'limit' });
      expect(caught(() => db.runs.list({ limit: 1.5 }))).toMatchObject({ name: 'ValidationError', field: 'limit' });
      expect(caught(() => db.runs.list({ jobId: '1' as never }))).toMatchObject({ name: 'ValidationError', field: 'jobId' });
      expect(caught(() => db.runs.list({ beforeId: Number.NaN }))).toMatchObject({ name: 'ValidationError', field: 'beforeId' });
      expect(caught(() => db.runs.list({ statuses: ['success', 'done' as never] }))).toMatchObject({ field: 'statuses[1]' });
      expect(caught(() => db.runs.list({ statuses: 'failed' as never }))).toMatchObject({ field: 'statuses' });
    });
  });

  describe('the log', () => {
    it('appends text and reads it back', () => {
      const run = db.runs.create(manual());
      db.runs.appendLog(run.id, 'first line\n');
      db.runs.appendLog(run.id, '');
      db.runs.appendLog(run.id, 'second line, ünïcödé ✓\n');
      expect(db.runs.getLog(run.id)).toBe('first line\nsecond line, ünïcödé ✓\n');
      // The log is not part of the record.
      expect(Object.keys(db.runs.get(run.id)!)).not.toContain('log');
    });

    it('throws RecordNotFoundError for a missing run', () => {
      expect(caught(() => db.runs.appendLog(404, 'x'))).toBeInstanceOf(RecordNotFoundError);
      expect(caught(() => db.runs.getLog(404))).toMatchObject({ name: 'RecordNotFoundError', table: 'runs', id: 404 });
    });

    it('keeps at most the last 1 MiB, starting with one marker line, cut at a line start', () => {
      const run = db.runs.create(manual());
      const line = (i: number) => `${String(i).padStart(8, '0')} ${'x'.repeat(90)}\n`; // 100 bytes
      let all = '';
      for (let batch = 0; batch < 12; batch++) {
        let text = '';
        for (let i = 0; i < 1000; i++) text += line(batch * 1000 + i);
        db.runs.appendLog(run.id, text);
        all += text;
      }
      expect(all.length).toBe(1_200_000);
      const log = db.runs.getLog(run.id);
      expect(Buffer.byteLength(log)).toBeLessThanOrEqual(RUN_LOG_MAX_BYTES);
      expect(Buffer.byteLength(log)).toBeGreaterThan(RUN_LOG_MAX_BYTES - 200);
      expect(log.startsWith(RUN_LOG_TRUNCATION_MARKER)).toBe(true);
      expect(log.split(RUN_LOG_TRUNCATION_MARKER)).toHaveLength(2); // exactly one marker
      const kept = log.slice(RUN_LOG_TRUNCATION_MARKER.length);
      expect(all.endsWith(kept)).toBe(true);
      expect(kept).toMatch(/^\d{8} x{90}\n/); // whole lines only
      expect(kept.endsWith(line(11_999))).toBe(true);

      // Appending more keeps the newest text and still one marker.
      db.runs.appendLog(run.id, 'the end\n');
      const after = db.runs.getLog(run.id);
      expect(Buffer.byteLength(after)).toBeLessThanOrEqual(RUN_LOG_MAX_BYTES);
      expect(after.startsWith(RUN_LOG_TRUNCATION_MARKER)).toBe(true);
      expect(after.split(RUN_LOG_TRUNCATION_MARKER)).toHaveLength(2);
      expect(after.endsWith(`${line(11_999)}the end\n`)).toBe(true);
    });

    it('never splits a multi-byte character, even in one huge append without line breaks', () => {
      const run = db.runs.create(manual());
      const text = 'é€😀'.repeat(200_000); // 2 + 3 + 4 bytes, 1.8 MB
      db.runs.appendLog(run.id, text);
      const log = db.runs.getLog(run.id);
      expect(Buffer.byteLength(log)).toBeLessThanOrEqual(RUN_LOG_MAX_BYTES);
      expect(Buffer.byteLength(log)).toBeGreaterThan(RUN_LOG_MAX_BYTES - 8);
      expect(log).not.toContain('\uFFFD');
      const kept = log.slice(RUN_LOG_TRUNCATION_MARKER.length);
      expect(text.endsWith(kept)).toBe(true);
      expect(Buffer.from(kept, 'utf8').toString('utf8')).toBe(kept);
    });
  });

  describe('lastScheduledFor', () => {
    it('is the latest slot of any run of the job, whatever its status, ignoring manual runs and other jobs', () => {
      expect(db.runs.lastScheduledFor(jobId)).toBeNull();
      db.runs.create(manual({ status: 'success' }));
      expect(db.runs.lastScheduledFor(jobId)).toBeNull();

      db.runs.create(scheduled('2025-03-01T02:00:00.000Z', { status: 'success' }));
      db.runs.create(scheduled('2025-03-03T02:00:00.000Z', { status: 'skipped' }));
      db.runs.create(scheduled('2025-03-02T02:00:00.000Z', { status: 'failed' })); // created later, earlier slot
      expect(db.runs.lastScheduledFor(jobId)).toBe('2025-03-03T02:00:00.000Z');

      const cancelled = db.runs.create(scheduled('2025-03-04T02:00:00.000Z', { trigger: 'catch-up' }));
      db.runs.update(cancelled.id, { status: 'cancelled' });
      expect(db.runs.lastScheduledFor(jobId)).toBe('2025-03-04T02:00:00.000Z');

      db.runs.create(scheduled('2025-04-01T02:00:00.000Z', { jobId: otherJobId }));
      expect(db.runs.lastScheduledFor(jobId)).toBe('2025-03-04T02:00:00.000Z');
      expect(db.runs.lastScheduledFor(otherJobId)).toBe('2025-04-01T02:00:00.000Z');
    });

    it('compares slots as times even when they were given with an offset', () => {
      db.runs.create(scheduled('2025-03-01T23:30:00.000Z'));
      db.runs.create(scheduled('2025-03-02T01:00:00+02:00')); // 2025-03-01T23:00Z, earlier
      expect(db.runs.lastScheduledFor(jobId)).toBe('2025-03-01T23:30:00.000Z');
    });
  });

  describe('lastSuccess', () => {
    it('is the newest successful or partial backup of the job', () => {
      expect(db.runs.lastSuccess(jobId)).toBeUndefined();
      const ok = db.runs.create(manual({ status: 'success' }));
      db.runs.create(manual({ status: 'failed' }));
      expect(db.runs.lastSuccess(jobId)).toEqual(ok);
      const partial = db.runs.create(manual({ status: 'partial' }));
      db.runs.create(manual({ status: 'cancelled' }));
      db.runs.create(manual({ status: 'skipped' }));
      db.runs.create(manual({ jobId: otherJobId, status: 'success' }));
      expect(db.runs.lastSuccess(jobId)).toEqual(partial);
    });

    it('counts only backups unless asked for another kind (or any kind with null)', () => {
      const backup = db.runs.create(manual({ status: 'success' }));
      const prune = db.runs.create(manual({ kind: 'prune', status: 'success' }));
      expect(db.runs.lastSuccess(jobId)).toEqual(backup);
      expect(db.runs.lastSuccess(jobId, 'prune')).toEqual(prune);
      expect(db.runs.lastSuccess(jobId, null)).toEqual(prune);
      expect(db.runs.lastSuccess(jobId, 'check')).toBeUndefined();
    });
  });

  describe('active', () => {
    it('lists queued and running runs, oldest first, for one job or all', () => {
      const a = db.runs.create(manual({ status: 'running' }));
      db.runs.create(manual({ status: 'success' }));
      const b = db.runs.create(manual({ jobId: otherJobId }));
      const c = db.runs.create(manual());
      db.runs.create(manual({ status: 'failed' }));
      expect(db.runs.active(jobId).map((r) => r.id)).toEqual([a.id, c.id]);
      expect(db.runs.active().map((r) => r.id)).toEqual([a.id, b.id, c.id]);
      db.runs.update(a.id, { status: 'success' });
      expect(db.runs.active(jobId)).toEqual([c]);
    });
  });

  describe('markInterrupted', () => {
    it('fails every queued or running run with the interruption error and leaves finished runs alone', () => {
      const queued = db.runs.create(manual({ phase: 'waiting for a free slot' }));
      const running = db.runs.create(manual({ jobId: otherJobId, status: 'running' }));
      db.runs.update(running.id, { phase: 'scanning' });
      const done = db.runs.create(manual({ status: 'success' }));
      const restart = new Date('2025-03-02T08:00:00.000Z');

      expect(db.runs.markInterrupted(restart)).toBe(2);
      expect(INTERRUPTED_RUN_ERROR).toBe('interrupted: Lifeboat stopped before the run finished');
      expect(db.runs.get(queued.id)).toEqual({
        ...queued,
        status: 'failed',
        error: INTERRUPTED_RUN_ERROR,
        endedAt: '2025-03-02T08:00:00.000Z',
      });
      expect(db.runs.get(running.id)).toMatchObject({
        status: 'failed',
        error: INTERRUPTED_RUN_ERROR,
        startedAt: START,
        endedAt: '2025-03-02T08:00:00.000Z',
        phase: 'scanning',
      });
      expect(db.runs.get(done.id)).toEqual(done);
      expect(db.runs.active()).toEqual([]);
      expect(db.runs.markInterrupted(restart)).toBe(0);
    });

    it('uses the store clock by default', () => {
      const run = db.runs.create(manual());
      const now = tick(5000);
      expect(db.runs.markInterrupted()).toBe(1);
      expect(db.runs.get(run.id)!.endedAt).toBe(now);
    });
  });

  describe('acknowledge and unacknowledgedFailures', () => {
    it('lists failed runs nobody has acknowledged, newest first', () => {
      const first = db.runs.create(manual({ status: 'failed' }));
      db.runs.create(manual({ status: 'partial' }));
      db.runs.create(manual({ status: 'success' }));
      const second = db.runs.create(manual({ jobId: otherJobId, status: 'failed' }));
      expect(db.runs.unacknowledgedFailures().map((r) => r.id)).toEqual([second.id, first.id]);

      db.runs.acknowledge(second.id);
      expect(db.runs.get(second.id)!.acknowledged).toBe(true);
      expect(db.runs.unacknowledgedFailures().map((r) => r.id)).toEqual([first.id]);
      expect(() => db.runs.acknowledge(second.id)).not.toThrow(); // twice is harmless

      // Interrupted runs are failures too.
      const stuck = db.runs.create(manual({ status: 'running' }));
      db.runs.markInterrupted();
      expect(db.runs.unacknowledgedFailures().map((r) => r.id)).toEqual([stuck.id, first.id]);
    });

    it('throws RecordNotFoundError for a missing run', () => {
      expect(caught(() => db.runs.acknowledge(404))).toMatchObject({ name: 'RecordNotFoundError', table: 'runs', id: 404 });
    });
  });
});

describe('upgrading', () => {
  it('a schema-1 database with a repository row upgrades to schema 2 and keeps the row', () => {
    const oldFile = join(dir, 'old.db');
    const old = new BetterSqlite3(oldFile);
    migrate(old, { migrations: MIGRATIONS.slice(0, 1) });
    old
      .prepare(`INSERT INTO repositories (name, location, password_ref, repository_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run('nas', '/mnt/nas/restic', 'keychain:lifeboat/nas', HEX64, '2024-12-31T23:59:59.000Z', '2024-12-31T23:59:59.000Z');
    old.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)').run('maxConcurrentRuns', '3', START);
    expect(readSchemaVersion(old)).toBe(1);
    old.close();

    const upgraded = openDatabase(oldFile, { now: () => clock });
    try {
      expect(LATEST_SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
      expect(upgraded.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
      expect(upgraded.repositories.list()).toEqual([
        {
          id: 1,
          name: 'nas',
          location: '/mnt/nas/restic',
          passwordRef: 'keychain:lifeboat/nas',
          repositoryId: HEX64,
          createdAt: '2024-12-31T23:59:59.000Z',
          updatedAt: '2024-12-31T23:59:59.000Z',
        },
      ]);
      expect(upgraded.settings.get('maxConcurrentRuns', 2)).toBe(3);
      // The new tables work against the old rows.
      const job = upgraded.jobs.add(config({ repositoryId: 1 }));
      expect(upgraded.runs.create({ jobId: job.id, kind: 'backup', trigger: 'manual', scheduledFor: null, status: 'queued' }).jobId).toBe(job.id);
      expect(upgraded.connection.pragma('foreign_key_check')).toEqual([]);
    } finally {
      upgraded.close();
    }
  });

  it('a database opened with only migration 1 works until its jobs or runs are used', () => {
    const oldFile = join(dir, 'v1.db');
    const v1 = openDatabase(oldFile, { migrations: MIGRATIONS.slice(0, 1) });
    try {
      expect(v1.schemaVersion).toBe(1);
      expect(v1.repositories.list()).toEqual([]);
      expect(() => v1.jobs).toThrow(/no such table: jobs/);
    } finally {
      v1.close();
    }
  });
});
