/** Restore-test policy: restoreTestDue with a pinned clock, settings validation, the stratified sample, the evidence grid. */
import { describe, expect, it } from 'vitest';
import { acceptSchedule, applyJobPatch, validateJobConfig, withJobDefaults } from '../../shared/jobs.js';
import {
  chooseSample, evidenceCsv, restoreTestAlert, evidenceGrid, evidenceHtml, quartersBetween, RESTORE_TEST_DEFAULTS, restoreTestDue, validateRestoreTestSettings,
  type RestoreTestDue, type RestoreTestHistory, type RestoreTestRecord, type SampleCandidate,
} from '../../shared/restore-test.js';
import { ValidationError } from '../../shared/validation.js';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const job = (cadenceDays = 90, dueSoonDays = 14) => ({ restoreTest: { cadenceDays, dueSoonDays } });
const passedOn = (iso: string, last?: { endedAt: string; passed: boolean }): RestoreTestHistory => ({ lastPassedAt: iso, lastTest: last ?? { endedAt: iso, passed: true } });

describe('restoreTestDue(now, job, history)', () => {
  it.each([
    // last pass, cadence, due-soon window, expected state, due date
    ['2026-06-01T12:00:00.000Z', 90, 14, 'not-due', '2026-08-30T12:00:00.000Z'],
    ['2026-03-31T12:00:01.000Z', 90, 14, 'not-due', '2026-06-29T12:00:01.000Z'],
    ['2026-03-31T12:00:00.000Z', 90, 14, 'due-soon', '2026-06-29T12:00:00.000Z'],
    ['2026-03-17T12:00:01.000Z', 90, 14, 'due-soon', '2026-06-15T12:00:01.000Z'],
    ['2026-03-17T12:00:00.000Z', 90, 14, 'due', '2026-06-15T12:00:00.000Z'],
    ['2026-03-10T12:00:01.000Z', 90, 14, 'due', '2026-06-08T12:00:01.000Z'],
    ['2026-03-10T12:00:00.000Z', 90, 14, 'overdue', '2026-06-08T12:00:00.000Z'],
    ['2025-01-01T00:00:00.000Z', 90, 14, 'overdue', '2025-04-01T00:00:00.000Z'],
    ['2026-06-10T00:00:00.000Z', 7, 3, 'due-soon', '2026-06-17T00:00:00.000Z'],
    ['2026-06-01T12:00:00.000Z', 7, 3, 'overdue', '2026-06-08T12:00:00.000Z'],
  ] as const)('last passed %s, every %i days, due soon %i days before: %s (due %s)', (last, cadence, soon, state, dueAt) => {
    const d = restoreTestDue(NOW, job(cadence, soon), passedOn(last));
    expect(d.state).toBe(state);
    expect(d.dueAt).toBe(dueAt);
    expect(d.lastPassedAt).toBe(last);
  });

  it('gives the dates behind the answer', () => {
    const d = restoreTestDue(NOW, job(), passedOn('2026-04-01T00:00:00.000Z'));
    expect(d).toMatchObject({
      state: 'not-due',
      dueAt: '2026-06-30T00:00:00.000Z',
      dueSoonFrom: '2026-06-16T00:00:00.000Z',
      overdueFrom: '2026-07-07T00:00:00.000Z',
      daysLeft: 14,
      lastPassed: true,
    });
    expect(d.message).toBe('next test due on 2026-06-30');
  });

  it('says plainly when a job has never been tested', () => {
    const d = restoreTestDue(NOW, job(), { lastPassedAt: null, lastTest: null });
    expect(d.state).toBe('never-tested');
    expect(d.dueAt).toBeNull();
    expect(d.message).toMatch(/^never tested/);
  });

  it('calls a job whose only tests failed overdue: nothing proves its restores', () => {
    const d = restoreTestDue(NOW, job(), { lastPassedAt: null, lastTest: { endedAt: '2026-06-10T08:00:00.000Z', passed: false } });
    expect(d.state).toBe('overdue');
    expect(d.lastPassed).toBe(false);
    expect(d.message).toContain('2026-06-10');
  });

  it('counts only a passing test towards the cadence, and mentions a later failure', () => {
    const d = restoreTestDue(NOW, job(), passedOn('2026-06-01T00:00:00.000Z', { endedAt: '2026-06-14T00:00:00.000Z', passed: false }));
    expect(d.state).toBe('not-due');
    expect(d.message).toContain('the latest test (2026-06-14) failed');
  });
});

describe('restoreTestDue boundaries (pinned clock)', () => {
  const last = '2026-01-01T00:00:00.000Z'; // due 2026-04-01, due soon from 2026-03-18, overdue from 2026-04-08
  it.each([
    ['2026-03-17T23:59:59.999Z', 'not-due'],
    ['2026-03-18T00:00:00.000Z', 'due-soon'],
    ['2026-03-31T23:59:59.999Z', 'due-soon'],
    ['2026-04-01T00:00:00.000Z', 'due'],
    ['2026-04-07T23:59:59.999Z', 'due'],
    ['2026-04-08T00:00:00.000Z', 'overdue'],
  ] as const)('at %s: %s', (now, state) => {
    const d = restoreTestDue(new Date(now), job(), passedOn(last));
    expect(d.state).toBe(state);
    expect(d).toMatchObject({ dueAt: '2026-04-01T00:00:00.000Z', dueSoonFrom: '2026-03-18T00:00:00.000Z', overdueFrom: '2026-04-08T00:00:00.000Z' });
  });
});

describe('restoreTestAlert (tray and notifications)', () => {
  const at = (iso: string) => new Date(iso);
  const jobs = (...states: RestoreTestDue['state'][]) => states.map((state, i) => ({ name: `job${i}`, due: { state } }));
  it('stays normal, silent, when nothing is overdue (never-tested alone does not turn it amber)', () => {
    expect(restoreTestAlert(at('2026-06-15T12:00:00Z'), jobs('not-due', 'due-soon', 'due', 'never-tested'), null)).toEqual({ tray: 'normal', notify: false, text: '' });
  });
  it('turns amber and notifies at most once a day while a test is overdue', () => {
    const now = at('2026-06-15T12:00:00Z');
    expect(restoreTestAlert(now, jobs('overdue', 'never-tested'), null)).toEqual({ tray: 'amber', notify: true, text: 'Restore test overdue: job0; never tested: job1' });
    expect(restoreTestAlert(now, jobs('overdue'), at('2026-06-15T00:00:01Z'))).toMatchObject({ tray: 'amber', notify: false });
    expect(restoreTestAlert(now, jobs('overdue'), at('2026-06-14T12:00:00Z'))).toMatchObject({ tray: 'amber', notify: true });
    expect(restoreTestAlert(now, jobs('overdue', 'overdue', 'overdue', 'overdue', 'overdue'), null).text).toBe('Restore test overdue: job0, job1, job2 and 2 more');
  });
});

describe('restore-test settings', () => {
  it('defaults: every 90 days, due soon 14 days before, a sample scope, no drill schedule', () => {
    expect(RESTORE_TEST_DEFAULTS).toMatchObject({ cadenceDays: 90, dueSoonDays: 14, targetRtoMinutes: null, drillSchedule: null });
    const j = validateJobConfig({ name: 'site', repositoryId: 1, sources: { paths: ['/srv'] } });
    expect(j.restoreTest).toEqual(RESTORE_TEST_DEFAULTS);
  });

  it('fills defaults for a job stored before the settings existed', () => {
    const stored = { name: 'old', repositoryId: 1 };
    expect(withJobDefaults(stored).restoreTest).toEqual(RESTORE_TEST_DEFAULTS);
    expect(withJobDefaults({ ...stored, restoreTest: { cadenceDays: 30 } as unknown as typeof RESTORE_TEST_DEFAULTS }).restoreTest.cadenceDays).toBe(30);
  });

  it('accepts a full policy, converting a cron drill schedule', () => {
    const s = validateRestoreTestSettings({ cadenceDays: 30, dueSoonDays: 5, targetRtoMinutes: 120, scope: { kind: 'percent', percent: 2.5 }, drillSchedule: '0 3 * * 6' }, acceptSchedule);
    expect(s).toEqual({ cadenceDays: 30, dueSoonDays: 5, targetRtoMinutes: 120, scope: { kind: 'percent', percent: 2.5 }, drillSchedule: 'Sat *-*-* 03:00:00' });
  });

  it.each([
    [{ cadenceDays: 0 }, 'restoreTest.cadenceDays'],
    [{ cadenceDays: 'often' }, 'restoreTest.cadenceDays'],
    [{ cadenceDays: 10, dueSoonDays: 10 }, 'restoreTest.dueSoonDays'],
    [{ targetRtoMinutes: -5 }, 'restoreTest.targetRtoMinutes'],
    [{ scope: { kind: 'some' } }, 'restoreTest.scope.kind'],
    [{ scope: { kind: 'sample', files: 0 } }, 'restoreTest.scope.files'],
    [{ scope: { kind: 'percent', percent: 150 } }, 'restoreTest.scope.percent'],
    [{ scope: { kind: 'paths', paths: ['relative/x'] } }, 'restoreTest.scope.paths[0]'],
    [{ scope: { kind: 'full', files: 3 } }, 'restoreTest.scope.files'],
    [{ drillSchedule: 'every tuesday-ish' }, 'restoreTest.drillSchedule'],
    [{ cadance: 3 }, 'restoreTest.cadance'],
  ])('refuses %j naming %s', (restoreTest, field) => {
    let error: unknown;
    try {
      validateJobConfig({ name: 'site', repositoryId: 1, sources: { paths: ['/srv'] }, restoreTest });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });

  it('patches one setting and keeps the others', () => {
    const j = validateJobConfig({ name: 'site', repositoryId: 1, sources: { paths: ['/srv'] }, restoreTest: { cadenceDays: 30, dueSoonDays: 3 } });
    const p = applyJobPatch(j, { restoreTest: { targetRtoMinutes: 60 } });
    expect(p.restoreTest).toMatchObject({ cadenceDays: 30, dueSoonDays: 3, targetRtoMinutes: 60 });
  });
});

describe('chooseSample', () => {
  const files: SampleCandidate[] = [];
  for (const folder of ['/srv/a', '/srv/b', '/srv/c', '/srv/d']) {
    for (let i = 0; i < 30; i++) files.push({ path: `${folder}/small-${i}`, size: 100 + i });
    files.push({ path: `${folder}/medium`, size: 1024 * 1024 });
  }
  files.push({ path: '/srv/big/huge.iso', size: 600 * 1024 * 1024 });

  it('is deterministic given the seed, and differs with another seed', () => {
    const a = chooseSample(files, { kind: 'sample', files: 10 }, 42);
    expect(chooseSample(files, { kind: 'sample', files: 10 }, 42)).toEqual(a);
    expect(chooseSample(files, { kind: 'sample', files: 10 }, 43).paths).not.toEqual(a.paths);
    expect(a.files).toBe(10);
    expect(new Set(a.paths).size).toBe(10);
  });

  it('covers large and small files and several folders', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s = chooseSample(files, { kind: 'sample', files: 8 }, seed);
      expect(s.paths).toContain('/srv/big/huge.iso');
      expect(s.paths.some((p) => p.endsWith('/medium'))).toBe(true);
      expect(s.paths.some((p) => p.includes('/small-'))).toBe(true);
      const folders = new Set(s.paths.map((p) => p.slice(0, p.lastIndexOf('/'))));
      expect(folders.size).toBeGreaterThanOrEqual(4);
    }
  });

  it('takes every file when asked for more than there are', () => {
    expect(chooseSample(files, { kind: 'sample', files: 10_000 }, 1).files).toBe(files.length);
  });

  it('reaches the percentage of bytes', () => {
    const small = files.filter((f) => f.size < 1000);
    const total = small.reduce((n, f) => n + f.size, 0);
    const s = chooseSample(small, { kind: 'percent', percent: 25 }, 9);
    expect(s.bytes).toBeGreaterThanOrEqual(total * 0.25);
    expect(s.bytes).toBeLessThan(total * 0.35);
  });
});

describe('evidence', () => {
  const record = (over: Partial<RestoreTestRecord>): RestoreTestRecord => ({
    id: 1, jobId: 1, jobName: 'website', runId: null, repositoryLocation: '/srv/repo', repositoryId: 'ab'.repeat(32), snapshotId: 'cd'.repeat(32),
    snapshotTime: '2026-05-01T00:00:00.000Z', trigger: 'manual', scope: { kind: 'sample', files: 5 }, seed: 7, sample: ['/srv/x'], filesPlanned: 1,
    bytesPlanned: 10, filesRestored: 1, bytesRestored: 10, filesVerified: 1, filesComparedWithSource: 0, mismatches: [], notRestored: [],
    startedAt: '2026-05-02T10:00:00.000Z', endedAt: '2026-05-02T10:00:03.000Z', durationMs: 3000, estimatedFullRestoreMs: 3000, targetRtoMinutes: 60,
    rtoMet: true, passed: true, failures: [], operator: 'Ann <ann@example.org>', note: 'quarterly, all good', signedOffAt: '2026-05-02T10:05:00.000Z',
    appVersion: 'lifeboat 0.1.0', sandboxPath: '/tmp/x', sandboxKept: false, ...over,
  });

  it('lists the quarters of a period', () => {
    expect(quartersBetween('2025-11-20T00:00:00.000Z', '2026-07-01T00:00:00.000Z')).toEqual(['2025-Q4', '2026-Q1', '2026-Q2', '2026-Q3']);
  });

  it('grids every job per quarter: passed, failed, not tested', () => {
    const tests = [
      record({ id: 1 }),
      record({ id: 2, jobName: 'mail', passed: false, endedAt: '2026-02-10T00:00:00.000Z', mismatches: [{ path: '/srv/m/a', reason: 'content differs' }] }),
    ];
    const g = evidenceGrid(['mail', 'website', 'crm'], tests, '2026-01-01T00:00:00.000Z', '2026-06-30T23:59:59.999Z');
    expect(g.quarters).toEqual(['2026-Q1', '2026-Q2']);
    expect(g.rows.map((r) => [r.job, ...r.cells.map((c) => c.verdict)])).toEqual([
      ['mail', 'failed', 'not tested'],
      ['website', 'not tested', 'passed'],
      ['crm', 'not tested', 'not tested'],
    ]);
    const csv = evidenceCsv(g, tests);
    expect(csv).toContain('quarter,website,2026-Q2,yes,yes,1,1');
    expect(csv).toContain('quarter,mail,2026-Q1,yes,no,1,0');
    expect(csv).toContain('quarter,crm,2026-Q1,no,no,0,0');
    expect(csv).toContain(',Ann <ann@example.org>,"quarterly, all good",lifeboat 0.1.0,');
    expect(csv).toContain('/srv/m/a: content differs');
    const html = evidenceHtml(g, tests, '2026-07-01T00:00:00.000Z', 'lifeboat 0.1.0');
    expect(html).toContain('<td class="passed">passed (1/1)</td>');
    expect(html).toContain('<td class="failed">failed (0/1)</td>');
    expect(html).toContain('Ann &lt;ann@example.org&gt;');
    expect(html).toContain('mismatch: /srv/m/a: content differs');
  });
});
