import type { Command } from 'commander';
import { parseGoTime } from '../../../shared/repo/gotime.js';
import type { Snapshot } from '../../../shared/repo/types.js';
import { isPolicyEmpty, parseDuration, parseGroupBy, parseTagList, type RetentionPolicy } from '../../../shared/retention.js';
import { forget, groupLabel, resticForgetJSON, type ForgetResult } from '../../engine/forget.js';
import { openCliRepository } from '../repository.js';
import { UsageError, type RepoOptions } from '../options.js';

/** The options commander parses for `lifeboat forget` (values as typed). */
export interface ForgetCommandOptions {
  keepLast?: string;
  keepHourly?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  keepYearly?: string;
  keepWithin?: string;
  keepWithinHourly?: string;
  keepWithinDaily?: string;
  keepWithinWeekly?: string;
  keepWithinMonthly?: string;
  keepWithinYearly?: string;
  keepTag?: string[];
  host?: string[];
  tag?: string[];
  path?: string[];
  groupBy: string;
  dryRun?: boolean;
  unsafeAllowRemoveAll?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The policy the --keep-* flags describe; errors name the flag. */
export function policyFromFlags(o: ForgetCommandOptions): RetentionPolicy {
  const p: RetentionPolicy = {};
  const counts = [
    ['last', 'keepLast', 'keep-last'],
    ['hourly', 'keepHourly', 'keep-hourly'],
    ['daily', 'keepDaily', 'keep-daily'],
    ['weekly', 'keepWeekly', 'keep-weekly'],
    ['monthly', 'keepMonthly', 'keep-monthly'],
    ['yearly', 'keepYearly', 'keep-yearly'],
  ] as const;
  for (const [rule, opt, flag] of counts) {
    const text = o[opt];
    if (text === undefined) continue;
    if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(Number(text))) throw new UsageError(`${flag}: ${JSON.stringify(text)} must be a whole number >= 0`);
    p[rule] = Number(text);
  }
  const durations = [
    ['within', 'keepWithin', 'keep-within'],
    ['withinHourly', 'keepWithinHourly', 'keep-within-hourly'],
    ['withinDaily', 'keepWithinDaily', 'keep-within-daily'],
    ['withinWeekly', 'keepWithinWeekly', 'keep-within-weekly'],
    ['withinMonthly', 'keepWithinMonthly', 'keep-within-monthly'],
    ['withinYearly', 'keepWithinYearly', 'keep-within-yearly'],
  ] as const;
  for (const [rule, opt, flag] of durations) {
    const text = o[opt];
    if (text === undefined) continue;
    try {
      parseDuration(text, flag);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    p[rule] = text;
  }
  if (o.keepTag?.length) p.tags = o.keepTag.map(parseTagList);
  return p;
}

/**
 * Adds `lifeboat forget`: restic's retention flags (`--keep-last N`,
 * `--keep-hourly N` ... `--keep-yearly N`, `--keep-within 1y2m3d4h`,
 * `--keep-within-hourly` ... `--keep-within-yearly`, `--keep-tag a,b`),
 * restic's filters (`--host`, `--tag`, `--path`, repeatable), `--group-by`
 * (default `host,paths`), `--dry-run` and `--unsafe-allow-remove-all`. Uses the
 * program's global `--repo`, `--password-file`, `--json` and `--quiet`.
 * With `--json` prints the array `restic forget --json` prints. No keep rule
 * is an error ("no policy was specified"), unlike restic 0.14 which exits 0.
 * Exit code 1 when some snapshot files could not be removed.
 */
export function registerForgetCommand(program: Command): void {
  program
    .command('forget')
    .description('remove snapshots according to a retention policy (as restic forget; data stays until prune)')
    .option('-l, --keep-last <n>', 'keep the last n snapshots')
    .option('-H, --keep-hourly <n>', 'keep the last n hourly snapshots')
    .option('-d, --keep-daily <n>', 'keep the last n daily snapshots')
    .option('-w, --keep-weekly <n>', 'keep the last n weekly snapshots')
    .option('-m, --keep-monthly <n>', 'keep the last n monthly snapshots')
    .option('-y, --keep-yearly <n>', 'keep the last n yearly snapshots')
    .option('--keep-within <duration>', 'keep snapshots newer than duration (e.g. 1y5m7d2h) relative to the latest snapshot')
    .option('--keep-within-hourly <duration>', 'keep hourly snapshots newer than duration relative to the latest snapshot')
    .option('--keep-within-daily <duration>', 'keep daily snapshots newer than duration relative to the latest snapshot')
    .option('--keep-within-weekly <duration>', 'keep weekly snapshots newer than duration relative to the latest snapshot')
    .option('--keep-within-monthly <duration>', 'keep monthly snapshots newer than duration relative to the latest snapshot')
    .option('--keep-within-yearly <duration>', 'keep yearly snapshots newer than duration relative to the latest snapshot')
    .option('--keep-tag <taglist>', 'keep snapshots with all tags of this comma-separated list (repeatable)', collect)
    .option('--host <host>', 'only consider snapshots of this host (repeatable)', collect)
    .option('--tag <taglist>', 'only consider snapshots with all tags of this comma-separated list (repeatable)', collect)
    .option('--path <path>', 'only consider snapshots including this absolute path (repeatable)', collect)
    .option('-g, --group-by <group>', "group snapshots by host, paths and/or tags, comma-separated ('' for one group)", 'host,paths')
    .option('-n, --dry-run', 'do not remove anything, only show what would be removed')
    .option('--unsafe-allow-remove-all', 'allow a policy to remove every snapshot of a group')
    .action(async (o: ForgetCommandOptions, cmd: Command) => {
      const g = cmd.optsWithGlobals() as RepoOptions & { json?: boolean; quiet?: boolean };
      const policy = policyFromFlags(o);
      if (isPolicyEmpty(policy)) {
        throw new UsageError('no policy was specified, no snapshots will be removed: give at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within[-hourly|-daily|-weekly|-monthly|-yearly], --keep-tag');
      }
      let groupBy;
      try {
        groupBy = parseGroupBy(o.groupBy);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const repo = await openCliRepository(g);
      let res: ForgetResult;
      try {
        res = await forget(repo, policy, {
          dryRun: Boolean(o.dryRun),
          groupBy,
          ...(o.host ? { host: o.host } : {}),
          ...(o.tag ? { tags: o.tag.map(parseTagList) } : {}),
          ...(o.path ? { paths: o.path } : {}),
          allowRemoveAll: Boolean(o.unsafeAllowRemoveAll),
        });
      } finally {
        await repo.close();
      }
      for (const w of res.warnings) process.stderr.write(`warning: ${w}\n`);
      for (const f of res.failed) process.stderr.write(`error: unable to remove snapshots/${f.id}: ${f.message}\n`);
      if (g.json) process.stdout.write(JSON.stringify(resticForgetJSON(res.groups)) + '\n');
      else printText(res, Boolean(g.quiet));
      if (res.failed.length > 0) process.exitCode = 1;
    });
}

function printText(res: ForgetResult, quiet: boolean): void {
  const out = (line = '') => process.stdout.write(line + '\n');
  if (!quiet) {
    out(`Applying Policy: ${res.policyText}`);
    for (const grp of res.groups) {
      out(`snapshots for ${groupLabel(grp.key)}:`);
      if (grp.keep.length) {
        out(`keep ${grp.keep.length} snapshots:`);
        printTable(grp.keep, grp.reasons);
      }
      if (grp.remove.length) {
        out(`remove ${grp.remove.length} snapshots:`);
        printTable(grp.remove);
      }
      out();
    }
  }
  const ids = res.removed.map((id) => id.slice(0, 8)).join(' ');
  if (res.removed.length === 0) out('no snapshots to remove');
  else if (res.dryRun) out(`would remove ${res.removed.length} snapshots: ${ids}`);
  else out(`removed ${res.removed.length} snapshots: ${ids}`);
}

/** restic's snapshot table: one line per reason for kept snapshots. */
function printTable(snaps: Snapshot[], reasons?: Map<string, string[]>): void {
  const rows = snaps.map((s) => ({
    id: s.id.slice(0, 8),
    time: localTime(s.time),
    host: s.hostname ?? '',
    tags: (s.tags ?? []).join(','),
    reasons: reasons?.get(s.id) ?? [],
    paths: s.paths.join(', '),
  }));
  const w = (f: (r: (typeof rows)[number]) => string, title: string) => Math.max(title.length, ...rows.map((r) => f(r).length));
  const hostW = w((r) => r.host, 'Host');
  const tagsW = w((r) => r.tags, 'Tags');
  const reasonW = reasons ? Math.max('Reasons'.length, ...rows.flatMap((r) => r.reasons.map((x) => x.length))) : 0;
  const line = (id: string, time: string, host: string, tags: string, reason: string, paths: string) =>
    `${id.padEnd(8)}  ${time.padEnd(19)}  ${host.padEnd(hostW)}  ${tags.padEnd(tagsW)}  ${reasons ? reason.padEnd(reasonW) + '  ' : ''}${paths}`.trimEnd();
  const header = line('ID', 'Time', 'Host', 'Tags', 'Reasons', 'Paths');
  process.stdout.write(header + '\n' + '-'.repeat(header.length) + '\n');
  for (const r of rows) {
    process.stdout.write(line(r.id, r.time, r.host, r.tags, r.reasons[0] ?? '', r.paths) + '\n');
    for (const extra of r.reasons.slice(1)) process.stdout.write(line('', '', '', '', extra, '') + '\n');
  }
  process.stdout.write('-'.repeat(header.length) + '\n');
}

/** A snapshot time in the local zone as "YYYY-MM-DD HH:MM:SS". */
function localTime(goTime: string): string {
  const d = new Date(Number(parseGoTime(goTime) / 1_000_000n));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
