/**
 * The application service with a real SQLite file, real repositories and
 * real backup runs: validation, run now, overlap policies, the global cap,
 * maintenance waiting for backups, clean stop.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type LifeboatDatabase } from '../../main/store/database.js';
import { LifeboatService } from '../../main/service/service.js';
import type { RunRecord } from '../../shared/jobs.js';
import { pseudoRandom } from '../fixtures/source-tree.js';
import { startSshd } from '../helpers/sshd.js';
import { requireTool, restic, scratch } from '../helpers/tools.js';
import { flipByte, packFilesLargestFirst } from '../helpers/repo-damage.js';

let s: ReturnType<typeof scratch>;
let src: string;
let db: LifeboatDatabase;
let svc: LifeboatService;
let clock = new Date('2026-03-02T00:00:00Z');
let repoId: number;
let dbCount = 0;

beforeAll(async () => {
  requireTool('restic');
  s = scratch();
  src = path.join(s.dir, 'src');
  mkdirSync(src);
  for (let i = 0; i < 5; i++) writeFileSync(path.join(src, `f${i}.bin`), pseudoRandom(`svc${i}`, 300_000));
});
afterAll(() => s?.dispose());

async function fresh(opts: { maxConcurrentRuns?: number } = {}): Promise<void> {
  db = openDatabase(path.join(s.dir, `lifeboat-${++dbCount}.db`), { now: () => clock });
  svc = new LifeboatService({ db, now: () => clock, timeZone: 'UTC', workers: 1, maxConcurrentRuns: opts.maxConcurrentRuns ?? 2 });
  const repo = await svc.addRepository({ name: 'nas', location: path.join(s.dir, `repo-${dbCount}`), passwordRef: `file:${s.passwordFile}`, create: true });
  repoId = repo.id;
}
afterEach(async () => {
  await svc?.stop();
  db?.close();
});

const baseJob = (over: Record<string, unknown> = {}) => ({ name: 'docs', repositoryId: repoId, sources: { paths: [src] }, ...over });

async function waitFor(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const runs = (jobId: number): Promise<RunRecord[]> => svc.listRuns({ jobId });

describe('jobs', () => {
  it('refuses bad input for every field with an error naming it, and stores nothing', async () => {
    await fresh();
    const cases: [Record<string, unknown>, string][] = [
      [{ name: '' }, 'name:'],
      [{ repositoryId: 999 }, 'repositoryId:'],
      [{ sources: { paths: [] } }, 'sources.paths:'],
      [{ sources: { paths: ['relative/path'] } }, 'sources.paths[0]:'],
      [{ sources: { paths: [src], exclude: ['[unclosed'] } }, 'sources.exclude[0]:'],
      [{ schedule: 'Mon..Fxi 18:00' }, 'schedule:'],
      [{ schedule: '*/15 2 * * 1-9' }, 'schedule:'],
      [{ pruneSchedule: 'Sun 25:00' }, 'pruneSchedule:'],
      [{ checkSchedule: 'often' }, 'checkSchedule:'],
      [{ checkReadData: 'most' }, 'checkReadData:'],
      [{ mode: 'sometimes' }, 'mode:'],
      [{ retention: { daily: -1 } }, 'retention'],
      [{ overlap: 'pile-up' }, 'overlap:'],
      [{ uploadWorkers: 17 }, 'uploadWorkers:'],
      [{ bandwidth: { limitKiBps: 0 } }, 'bandwidth.limitKiBps:'],
      [{ bandwidth: { windows: [{ from: '25:00', to: '06:00', limitKiBps: null }] } }, 'bandwidth.windows[0].from:'],
      [{ notify: 'loudly' }, 'notify:'],
      [{ rpoHours: 0 }, 'rpoHours:'],
      [{ catchUp: 'yes' }, 'catchUp:'],
      [{ enabled: 1 }, 'enabled:'],
      [{ preCommand: 42 }, 'preCommand:'],
      [{ tags: ['two words'] }, 'tags[0]:'],
      [{ colour: 'blue' }, 'colour:'],
    ];
    for (const [over, field] of cases) {
      await expect(svc.createJob(baseJob(over)), JSON.stringify(over)).rejects.toThrow(field);
    }
    expect(await svc.listJobs()).toEqual([]);
    const job = await svc.createJob(baseJob({ schedule: 'Mon..Fri 18:00' }));
    await expect(svc.updateJob(job.id, { uploadWorkers: 0 })).rejects.toThrow('uploadWorkers:');
    expect((await svc.getJob(job.id)).job.uploadWorkers).toBe(4);
    // Classic cron is accepted and stored as its calendar event.
    const cron = await svc.createJob(baseJob({ name: 'cron', schedule: '*/15 2 * * 1-5' }));
    expect(cron.schedule).toBe('Mon..Fri *-*-* 02:00/15:00');
  });

  it('runs a job by hand without touching the next scheduled run', async () => {
    await fresh();
    clock = new Date('2026-03-02T10:00:00Z');
    const job = await svc.createJob(baseJob({ schedule: '*-*-* 18:00:00' }));
    const before = (await svc.getJob(job.id)).nextRun;
    await svc.runNow(job.id);
    await svc.idle();
    const [run] = await runs(job.id);
    expect(run).toMatchObject({ status: 'success', trigger: 'manual', scheduledFor: null, filesNew: 5 });
    expect(run!.snapshotId).toMatch(/^[0-9a-f]{64}$/);
    expect((await svc.getJob(job.id)).nextRun).toBe(before);
    expect(before).toBe('2026-03-02T18:00:00.000Z');
    const log = await svc.getRunLog(run!.id);
    expect(log).toContain(`snapshot ${run!.snapshotId!.slice(0, 8)} saved`);
    expect(log).toMatch(/phase: reading[\s\S]*phase: sources read[\s\S]*snapshot/);
  });

  it('fails a run whose pre-command fails, keeping its output', async () => {
    await fresh();
    const job = await svc.createJob(baseJob({ preCommand: 'echo dumping database; echo "pg_dump: connection refused" >&2; exit 3' }));
    await svc.runNow(job.id);
    await svc.idle();
    const [run] = await runs(job.id);
    expect(run).toMatchObject({ status: 'failed', snapshotId: null });
    expect(run!.error).toContain('pre-command failed (exit 3)');
    expect(await svc.getRunLog(run!.id)).toContain('pg_dump: connection refused');
  });
});

describe('scheduling with real runs', () => {
  it('overlap skip: a slot due while the previous run goes is recorded as skipped with the reason', async () => {
    await fresh();
    clock = new Date('2026-03-02T00:00:00Z');
    const job = await svc.createJob(baseJob({ schedule: '*-*-* 01:00:00', overlap: 'skip', preCommand: 'sleep 1.5' }));
    await svc.runNow(job.id);
    await waitFor(async () => (await runs(job.id))[0]?.status === 'running', 'the manual run to start');
    clock = new Date('2026-03-02T01:00:10Z');
    await svc.tick();
    const skipped = (await runs(job.id)).find((r) => r.status === 'skipped')!;
    expect(skipped).toMatchObject({ trigger: 'schedule', scheduledFor: '2026-03-02T01:00:00.000Z' });
    expect(skipped.reason).toMatch(/^run #\d+ is still going \(overlap policy: skip\)$/);
    await svc.idle();
    // The slot was handled: the next tick does not run it after all.
    await svc.tick();
    expect((await runs(job.id)).length).toBe(2);
  });

  it('overlap queue: keeps one waiting run, which starts when the previous finishes', async () => {
    await fresh();
    clock = new Date('2026-03-02T00:00:00Z');
    const job = await svc.createJob(baseJob({ schedule: '*:0/15', overlap: 'queue', preCommand: 'sleep 1.5' }));
    await svc.runNow(job.id);
    await waitFor(async () => (await runs(job.id))[0]?.status === 'running', 'the manual run to start');
    clock = new Date('2026-03-02T00:15:05Z');
    await svc.tick();
    clock = new Date('2026-03-02T00:30:05Z');
    await svc.tick();
    const mid = await runs(job.id);
    expect(mid.filter((r) => r.status === 'queued').length).toBe(1);
    expect(mid.find((r) => r.status === 'skipped')?.reason).toContain('already queued');
    await svc.idle();
    const end = await runs(job.id);
    expect(end.map((r) => r.status).sort()).toEqual(['skipped', 'success', 'success']);
    const queued = end.find((r) => r.scheduledFor === '2026-03-02T00:15:00.000Z')!;
    const manual = end.find((r) => r.trigger === 'manual')!;
    expect(Date.parse(queued.startedAt!)).toBeGreaterThanOrEqual(Date.parse(manual.endedAt!));
  });

  it('overlap parallel: queued while the previous run reads, started once it is past reading', async () => {
    await fresh();
    clock = new Date('2026-03-02T00:00:00Z');
    const job = await svc.createJob(baseJob({ schedule: '*-*-* 01:00:00', overlap: 'parallel', preCommand: 'sleep 1', postCommand: 'sleep 3' }));
    await svc.runNow(job.id);
    await waitFor(async () => (await runs(job.id))[0]?.status === 'running', 'the manual run to start');
    clock = new Date('2026-03-02T01:00:05Z');
    await svc.tick(); // the manual run is in its pre-command: it has not read its sources yet
    const queued = (await runs(job.id)).find((r) => r.trigger === 'schedule')!;
    expect(queued.status).toBe('queued');
    expect(queued.reason).toContain('finishes reading its sources');
    // Once the first run is in its post-command (reading done), the second starts alongside it.
    await waitFor(async () => {
      const all = await runs(job.id);
      return all.filter((r) => r.status === 'running').length === 2;
    }, 'both runs to be running at once');
    await svc.idle();
    expect((await runs(job.id)).map((r) => r.status)).toEqual(['success', 'success']);
  });

  it('the global cap makes extra runs wait in line, saying so', async () => {
    await fresh({ maxConcurrentRuns: 1 });
    const a = await svc.createJob(baseJob({ name: 'a', preCommand: 'sleep 1' }));
    const b = await svc.createJob(baseJob({ name: 'b' }));
    await svc.runNow(a.id);
    const rb = await svc.runNow(b.id);
    const waiting = (await svc.listRuns({ jobId: b.id }))[0]!;
    expect(waiting.id).toBe(rb.id);
    expect(waiting.status).toBe('queued');
    expect(waiting.phase).toBe('waiting: 1 runs already going (limit reached), position 1 in line');
    await svc.idle();
    expect((await runs(b.id))[0]!.status).toBe('success');
  });

  it('maintenance waits for backups on the repository, and nothing fails because of the other', async () => {
    await fresh();
    const job = await svc.createJob(baseJob({ preCommand: 'sleep 1', retention: { last: 1 } }));
    await svc.runNow(job.id);
    await svc.idle();
    await svc.runNow(job.id);
    await waitFor(async () => (await runs(job.id))[0]?.status === 'running', 'the backup to start');
    const pruneRun = await svc.runNow(job.id, 'prune');
    await waitFor(async () => (await svc.listRuns({ jobId: job.id })).find((r) => r.id === pruneRun.id)?.phase === 'waiting for backups on this repository to finish', 'prune to wait');
    await svc.idle();
    const all = await runs(job.id);
    expect(all.map((r) => `${r.kind}:${r.status}`)).toEqual(['prune:success', 'backup:success', 'backup:success']);
    expect(await svc.getRunLog(pruneRun.id)).toContain('forget: 1 snapshots removed');
    const snaps = await svc.listSnapshots(repoId);
    expect(snaps.length).toBe(1);
  });

  it('stop() cancels a running backup cleanly; the repository stays valid', async () => {
    await fresh();
    const big = path.join(s.dir, 'big');
    mkdirSync(big, { recursive: true });
    for (let i = 0; i < 6; i++) writeFileSync(path.join(big, `p${i}`), pseudoRandom(`big${i}`, 16 * 1024 * 1024));
    const job = await svc.createJob(baseJob({ name: 'big', sources: { paths: [big] } }));
    await svc.runNow(job.id);
    await waitFor(async () => (await runs(job.id))[0]?.phase === 'reading', 'reading to begin');
    await svc.stop();
    expect((await runs(job.id))[0]!.status).toBe('cancelled');
    const info = (await svc.listRepositories())[0]!;
    await svc.removeRepository(info.id).catch(() => {});
    const c = restic(['-r', info.location, 'check'], s.passwordFile);
    expect(c.status, c.stderr).toBe(0);
  });

  it('marks runs left running by a previous process as failed on start', async () => {
    await fresh();
    const job = await svc.createJob(baseJob());
    const r = db.runs.create({ jobId: job.id, kind: 'backup', trigger: 'manual', scheduledFor: null, status: 'running' });
    svc.start();
    const after = (await runs(job.id)).find((x) => x.id === r.id)!;
    expect(after.status).toBe('failed');
    expect(after.error).toContain('interrupted');
  });
});

describe('retention preview, prune schedule, stagger advice', () => {
  it('previews real and simulated snapshots with reasons, and the space a prune would free, deleting nothing', async () => {
    await fresh();
    clock = new Date();
    const dir = path.join(s.dir, 'preview-src');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'old.bin'), pseudoRandom('old-only', 2 * 1024 * 1024));
    const job = await svc.createJob(baseJob({ name: 'preview', sources: { paths: [dir] }, schedule: '*-*-* 02:00:00', retention: { last: 1 } }));
    await svc.runNow(job.id);
    await svc.idle();
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dir, 'old.bin'));
    writeFileSync(path.join(dir, 'new.txt'), 'new');
    await svc.runNow(job.id);
    await svc.idle();

    const p = await svc.previewRetention(job.id, { weeks: 2, policy: { daily: 7 } });
    const simulated = p.entries.filter((e) => e.simulated);
    expect(simulated.length).toBe(14);
    expect(p.entries.filter((e) => e.keep).length).toBe(7);
    expect(p.entries.filter((e) => e.keep).every((e) => e.simulated && e.reasons.includes('daily snapshot'))).toBe(true);
    expect(p.entries.filter((e) => !e.simulated).every((e) => !e.keep)).toBe(true);

    // The job's own policy (keep-last 1): at the horizon the newest simulated snapshot is the one kept...
    const now = await svc.previewRetention(job.id, { weeks: 1 });
    expect(now.entries.filter((e) => e.keep)).toEqual([expect.objectContaining({ simulated: true, reasons: ['last snapshot'] })]);
    // ...while a prune today would forget the older real snapshot, and old.bin's data with it.
    expect(now.bytesFreed).toBeGreaterThan(2 * 1024 * 1024 - 100_000);
    expect((await svc.listSnapshots(repoId)).length).toBe(2); // a preview deletes nothing
    await expect(svc.previewRetention(job.id, { policy: { daily: 'seven' } })).rejects.toThrow('retention.daily');
  });

  it('runs a prune pass on its own schedule', async () => {
    await fresh();
    clock = new Date('2026-03-02T00:00:00Z');
    const job = await svc.createJob(baseJob({ pruneSchedule: 'Sun 04:00', retention: { last: 1 } }));
    await svc.runNow(job.id);
    await svc.idle();
    await svc.runNow(job.id);
    await svc.idle();
    clock = new Date('2026-03-08T04:00:10Z'); // Sunday
    await svc.tick();
    await svc.idle();
    const pruneRun = (await runs(job.id)).find((r) => r.kind === 'prune')!;
    expect(pruneRun).toMatchObject({ trigger: 'schedule', status: 'success', scheduledFor: '2026-03-08T04:00:00.000Z' });
    expect((await svc.listSnapshots(repoId)).length).toBe(1);
    await svc.tick();
    expect((await runs(job.id)).filter((r) => r.kind === 'prune').length).toBe(1);
  });

  it('warns when jobs on one target start in the same minute', async () => {
    await fresh();
    clock = new Date('2026-03-02T00:00:00Z');
    await svc.createJob(baseJob({ name: 'a', schedule: 'Mon..Fri 18:00' }));
    await svc.createJob(baseJob({ name: 'b', schedule: '*-*-* 18:00:30' }));
    await svc.createJob(baseJob({ name: 'c', schedule: '*-*-* 18:05:00' }));
    const advice = await svc.staggerAdvice();
    expect(advice.length).toBe(1);
    expect(advice[0]!.jobs.map((j) => j.name)).toEqual(['a', 'b']);
    expect(advice[0]!.message).toContain('a, b start in the same minute (2026-03-02 18:00 UTC)');
  });
});

describe('check runs', () => {
  it('verifies the repository as maintenance, and fails naming the damaged pack', async () => {
    await fresh();
    const job = await svc.createJob(baseJob({ checkReadData: 'all', checkSchedule: 'Sat 05:00' }));
    await expect(svc.updateJob(job.id, { checkReadData: 'sometimes' })).rejects.toThrow('checkReadData:');
    await svc.runNow(job.id);
    await svc.idle();
    await svc.runNow(job.id, 'check');
    await svc.idle();
    expect((await runs(job.id))[0]).toMatchObject({ kind: 'check', status: 'success' });
    const repoDir = (await svc.listRepositories())[0]!.location;
    const victim = packFilesLargestFirst(repoDir)[0]!;
    flipByte(victim, 100);
    await svc.runNow(job.id, 'check');
    await svc.idle();
    const failed = (await runs(job.id))[0]!;
    expect(failed).toMatchObject({ kind: 'check', status: 'failed' });
    expect(failed.error).toContain(`pack ${path.basename(victim)}`);
  });
});

describe('bandwidth', () => {
  it("holds a job's uploads to its limit", async () => {
    await fresh();
    const dir = path.join(s.dir, 'bw-src');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'random.bin'), pseudoRandom('bandwidth', 4 * 1024 * 1024));
    const job = await svc.createJob(baseJob({ name: 'limited', sources: { paths: [dir] }, bandwidth: { limitKiBps: 2048 } }));
    const started = Date.now();
    await svc.runNow(job.id);
    await svc.idle();
    const seconds = (Date.now() - started) / 1000;
    expect((await runs(job.id))[0]!.status).toBe('success');
    // About 4 MiB of incompressible data at 2 MiB/s: at least ~2 s (a little burst allowance aside).
    expect(seconds).toBeGreaterThan(1.8);
  });

  it('a limit lifted while the run uploads reaches its transfer thread within seconds', async () => {
    await fresh();
    const dir = path.join(s.dir, 'bw-lift-src');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'random.bin'), pseudoRandom('bandwidth-lift', 12 * 1024 * 1024));
    // 12 MiB at 256 KiB/s would take 48 s; the buckets live in shared memory, paid into by the run's transfer thread.
    const job = await svc.createJob(baseJob({ name: 'lifted', sources: { paths: [dir] }, bandwidth: { limitKiBps: 256 } }));
    svc.start(); // the scheduler re-evaluates the limits every second
    const started = Date.now();
    await svc.runNow(job.id);
    await waitFor(async () => (await runs(job.id))[0]?.status === 'running', 'the run to start');
    await new Promise((r) => setTimeout(r, 1500));
    await svc.updateJob(job.id, { bandwidth: { limitKiBps: null, windows: [] } });
    await svc.idle();
    const seconds = (Date.now() - started) / 1000;
    expect((await runs(job.id))[0]!.status).toBe('success');
    expect(seconds).toBeLessThan(30);
  }, 60_000);
});

describe('retries', () => {
  it("a run's retries reach its log (the target runs in a thread of its own, the retries on the service's)", async () => {
    const sshd = await startSshd();
    try {
      const dir = path.join(s.dir, 'sftp-retry');
      mkdirSync(path.join(dir, 'src'), { recursive: true });
      writeFileSync(path.join(dir, 'src', 'a.bin'), pseudoRandom('retry', 200_000));
      const knownHostsFile = path.join(dir, 'known_hosts.json');
      db = openDatabase(path.join(s.dir, `lifeboat-${++dbCount}.db`), { now: () => clock });
      svc = new LifeboatService({
        db,
        now: () => clock,
        timeZone: 'UTC',
        workers: 1,
        targetOptions: () => ({ sftp: { privateKey: readFileSync(sshd.userKeyFile, 'utf8'), knownHostsFile, connectTimeout: 3000 } }),
      });
      const location = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${path.join(dir, 'repo')}`;
      repoId = (await svc.addRepository({ name: 'nas', location, passwordRef: `file:${s.passwordFile}`, create: true })).id;
      const job = await svc.createJob(baseJob({ name: 'remote', sources: { paths: [path.join(dir, 'src')] } }));
      // The server is away when the run starts and back a moment later: the run retries, then succeeds.
      await sshd.stop();
      await svc.runNow(job.id);
      await new Promise((r) => setTimeout(r, 1500));
      await sshd.restart();
      await svc.idle();
      const run = (await runs(job.id))[0]!;
      const log = await svc.getRunLog(run.id);
      expect(run.status, log).toBe('success');
      expect(log).toMatch(/attempt 1 failed \(.*\); retrying in \d+ ms/);
    } finally {
      await sshd.dispose();
    }
  }, 120_000);
});
