/**
 * Restore tests through the service, with a real SQLite file, a real
 * repository made by our backup and real worker threads: validation, a
 * passing test with its evidence and progress, sign-off, the due state,
 * failures naming the file, scheduled drills, and the evidence export.
 */
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LifeboatEvents } from '../../shared/api.js';
import type { RunRecord } from '../../shared/jobs.js';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { LifeboatService } from '../../main/service/service.js';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { scratch } from '../helpers/tools.js';
import { flipByte, packFilesLargestFirst } from '../helpers/repo-damage.js';

let s: ReturnType<typeof scratch>;
let src: string;
let db: LifeboatDatabase;
let svc: LifeboatService;
let clock = new Date('2026-03-02T00:00:00Z');
let repoId: number;
let repoDir: string;
let dbCount = 0;

beforeAll(() => {
  s = scratch();
  src = path.join(s.dir, 'src');
  for (const d of ['docs', 'media', 'db']) mkdirSync(path.join(src, d), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(path.join(src, 'docs', `note-${i}.txt`), `note ${i}\n`.repeat(20 + i));
  writeFileSync(path.join(src, 'media', 'video.bin'), pseudoRandom('rt-video', 1_500_000));
  writeFileSync(path.join(src, 'db', 'dump.sql'), pseudoRandom('rt-dump', 400_000));
  // Whole-second mtimes, so a test can put a changed file's time back exactly.
  const t = new Date('2026-02-01T10:00:00Z');
  for (const f of ['docs/note-0.txt', 'db/dump.sql']) utimesSync(path.join(src, f), t, t);
});
afterAll(() => s?.dispose());

async function fresh(opts: { maxConcurrentRuns?: number } = {}): Promise<void> {
  db = openDatabase(path.join(s.dir, `lifeboat-${++dbCount}.db`), { now: () => clock });
  svc = new LifeboatService({ db, now: () => clock, timeZone: 'UTC', workers: 1, maxConcurrentRuns: opts.maxConcurrentRuns ?? 2 });
  repoDir = path.join(s.dir, `repo-${dbCount}`);
  const repo = await svc.addRepository({ name: 'nas', location: repoDir, passwordRef: `file:${s.passwordFile}`, create: true });
  repoId = repo.id;
}
afterEach(async () => {
  await svc?.stop();
  db?.close();
});

const baseJob = (over: Record<string, unknown> = {}) => ({ name: 'office', repositoryId: repoId, sources: { paths: [src] }, ...over });
const runs = (jobId: number): Promise<RunRecord[]> => svc.listRuns({ jobId });

async function backedUpJob(over: Record<string, unknown> = {}) {
  const job = await svc.createJob(baseJob(over));
  await svc.runNow(job.id);
  await svc.idle();
  expect((await runs(job.id))[0]).toMatchObject({ kind: 'backup', status: 'success' });
  return job;
}

describe('restore tests through the service', () => {
  it('refuses bad requests with an error naming the field', async () => {
    await fresh();
    const job = await svc.createJob(baseJob());
    const cases: [unknown, string][] = [
      [{ jobId: 999 }, 'id:'],
      [{ jobId: job.id, scope: { kind: 'sample', files: 0 } }, 'scope.files:'],
      [{ jobId: job.id, scope: { kind: 'guess' } }, 'scope.kind:'],
      [{ jobId: job.id, snapshotId: 'xyz!' }, 'snapshotId:'],
      [{ jobId: job.id, seed: -1 }, 'seed:'],
      [{ jobId: job.id, sandboxParent: 'relative/dir' }, 'sandboxParent:'],
      [{ jobId: job.id, sourceDir: 'elsewhere' }, 'sourceDir:'],
      [{ jobId: job.id, keepSandbox: 'yes' }, 'keepSandbox:'],
      [{ jobId: job.id, colour: 'red' }, 'colour:'],
    ];
    for (const [request, field] of cases) await expect(svc.startRestoreTest(request as never), JSON.stringify(request)).rejects.toThrow(field);
    await expect(svc.signOffRestoreTest(1, { operator: '' })).rejects.toThrow('operator:');
    await expect(svc.signOffRestoreTest(1, { operator: 'Ann' })).rejects.toThrow('id:');
    await expect(svc.listRestoreTests({ from: 'last spring' })).rejects.toThrow('from:');
    await expect(svc.exportRestoreTestEvidence({ format: 'pdf' as never })).rejects.toThrow('format:');
    await expect(svc.exportRestoreTestEvidence({ format: 'csv', from: '2026-06-01', to: '2026-01-01' })).rejects.toThrow('from:');
    await expect(svc.updateJob(job.id, { restoreTest: { cadenceDays: 0 } })).rejects.toThrow('restoreTest.cadenceDays:');
    await expect(svc.updateJob(job.id, { restoreTest: { drillSchedule: 'Sat 25:00' } })).rejects.toThrow('restoreTest.drillSchedule:');
    expect(await runs(job.id)).toEqual([]);
  });

  it('a test on a good repository passes: a restore-test run, progress with ETA fields, evidence stored, sign-off, due state', async () => {
    await fresh();
    const job = await backedUpJob({ restoreTest: { targetRtoMinutes: 30, cadenceDays: 30, dueSoonDays: 5 } });
    expect((await svc.getJob(job.id)).restoreTest).toMatchObject({ state: 'never-tested', dueAt: null });

    const progress: LifeboatEvents['runProgress'][] = [];
    const changes: RunRecord[] = [];
    svc.on('runProgress', (p) => progress.push(p));
    svc.on('runChanged', (r) => changes.push(r));
    clock = new Date('2026-03-02T01:00:00Z');
    const run = await svc.startRestoreTest({ jobId: job.id, scope: { kind: 'sample', files: 5 }, seed: 11 });
    expect(run).toMatchObject({ kind: 'restore-test', trigger: 'manual', status: 'queued' });
    await svc.idle();

    const done = (await runs(job.id)).find((r) => r.id === run.id)!;
    expect(done).toMatchObject({ kind: 'restore-test', status: 'success', error: null, errorCount: 0 });
    expect(done.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    const [t] = await svc.listRestoreTests({ runId: run.id });
    expect(t).toMatchObject({
      jobId: job.id, jobName: 'office', runId: run.id, trigger: 'manual', passed: true, seed: 11, filesPlanned: 5, filesVerified: 5, failures: [],
      mismatches: [], notRestored: [], repositoryLocation: repoDir, snapshotId: done.snapshotId, targetRtoMinutes: 30, rtoMet: true, sandboxKept: false,
    });
    expect(t!.filesComparedWithSource).toBe(5);
    expect(t!.sample).toHaveLength(5);
    expect(new Set(t!.sample.map((p) => path.dirname(p))).size).toBe(3); // docs, media and db are all covered
    expect(t!.appVersion).toMatch(/^lifeboat \d/);
    expect(progress.filter((p) => p.runId === run.id).map((p) => p.progress.phase)).toEqual(expect.arrayContaining(['writing', 'verifying', 'done']));
    expect(progress.every((p) => p.progress.operation === 'restore-test' && p.progress.bytesTotal === t!.bytesPlanned * 2)).toBe(true);
    expect(progress.some((p) => p.runId === run.id && p.progress.phase === 'verifying' && p.progress.etaMs !== undefined)).toBe(true);
    expect(changes.some((r) => r.id === run.id && r.phase === 'verifying restored files')).toBe(true);
    expect(await svc.getRunLog(run.id)).toMatch(/restore test #\d+ PASSED: 5\/5 files verified/);

    const status = await svc.restoreTestStatus(job.id);
    expect(status.lastTest?.id).toBe(t!.id);
    expect(status.due).toMatchObject({ state: 'not-due', lastPassedAt: '2026-03-02T01:00:00.000Z', dueAt: '2026-04-01T01:00:00.000Z' });
    clock = new Date('2026-03-28T00:00:00Z');
    expect((await svc.listJobs())[0]!.restoreTest.state).toBe('due-soon');
    clock = new Date('2026-04-20T00:00:00Z');
    expect((await svc.getJob(job.id)).restoreTest.state).toBe('overdue');

    const signed = await svc.signOffRestoreTest(t!.id, { operator: '  Ann Admin ', note: 'Q1 drill; all fine' });
    expect(signed).toMatchObject({ operator: 'Ann Admin', note: 'Q1 drill; all fine', signedOffAt: '2026-04-20T00:00:00.000Z' });
    expect((await svc.listRestoreTests({ jobId: job.id }))[0]).toMatchObject({ operator: 'Ann Admin' });
  });

  it('fails naming the file when a pack holding its data is corrupted', async () => {
    await fresh();
    const job = await backedUpJob();
    const victimPack = packFilesLargestFirst(repoDir)[0]!;
    // Flip a byte well inside the largest pack (the 1.5 MB video's data), not in its header.
    flipByte(victimPack, 4096);

    const run = await svc.startRestoreTest({ jobId: job.id, scope: { kind: 'full' } });
    await svc.idle();
    const done = (await runs(job.id)).find((r) => r.id === run.id)!;
    expect(done.status).toBe('failed');
    const [t] = await svc.listRestoreTests({ runId: run.id });
    expect(t!.passed).toBe(false);
    const names = t!.notRestored.map((p) => p.path);
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((p) => p.startsWith(src))).toBe(true);
    expect(done.error).toContain(names[0]);
    expect(await svc.getRunLog(run.id)).toContain(`not restored: ${names[0]}`);
    // Never passed, and the test failed: overdue, saying so.
    expect((await svc.getJob(job.id)).restoreTest).toMatchObject({ state: 'overdue', lastPassed: false });
  });

  it('fails naming the file when a source file differs with the same size and mtime', async () => {
    await fresh();
    const job = await backedUpJob();
    const victim = path.join(src, 'db', 'dump.sql');
    const before = statSync(victim);
    const original = pseudoRandom('rt-dump', 400_000);
    const changed = Buffer.from(original);
    changed[200_000] = changed[200_000]! ^ 0x01;
    writeFileSync(victim, changed);
    utimesSync(victim, before.atime, before.mtime);
    try {
      const run = await svc.startRestoreTest({ jobId: job.id, scope: { kind: 'paths', paths: [path.join(src, 'db')] } });
      await svc.idle();
      const [t] = await svc.listRestoreTests({ runId: run.id });
      expect(t).toMatchObject({ passed: false, filesVerified: 1, filesComparedWithSource: 1, notRestored: [] });
      expect(t!.mismatches).toEqual([{ path: victim, reason: expect.stringContaining('differs from the live source') }]);
      expect((await runs(job.id)).find((r) => r.id === run.id)).toMatchObject({ status: 'failed', error: expect.stringContaining(victim) });
    } finally {
      writeFileSync(victim, original);
      utimesSync(victim, before.atime, before.mtime);
    }
  });

  it('runs drills on the job drill schedule like backups, once per slot', async () => {
    await fresh();
    clock = new Date('2026-03-02T00:00:00Z');
    const job = await backedUpJob({ restoreTest: { drillSchedule: 'Sat 05:00', scope: { kind: 'sample', files: 2 } } });
    clock = new Date('2026-03-07T04:59:00Z');
    const before = await svc.tick();
    expect(before.some((d) => d.kind === 'wait' && d.nextRun?.toISOString() === '2026-03-07T05:00:00.000Z')).toBe(true);
    expect((await runs(job.id)).filter((r) => r.kind === 'restore-test')).toEqual([]);
    clock = new Date('2026-03-07T05:00:10Z'); // Saturday
    await svc.tick();
    await svc.idle();
    const drills = (await runs(job.id)).filter((r) => r.kind === 'restore-test');
    expect(drills).toHaveLength(1);
    expect(drills[0]).toMatchObject({ trigger: 'schedule', status: 'success', scheduledFor: '2026-03-07T05:00:00.000Z' });
    const [t] = await svc.listRestoreTests({ runId: drills[0]!.id });
    expect(t).toMatchObject({ trigger: 'schedule', passed: true, filesPlanned: 2, scope: { kind: 'sample', files: 2 } });
    await svc.tick();
    await svc.idle();
    expect((await runs(job.id)).filter((r) => r.kind === 'restore-test')).toHaveLength(1);
    expect((await svc.getJob(job.id)).restoreTest.state).toBe('not-due');
  });

  it('a restore test waits in line under the concurrency cap, saying so', async () => {
    await fresh({ maxConcurrentRuns: 1 });
    const job = await backedUpJob();
    const phases: string[] = [];
    // The order runs change in: the clock is pinned, so their times cannot show it.
    const events: string[] = [];
    svc.on('runChanged', (r) => {
      if (r.kind === 'restore-test' && r.phase) phases.push(r.phase);
      events.push(`${r.kind}:${r.status}`);
    });
    const backupRun = await svc.runNow(job.id);
    const test = await svc.startRestoreTest({ jobId: job.id, scope: { kind: 'sample', files: 1 } });
    await svc.idle();
    expect(phases.some((p) => /position 1 in line/.test(p))).toBe(true);
    const all = await runs(job.id);
    const b = all.find((r) => r.id === backupRun.id)!;
    const t = all.find((r) => r.id === test.id)!;
    expect(t.status).toBe('success');
    expect(b.status).toBe('success');
    // The test started only once the backup had finished (one run at a time).
    expect(events.indexOf('restore-test:running')).toBeGreaterThan(events.indexOf('backup:success'));
    expect(events.indexOf('backup:success')).toBeGreaterThanOrEqual(0);
  });

  it('exports evidence per quarter as HTML and CSV, per job or for all jobs', async () => {
    await fresh();
    const office = await backedUpJob();
    const other = await svc.createJob(baseJob({ name: 'mail' }));
    clock = new Date('2026-02-10T09:00:00Z');
    const passRun = await svc.startRestoreTest({ jobId: office.id, scope: { kind: 'sample', files: 2 } });
    await svc.idle();
    const [pass] = await svc.listRestoreTests({ runId: passRun.id });
    await svc.signOffRestoreTest(pass!.id, { operator: 'Ann Admin', note: 'quarterly drill' });
    clock = new Date('2026-05-10T09:00:00Z');
    const failRun = await svc.startRestoreTest({ jobId: office.id, scope: { kind: 'paths', paths: [path.join(src, 'no-such-folder')] } });
    await svc.idle();
    expect((await runs(office.id)).find((r) => r.id === failRun.id)).toMatchObject({ status: 'failed', error: expect.stringContaining('scope.paths[0]') });
    clock = new Date('2026-07-01T00:00:00Z');

    const csv = await svc.exportRestoreTestEvidence({ format: 'csv', from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' });
    expect(csv).toMatchObject({ mimeType: 'text/csv', fileName: 'lifeboat-restore-evidence-2026-01-01-to-2026-06-30.csv' });
    const lines = csv.content.split('\n');
    expect(lines).toContain('quarter,office,2026-Q1,yes,yes,1,1');
    expect(lines).toContain('quarter,office,2026-Q2,no,no,0,0'); // the failed attempt never got as far as a test
    expect(lines).toContain('quarter,mail,2026-Q1,no,no,0,0');
    expect(lines.find((l) => l.startsWith(`test,${pass!.id},office,`))).toMatch(/,pass,Ann Admin,quarterly drill,lifeboat /);

    const html = await svc.exportRestoreTestEvidence({ format: 'html', jobId: office.id, from: '2026-01-01T00:00:00Z', to: '2026-06-30T23:59:59Z' });
    expect(html.mimeType).toBe('text/html');
    expect(html.fileName).toBe('lifeboat-restore-evidence-office-2026-01-01-to-2026-06-30.html');
    expect(html.content).toMatch(/^<!doctype html>/);
    expect(html.content).toContain('<th scope="row">office</th><td class="passed">passed (1/1)</td><td class="not-tested">not tested</td>');
    expect(html.content).not.toContain('>mail<');
    expect(html.content).toContain(`Test #${pass!.id}: office`);
    expect(html.content).toContain('Ann Admin');
    expect(html.content).toContain('@media print');
    void other;

    // Default period: this quarter and the three before it.
    const all = await svc.exportRestoreTestEvidence({ format: 'csv' });
    expect(all.fileName).toBe('lifeboat-restore-evidence-2025-10-01-to-2026-07-01.csv');
  });
});
