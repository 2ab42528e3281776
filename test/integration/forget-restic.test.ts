/**
 * Retention judged by restic itself: a repository written by our engine holds
 * ~80 snapshots at chosen times (two years and more, clusters in one hour, day
 * and week, both DST changes, ISO weeks across year ends, keep-within
 * boundaries to the nanosecond, times recorded in UTC and in New York, one in
 * the future, two hosts, two path sets, tags). For each policy, Debian's
 * restic 0.14 (`restic forget --dry-run --json`, TZ=Europe/Berlin) and our
 * `lifeboat forget --dry-run --json` must keep and remove the same snapshots,
 * in the same groups and order, with the same reasons and counters. Then one
 * real forget through our CLI must leave exactly the kept snapshots, and
 * `restic check` must pass.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseGoTime } from '../../shared/repo/gotime.js';
import { registerForgetCommand } from '../../main/cli/commands/forget.js';
import { backup } from '../../main/engine/backup.js';
import { forget, resticForgetJSON, type ResticForgetGroup } from '../../main/engine/forget.js';
import { RepositoryLockedError } from '../../main/engine/errors.js';
import { RepositoryLock } from '../../main/engine/lock.js';
import { Repository } from '../../main/engine/repository.js';
import { LocalTarget } from '../../main/engine/targets/local.js';
import { PROJECT_ROOT, requireTool, scratch, type RunResult } from '../helpers/tools.js';

const ZONE = 'Europe/Berlin';
const TSX_LOADER = createRequire(import.meta.url).resolve('tsx');

/**
 * The snapshots: [time as it must be stored, group, tags]. The stored offset
 * comes from the zone the engine runs in while writing it: Berlin's own
 * offsets, `Z` (written with TZ=UTC) or New York's (TZ=America/New_York).
 * Group a = host alpha, path src; b = host beta, path src; c = host alpha, paths src + src2.
 */
const SPECS: [string, 'a' | 'b' | 'c', string[]?][] = [
  // ISO weeks across year ends
  ['2020-12-31T09:00:00+01:00', 'a'], // Thu, 2020-W53
  ['2021-01-03T09:00:00+01:00', 'a'], // Sun, 2020-W53
  ['2021-01-04T09:00:00+01:00', 'a'], // Mon, 2021-W01
  ['2021-02-14T10:00:00+01:00', 'a'],
  ['2021-04-01T10:00:00+02:00', 'a', ['keep']],
  ['2021-06-30T23:59:59.999999999+02:00', 'a'],
  ['2021-07-01T00:00:00+02:00', 'a'],
  ['2021-09-15T12:00:00+02:00', 'a', ['a', 'b']],
  ['2021-12-31T23:30:00+01:00', 'a'],
  ['2022-01-01T00:30:00+01:00', 'a'], // Sat, 2021-W52
  ['2022-01-02T18:00:00+01:00', 'a'], // Sun, 2021-W52
  ['2022-01-03T07:00:00+01:00', 'a'], // Mon, 2022-W01
  // spring forward (no 02:xx on 27 March 2022)
  ['2022-03-26T12:30:00+01:00', 'a'],
  ['2022-03-27T01:30:00+01:00', 'a'],
  ['2022-03-27T03:30:00+02:00', 'a'],
  ['2022-03-27T12:00:00+02:00', 'a'],
  ['2022-06-15T12:00:00+02:00', 'a', ['manual']],
  // fall back (02:xx twice on 30 October 2022)
  ['2022-10-30T01:50:00+02:00', 'a'],
  ['2022-10-30T02:20:00+02:00', 'a'],
  ['2022-10-30T02:40:00+01:00', 'a'],
  ['2022-10-30T03:10:00+01:00', 'a'],
  ['2022-12-31T23:59:00+01:00', 'a'],
  // offsets other than Berlin's: bucketed in UTC and at -05:00 by restic
  ['2023-01-01T23:30:00Z', 'a'],
  ['2023-01-02T00:10:00+01:00', 'a'],
  ['2023-01-01T20:00:00-05:00', 'a'],
  // keep-within 1y2m3d4h of 2024-03-31 12:00 CEST ends at 2023-01-28 08:00 CET
  ['2023-01-28T08:00:00+01:00', 'a'],
  ['2023-01-28T08:00:01+01:00', 'a'],
  // one week, one day, one hour
  ['2023-05-08T09:00:00+02:00', 'a'],
  ['2023-05-10T10:05:00+02:00', 'a'],
  ['2023-05-10T10:20:00+02:00', 'a', ['manual']],
  ['2023-05-10T10:50:00+02:00', 'a'],
  ['2023-05-10T14:00:00+02:00', 'a'],
  ['2023-05-10T20:00:00+02:00', 'a'],
  ['2023-05-14T22:00:00+02:00', 'a'], // Sun
  ['2023-05-15T06:00:00+02:00', 'a'], // Mon
  ['2023-08-01T12:00:00+02:00', 'a', ['keep']],
  ['2023-11-30T12:00:00+01:00', 'a'],
  ['2023-12-31T12:00:00+01:00', 'a'],
  ['2024-01-01T12:00:00+01:00', 'a'], // Mon, 2024-W01
  ['2024-02-29T12:00:00+01:00', 'a'],
  // keep-within 1m of 2024-03-31 12:00 CEST ends at 2024-03-02 12:00 CET (31 February = 2 March)
  ['2024-03-01T11:59:59.5+01:00', 'a'],
  ['2024-03-02T11:59:59.999999999+01:00', 'a'],
  ['2024-03-02T12:00:00+01:00', 'a'],
  ['2024-03-02T12:00:00.000000001+01:00', 'a'],
  ['2024-03-10T08:00:00+01:00', 'a'],
  ['2024-03-17T08:00:00+01:00', 'a', ['a', 'b', 'c']],
  ['2024-03-24T08:00:00+01:00', 'a'],
  ['2024-03-30T12:00:00+01:00', 'a'], // exactly 1d before the newest on the wall clock (23 h)
  ['2024-03-30T12:30:00+01:00', 'a'],
  ['2024-03-30T22:00:00+01:00', 'a'],
  ['2024-03-31T01:59:00+01:00', 'a'],
  ['2024-03-31T03:01:00+02:00', 'a'],
  ['2024-03-31T11:15:00+02:00', 'a'],
  ['2024-03-31T11:45:00+02:00', 'a', ['manual']],
  ['2024-03-31T12:00:00+02:00', 'a'], // the newest that is not in the future
  ['2031-06-01T10:00:00+02:00', 'a'], // in the future
  // host beta
  ['2021-07-04T12:00:00+02:00', 'b'],
  ['2022-07-04T12:00:00+02:00', 'b', ['x']],
  ['2023-07-04T12:00:00+02:00', 'b', ['x']],
  ['2024-03-20T21:00:00+01:00', 'b'],
  ['2024-03-21T21:00:00+01:00', 'b', ['x']],
  ['2024-03-22T21:00:00+01:00', 'b', ['x', 'y']],
  ['2024-03-23T21:00:00+01:00', 'b'],
  ['2024-03-24T21:00:00+01:00', 'b', ['x']],
  ['2024-03-25T21:00:00+01:00', 'b', ['y']],
  ['2024-03-26T21:00:00+01:00', 'b', ['x']],
  ['2024-03-27T21:00:00+01:00', 'b'],
  ['2024-03-27T23:30:00Z', 'b'], // 28 March in Berlin, 27 March in UTC
  ['2024-03-28T21:00:00+01:00', 'b', ['x', 'y']],
  ['2024-03-28T21:30:00+01:00', 'b', ['x']],
  ['2024-03-28T22:15:00+01:00', 'b'],
  // host alpha, two paths: Sundays 23:00
  ['2024-01-07T23:00:00+01:00', 'c'],
  ['2024-01-14T23:00:00+01:00', 'c', ['keep']],
  ['2024-01-21T23:00:00+01:00', 'c'],
  ['2024-01-28T23:00:00+01:00', 'c'],
  ['2024-02-04T23:00:00+01:00', 'c'],
  ['2024-02-11T23:00:00+01:00', 'c'],
  ['2024-02-18T23:00:00+01:00', 'c', ['manual']],
  ['2024-02-25T23:00:00+01:00', 'c'],
  ['2024-03-03T23:00:00+01:00', 'c'],
  ['2024-03-10T23:00:00+01:00', 'c'],
];

/** Policies as restic flags; each is run by restic and by us. */
const POLICIES: string[][] = [
  ['--keep-last', '5'],
  ['--keep-hourly', '10'],
  ['--keep-daily', '7'],
  ['--keep-weekly', '8'],
  ['--keep-monthly', '12'],
  ['--keep-yearly', '5'],
  ['--keep-daily', '7', '--keep-weekly', '5', '--keep-monthly', '12', '--keep-yearly', '3'],
  ['--keep-hourly', '3', '--keep-daily', '2', '--keep-last', '2'],
  ['--keep-within', '1m'],
  ['--keep-within', '1d'],
  ['--keep-within', '1y2m3d4h'],
  ['--keep-within', '36h', '--keep-last', '3'],
  ['--keep-within-hourly', '1d', '--keep-within-daily', '7d', '--keep-within-weekly', '1m', '--keep-within-monthly', '1y', '--keep-within-yearly', '5y'],
  ['--keep-within-daily', '2y', '--keep-weekly', '3'],
  ['--keep-tag', 'keep', '--keep-tag', 'a,b', '--keep-last', '1'],
  ['--keep-tag', '', '--keep-daily', '1'],
  ['--keep-last', '2', '--group-by', 'tags'],
  ['--keep-daily', '3', '--group-by', 'host'],
  ['--keep-weekly', '3', '--keep-within', '3d', '--group-by', ''],
  ['--keep-monthly', '2', '--group-by', 'host,paths,tags'],
  ['--keep-hourly', '3', '--host', 'beta', '--tag', 'x'],
  ['--keep-daily', '2', '--tag', 'x,y', '--tag', 'keep'],
];

let s: ReturnType<typeof scratch>;
let repoDir: string;
let password: string;
const ids: string[] = [];

function resticRun(args: string[]): RunResult {
  const r = spawnSync('restic', ['--no-cache', '-r', repoDir, ...args], {
    encoding: 'utf8',
    env: { ...process.env, TZ: ZONE, RESTIC_PASSWORD_FILE: s.passwordFile },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`restic ${args.join(' ')} exited ${r.status}\n${r.stderr}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function resticForget(flags: string[]): ResticForgetGroup[] {
  const out = resticRun(['forget', '--dry-run', '--json', ...flags]).stdout.trim();
  return out ? (JSON.parse(out) as ResticForgetGroup[]) : [];
}

/** Runs `lifeboat forget` in this process (TZ=Europe/Berlin), through a program with lifeboat's global options. */
async function lifeboatForget(flags: string[]): Promise<string> {
  const program = new Command('lifeboat')
    .option('-r, --repo <location>')
    .option('--password-file <file>')
    .option('--json')
    .option('-q, --quiet')
    .exitOverride();
  registerForgetCommand(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['-r', repoDir, '--password-file', s.passwordFile, 'forget', ...flags], { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return out;
}

/** One group as compared: key, kept and removed IDs (newest first), reasons and counters per kept ID. */
function normalise(groups: ResticForgetGroup[]) {
  return groups
    .map((g) => {
      const keep = g.keep ?? [];
      const reasons = g.reasons ?? [];
      expect(reasons.length).toBe(keep.length);
      return {
        key: JSON.stringify({ host: g.host, paths: g.paths, tags: g.tags }),
        keep: keep.map((k) => k.id),
        remove: (g.remove ?? []).map((r) => r.id),
        // restic 0.14 prints reasons in the order of `keep`, without IDs: pair them, checking the times.
        reasons: Object.fromEntries(
          reasons.map((r, i) => {
            expect(parseGoTime(r.snapshot.time)).toBe(parseGoTime(keep[i]!.time));
            return [keep[i]!.id, { matches: r.matches, counters: r.counters ?? {} }];
          }),
        ),
      };
    })
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

beforeAll(async () => {
  requireTool('restic');
  s = scratch('lifeboat-forget-');
  password = readFileSync(s.passwordFile, 'utf8').replace(/\n$/, '');
  const src = path.join(s.dir, 'src');
  const src2 = path.join(s.dir, 'src2');
  mkdirSync(src);
  mkdirSync(src2);
  writeFileSync(path.join(src, 'a.txt'), 'retention\n');
  writeFileSync(path.join(src2, 'b.txt'), 'retention too\n');
  repoDir = path.join(s.dir, 'repo');
  const repo = await Repository.init(new LocalTarget(repoDir), password);
  const savedTZ = process.env.TZ;
  try {
    for (const [time, group, tags] of SPECS) {
      // The engine records the time with the offset of the zone it runs in.
      process.env.TZ = time.endsWith('Z') ? 'UTC' : time.endsWith('-05:00') ? 'America/New_York' : ZONE;
      const res = await backup(repo, {
        paths: group === 'c' ? [src, src2] : [src],
        hostname: group === 'b' ? 'beta' : 'alpha',
        tags: tags ?? [],
        time: parseGoTime(time),
        workers: 1,
      });
      expect(res.snapshot.time).toBe(time);
      ids.push(res.snapshot.id);
    }
  } finally {
    if (savedTZ === undefined) delete process.env.TZ;
    else process.env.TZ = savedTZ;
  }
  await repo.close();
  // Our CLI runs in this process and buckets in the runtime's zone, as restic does.
  process.env.TZ = ZONE;
}, 300_000);

afterAll(() => s?.dispose());

describe('lifeboat forget decides as restic 0.14 forget', () => {
  it('the repository holds every snapshot for restic', () => {
    const listed = JSON.parse(resticRun(['snapshots', '--json']).stdout) as { id: string }[];
    expect(listed.map((x) => x.id).sort()).toEqual([...ids].sort());
    expect(ids).toHaveLength(SPECS.length);
  });

  it.each(POLICIES.map((p) => [p.map((a) => (a === '' ? "''" : a)).join(' '), p]))('%s', async (_name, flags) => {
    const expected = normalise(resticForget(flags as string[]));
    const ours = normalise(JSON.parse(await lifeboatForget(['--json', '--dry-run', ...(flags as string[])])) as ResticForgetGroup[]);
    expect(ours).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
  });

  it('keep-tag alone: restic 0.14 removes a whole group; we refuse unless allowed, then agree', async () => {
    const flags = ['--keep-tag', 'keep'];
    const expected = normalise(resticForget(flags));
    expect(expected.some((g) => g.keep.length === 0)).toBe(true);
    await expect(lifeboatForget(['--dry-run', ...flags])).rejects.toThrow(/refusing to delete the last snapshot of snapshot group host \[beta\]/);
    const ours = normalise(JSON.parse(await lifeboatForget(['--json', '--dry-run', '--unsafe-allow-remove-all', ...flags])) as ResticForgetGroup[]);
    expect(ours).toEqual(expected);
  });

  it('the engine gives the same decisions as the CLI', async () => {
    const repo = await Repository.open(new LocalTarget(repoDir), password);
    try {
      const res = await forget(repo, { daily: 7, weekly: 5, within: '1m' }, { dryRun: true, timeZone: ZONE });
      expect(normalise(resticForgetJSON(res.groups))).toEqual(normalise(resticForget(['--keep-daily', '7', '--keep-weekly', '5', '--keep-within', '1m'])));
      expect(res.removed.length).toBeGreaterThan(0);
      // a dry run changes nothing
      expect((await repo.listSnapshots()).length).toBe(SPECS.length);
    } finally {
      await repo.close();
    }
  });

  it('a real forget needs the exclusive lock; a dry run takes none', async () => {
    const repo = await Repository.open(new LocalTarget(repoDir), password);
    const backupLock = await RepositoryLock.acquire(repo, { exclusive: false });
    try {
      await expect(forget(repo, { last: 1 }, { timeZone: ZONE })).rejects.toBeInstanceOf(RepositoryLockedError);
      const dry = await forget(repo, { last: 1 }, { dryRun: true, timeZone: ZONE });
      expect(dry.removed.length).toBe(SPECS.length - dry.groups.length);
      expect((await repo.listSnapshots()).length).toBe(SPECS.length);
    } finally {
      await backupLock.release();
      await repo.close();
    }
    expect(readdirSync(path.join(repoDir, 'locks'))).toEqual([]);
  });

  it('text output lists kept snapshots with reasons and the ones to remove', async () => {
    const text = await lifeboatForget(['--dry-run', '--keep-daily', '2', '--host', 'beta']);
    expect(text).toContain('Applying Policy: keep 2 daily snapshots');
    expect(text).toContain('snapshots for host [beta], paths [');
    expect(text).toContain('keep 2 snapshots:');
    expect(text).toMatch(/daily snapshot/);
    expect(text).toContain('remove 13 snapshots:');
    expect(text).toMatch(/would remove 13 snapshots: [0-9a-f]{8}/);
  });

  it('a missing policy or a bad flag is an error naming it', async () => {
    await expect(lifeboatForget(['--dry-run'])).rejects.toThrow(/no policy was specified/);
    await expect(lifeboatForget(['--keep-within', '2w'])).rejects.toThrow(/^keep-within: "2w": invalid unit "w"/);
    await expect(lifeboatForget(['--keep-daily', '-1'])).rejects.toThrow(/^keep-daily: "-1" must be a whole number >= 0/);
    await expect(lifeboatForget(['--keep-daily', '1', '--group-by', 'user'])).rejects.toThrow(/^group-by: unknown grouping option "user"/);
  });

  it('a real forget (own process) leaves exactly the kept snapshots, and restic check passes', () => {
    const flags = ['--keep-daily', '5', '--keep-weekly', '4', '--keep-monthly', '6', '--keep-tag', 'keep'];
    const expected = normalise(resticForget(flags));
    const kept = expected.flatMap((g) => g.keep).sort();
    const removed = expected.flatMap((g) => g.remove);
    expect(removed.length).toBeGreaterThan(20);

    const runner = path.join(s.dir, 'forget-runner.mts');
    writeFileSync(
      runner,
      [
        `import { Command } from ${JSON.stringify(pathToFileURL(createRequire(import.meta.url).resolve('commander')).href)};`,
        `import { registerForgetCommand } from ${JSON.stringify(pathToFileURL(path.join(PROJECT_ROOT, 'main/cli/commands/forget.ts')).href)};`,
        `const program = new Command('lifeboat').option('-r, --repo <location>').option('--password-file <file>').option('--json').option('-q, --quiet');`,
        `registerForgetCommand(program);`,
        `try { await program.parseAsync(process.argv); } catch (e) { process.stderr.write('lifeboat: ' + (e as Error).message + '\\n'); process.exitCode = 1; }`,
      ].join('\n'),
    );
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--import', TSX_LOADER, runner, '-r', repoDir, '--password-file', s.passwordFile, 'forget', ...args], {
        encoding: 'utf8',
        cwd: PROJECT_ROOT,
        env: { ...process.env, TZ: ZONE },
      });

    const none = run([]);
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('no policy was specified');

    const packs = () => readdirSync(path.join(repoDir, 'data'), { recursive: true }).length;
    const packsBefore = packs();
    const r = run(['--json', ...flags]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(normalise(JSON.parse(r.stdout) as ResticForgetGroup[])).toEqual(expected);

    const after = JSON.parse(resticRun(['snapshots', '--json']).stdout) as { id: string }[];
    expect(after.map((x) => x.id).sort()).toEqual(kept);
    const check = resticRun(['check']);
    expect(check.stdout + check.stderr).toContain('no errors were found');
    // forget never prunes: every pack is still there for `prune` to judge; our lock is gone
    expect(packs()).toBe(packsBefore);
    expect(readdirSync(path.join(repoDir, 'locks'))).toEqual([]);
  });
});
