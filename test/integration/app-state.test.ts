/**
 * The service's app-wide state with a real SQLite file, real repositories and
 * real runs: pausing schedules (stored, honoured by the scheduler, visible in
 * the API), notifications of finished runs by mode and channel, the tray
 * turning red on a failure and green on its acknowledgement, the quit safe
 * point, and settings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { LifeboatService } from '../../main/service/service.js';
import type { AppStatus } from '../../shared/api.js';
import type { RunNotification } from '../../shared/app-state.js';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { scratch } from '../helpers/tools.js';

let s: ReturnType<typeof scratch>;
let src: string;
let db: LifeboatDatabase;
let svc: LifeboatService;
let clock = new Date('2026-03-02T00:00:00Z');
let repoId: number;
let n = 0;

beforeAll(() => {
  s = scratch();
  src = path.join(s.dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < 3; i++) writeFileSync(path.join(src, `f${i}.bin`), pseudoRandom(`app${i}`, 200_000));
});
afterAll(() => s?.dispose());
afterEach(async () => {
  await svc?.stop();
  db?.close();
});

async function fresh(): Promise<void> {
  db = openDatabase(path.join(s.dir, `lifeboat-${++n}.db`), { now: () => clock });
  svc = new LifeboatService({ db, now: () => clock, timeZone: 'Europe/Berlin', workers: 1, dataDir: s.dir });
  repoId = (await svc.addRepository({ name: 'nas', location: path.join(s.dir, `repo-${n}`), passwordRef: `file:${s.passwordFile}`, create: true })).id;
}

const baseJob = (over: Record<string, unknown> = {}) => ({ name: 'docs', repositoryId: repoId, sources: { paths: [src] }, ...over });

async function waitFor(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('pausing schedules', () => {
  it('records slots in the pause as skipped, keeps "Run now", and schedules again after resume', async () => {
    await fresh();
    clock = new Date('2026-03-02T10:00:00Z');
    const job = await svc.createJob(baseJob({ schedule: '*:0/15' }));
    const paused = await svc.pauseSchedules('hour');
    expect(paused.pausedUntil).toBe('2026-03-02T11:00:00.000Z');
    expect(paused.tray.level).toBe('amber');
    expect((await svc.getAppStatus()).pausedUntil).toBe('2026-03-02T11:00:00.000Z');

    clock = new Date('2026-03-02T10:15:05Z');
    await svc.tick();
    const [skipped] = await svc.listRuns({ jobId: job.id });
    expect(skipped).toMatchObject({ status: 'skipped', trigger: 'schedule', scheduledFor: '2026-03-02T10:15:00.000Z', reason: 'schedules are paused until 2026-03-02T11:00:00.000Z' });

    // By hand still works while paused.
    const manual = await svc.runNow(job.id);
    await svc.idle();
    expect((await svc.listRuns({ jobId: job.id })).find((r) => r.id === manual.id)!.status).toBe('success');

    // The pause ends by itself: the next slot runs (the skipped one is not caught up).
    clock = new Date('2026-03-02T11:00:05Z');
    await svc.tick();
    await svc.idle();
    const scheduled = (await svc.listRuns({ jobId: job.id })).filter((r) => r.trigger !== 'manual');
    expect(scheduled.map((r) => [r.scheduledFor, r.status])).toEqual([
      ['2026-03-02T11:00:00.000Z', 'success'],
      ['2026-03-02T10:15:00.000Z', 'skipped'],
    ]);
    expect((await svc.getAppStatus()).pausedUntil).toBeNull();
  });

  it('pauses until local midnight, resumes by hand, and names a bad duration', async () => {
    await fresh();
    clock = new Date('2026-03-02T10:00:00Z');
    const job = await svc.createJob(baseJob({ schedule: '*:0/15' }));
    expect((await svc.pauseSchedules('tomorrow')).pausedUntil).toBe('2026-03-02T23:00:00.000Z'); // midnight in Berlin
    await expect(svc.pauseSchedules('forever' as 'hour')).rejects.toThrow('duration: must be one of hour, tomorrow');
    expect((await svc.resumeSchedules()).pausedUntil).toBeNull();
    clock = new Date('2026-03-02T10:15:05Z');
    await svc.tick();
    await svc.idle();
    expect((await svc.listRuns({ jobId: job.id }))[0]).toMatchObject({ status: 'success', scheduledFor: '2026-03-02T10:15:00.000Z' });
  });
});

describe('failures, notifications and the tray', () => {
  it('a failed run notifies (mode errors), turns the tray red, and its acknowledgement turns it green', async () => {
    await fresh();
    const notes: RunNotification[] = [];
    const statuses: AppStatus[] = [];
    svc.on('notification', (x) => notes.push(x));
    svc.on('appStatusChanged', (x) => statuses.push(x));
    const job = await svc.createJob(baseJob({ preCommand: 'echo no database; exit 4' }));
    const r = await svc.runNow(job.id);
    await svc.idle();
    expect(notes).toEqual([{ runId: r.id, jobId: job.id, title: 'Backup of "docs" failed', body: 'pre-command failed (exit 4); the backup did not start', urgency: 'critical' }]);
    const red = await svc.getAppStatus();
    expect(red.tray.level).toBe('red');
    expect(red.unacknowledgedFailures.map((x) => x.id)).toEqual([r.id]);
    expect(statuses.at(-1)!.tray.level).toBe('red');

    await svc.acknowledgeRun(r.id);
    expect((await svc.getAppStatus()).tray.level).toBe('green');
    expect(statuses.at(-1)!.tray.level).toBe('green');
    expect(notes).toHaveLength(1); // acknowledging does not notify again
  });

  it('mode always notifies successes; mode never and a disabled desktop channel do not notify', async () => {
    await fresh();
    const notes: RunNotification[] = [];
    svc.on('notification', (x) => notes.push(x));
    const always = await svc.createJob(baseJob({ name: 'always', notify: 'always' }));
    await svc.runNow(always.id);
    await svc.idle();
    expect(notes.map((x) => [x.jobId, x.urgency, x.title])).toEqual([[always.id, 'normal', 'Backup of "always" finished']]);
    expect(notes[0]!.body).toMatch(/^snapshot [0-9a-f]{8} saved$/);

    const never = await svc.createJob(baseJob({ name: 'never', notify: 'never', preCommand: 'exit 1' }));
    await svc.runNow(never.id);
    await svc.idle();
    await svc.updateSettings({ notifications: { desktop: false } });
    const errors = await svc.createJob(baseJob({ name: 'errors', preCommand: 'exit 1' }));
    await svc.runNow(errors.id);
    await svc.idle();
    expect(notes).toHaveLength(1);
  });
});

describe('restore tests in the tray', () => {
  it('turn the tray amber when due, and an overdue test notifies at most once a day', async () => {
    await fresh();
    clock = new Date('2026-03-02T09:00:00Z');
    const notes: RunNotification[] = [];
    svc.on('notification', (x) => notes.push(x));
    const job = await svc.createJob(baseJob({ restoreTest: { cadenceDays: 30, dueSoonDays: 7 } }));
    await svc.runNow(job.id);
    await svc.idle();
    // New and never tested: not yet a warning.
    expect((await svc.getAppStatus()).tray.level).toBe('green');
    await svc.startRestoreTest({ jobId: job.id, scope: { kind: 'sample', files: 2 }, seed: 3 });
    await svc.idle();
    expect((await svc.listRestoreTests({ jobId: job.id })).map((t) => t.passed)).toEqual([true]);

    clock = new Date('2026-04-01T10:00:00Z'); // one cadence after the test: due
    let status = await svc.getAppStatus();
    expect(status.tray.level).toBe('amber');
    expect(status.tray.reasons).toContain('1 restore test is due');
    await svc.tick();
    expect(notes).toEqual([]); // due is a reminder, not an alarm

    clock = new Date('2026-04-09T10:00:00Z'); // past the grace: overdue
    status = await svc.getAppStatus();
    expect(status.tray.reasons).toContain('1 restore test is overdue');
    await svc.tick();
    await svc.tick();
    expect(notes).toEqual([{ runId: null, jobId: null, title: 'Restore tests overdue', body: 'Restore test overdue: docs', urgency: 'critical' }]);
    clock = new Date('2026-04-10T09:59:00Z');
    await svc.tick();
    expect(notes).toHaveLength(1);
    clock = new Date('2026-04-10T10:00:00Z');
    await svc.tick();
    expect(notes).toHaveLength(2);
  });
});

describe('quitting at a safe point', () => {
  it('is not safe while a run is going, cannot estimate before progress, and is safe after a clean stop', async () => {
    await fresh();
    expect(svc.quitReadiness()).toEqual({ safe: true, running: [], estimatedMs: 0 });
    const job = await svc.createJob(baseJob({ preCommand: 'sleep 5' }));
    const r = await svc.runNow(job.id);
    await waitFor(() => !svc.quitReadiness().safe, 'the run to start');
    expect(svc.quitReadiness()).toEqual({ safe: false, running: [{ runId: r.id, jobId: job.id, kind: 'backup', phase: 'pre-command' }], estimatedMs: null });
    await svc.stop();
    expect(svc.quitReadiness().safe).toBe(true);
    expect((await svc.listRuns({ jobId: job.id }))[0]!.status).toBe('cancelled');
  });

  it('estimates the wait from the rate a running backup stores data', async () => {
    await fresh();
    const big = path.join(s.dir, 'big');
    mkdirSync(big, { recursive: true });
    for (let i = 0; i < 6; i++) writeFileSync(path.join(big, `b${i}.bin`), pseudoRandom(`big${i}`, 4_000_000));
    // Slow uploads keep the backup going once packs are being stored.
    const job = await svc.createJob(baseJob({ sources: { paths: [big] }, uploadWorkers: 1, bandwidth: { limitKiBps: 2048 } }));
    await svc.runNow(job.id);
    let estimate: number | null = null;
    await waitFor(() => {
      const q = svc.quitReadiness();
      estimate = q.estimatedMs;
      return !q.safe && estimate !== null && estimate > 0;
    }, 'an estimate from a running backup', 60_000);
    // One 16 MiB pack in flight at no more than about 2 MiB/s stored: several seconds, not minutes.
    expect(estimate).toBeGreaterThan(1000);
    expect(estimate).toBeLessThan(10 * 60_000);
    await svc.stop();
    expect(svc.quitReadiness().safe).toBe(true);
  });
});

describe('settings', () => {
  it('reads defaults, stores changes, applies them, and names bad fields', async () => {
    await fresh();
    expect(await svc.getSettings()).toEqual({
      maxConcurrentRuns: 2,
      bandwidth: { limitKiBps: null, windows: [] },
      notifications: {
        desktop: true,
        webhook: { enabled: false, url: '', headers: {}, signingSecretStored: false, lastDelivery: null },
        email: { enabled: false, host: '', port: 587, security: 'starttls', username: '', from: '', to: [], passwordStored: false, lastDelivery: null },
      },
      startAtLogin: false,
      dataDir: s.dir,
    });
    const updated = await svc.updateSettings({ maxConcurrentRuns: 1, startAtLogin: true, bandwidth: { limitKiBps: 2048, windows: [{ from: '22:00', to: '06:00', limitKiBps: null }] } });
    expect(updated).toMatchObject({ maxConcurrentRuns: 1, startAtLogin: true, bandwidth: { limitKiBps: 2048 } });
    expect(db.settings.get('maxConcurrentRuns', 0)).toBe(1);
    await expect(svc.updateSettings({ maxConcurrentRuns: 99 })).rejects.toThrow('maxConcurrentRuns: must be a whole number from 1 to 16');
    await expect(svc.updateSettings({ colour: 'blue' })).rejects.toThrow('colour: is not a known setting');
    expect((await svc.getSettings()).maxConcurrentRuns).toBe(1);

    // The cap of 1 applies at once: a second job's run waits for the first.
    const a = await svc.createJob(baseJob({ name: 'a', preCommand: 'sleep 1' }));
    const b = await svc.createJob(baseJob({ name: 'b' }));
    await svc.runNow(a.id);
    const rb = await svc.runNow(b.id);
    await waitFor(async () => ((await svc.listRuns({ jobId: b.id }))[0]?.phase ?? '').includes('position 1 in line'), 'b waiting in line');
    await svc.idle();
    expect((await svc.listRuns({ jobId: b.id })).find((r) => r.id === rb.id)!.status).toBe('success');
  });
});
