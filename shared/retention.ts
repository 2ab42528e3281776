/**
 * Retention: which snapshots a policy keeps, decided the way `restic forget`
 * (restic 0.14) decides, so a policy previewed or applied by Lifeboat keeps and
 * removes exactly what restic would, with restic's wording for the reasons.
 *
 * The rules, per group of snapshots (by default one group per host and set of
 * paths):
 * - Snapshots are ordered newest first (equal times keep their input order).
 * - `last`, `hourly`, `daily`, `weekly`, `monthly`, `yearly` (counts): walking
 *   from the newest, a snapshot is kept when its bucket (itself; its hour; its
 *   day; its ISO year and week; its month; its year) differs from the bucket of
 *   the snapshot this rule kept last, while the rule has kept fewer than its
 *   count. So each rule keeps the newest snapshot of each of its N newest buckets.
 * - `within` (duration): keeps every snapshot strictly newer than the newest
 *   snapshot's time minus the duration. The newest snapshot is the newest one
 *   that is not in the future (restic ignores future ones here).
 * - `withinHourly` ... `withinYearly`: like the counts without a count: the
 *   newest snapshot of every bucket, among the snapshots within the duration.
 * - `tags` (keep-tag): keeps every snapshot carrying all tags of at least one
 *   of the lists; the list `[""]` matches snapshots without tags.
 * - A policy with no rule keeps everything (reason "policy is empty");
 *   `lifeboat forget` refuses such a policy instead.
 *
 * Wall-clock buckets follow Go's time semantics, which restic inherits: a
 * snapshot time whose recorded UTC offset is the offset `timeZone` has at that
 * instant is bucketed in `timeZone` (the usual case); a time recorded with `Z`
 * is bucketed in UTC; any other offset is bucketed in that fixed offset. Date
 * objects carry no offset and are bucketed in `timeZone`. Duration arithmetic
 * (`1y2m3d` back from the newest snapshot) is done on the newest snapshot's
 * wall clock, normalised like Go's `time.Date` (31 March minus one month is
 * 3 March), and hours are subtracted as absolute hours.
 *
 * Pure: no Node or npm imports; time zones come from `Intl.DateTimeFormat`.
 */
import { parseGoTime } from './repo/gotime.js';
import { civilFromDays, daysFromCivil } from './schedule/zone.js';

// ---------------------------------------------------------------- policy

/**
 * A retention policy, the options of `restic forget`. Counts are whole
 * numbers >= 0 (0 or absent: rule off). Durations use restic's syntax
 * (`1y2m3d4h`, see `parseDuration`; empty or zero: rule off).
 */
export interface RetentionPolicy {
  /** keep-last: the N newest snapshots. */
  last?: number;
  /** keep-hourly: the newest snapshot of each of the N newest hours that have one. */
  hourly?: number;
  /** keep-daily: the newest snapshot of each of the N newest days that have one. */
  daily?: number;
  /** keep-weekly: per ISO week (Monday to Sunday, ISO week-numbering year). */
  weekly?: number;
  /** keep-monthly: per calendar month. */
  monthly?: number;
  /** keep-yearly: per calendar year. */
  yearly?: number;
  /** keep-within: every snapshot newer than the newest snapshot minus this duration. */
  within?: string;
  /** keep-within-hourly: the newest snapshot of every hour, within this duration of the newest snapshot. */
  withinHourly?: string;
  /** keep-within-daily: per day, within the duration. */
  withinDaily?: string;
  /** keep-within-weekly: per ISO week, within the duration. */
  withinWeekly?: string;
  /** keep-within-monthly: per month, within the duration. */
  withinMonthly?: string;
  /** keep-within-yearly: per year, within the duration. */
  withinYearly?: string;
  /** keep-tag: tag lists; a snapshot with all tags of any one list is kept. */
  tags?: string[][];
}

/** The count rules, in restic's evaluation (and reason) order. */
export const COUNT_RULES = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const;
/** The duration rules; `within` is evaluated before the counts, the others after. */
export const WITHIN_RULES = ['within', 'withinHourly', 'withinDaily', 'withinWeekly', 'withinMonthly', 'withinYearly'] as const;

/** A count rule's name in RetentionPolicy. */
export type CountRule = (typeof COUNT_RULES)[number];
/** A duration rule's name in RetentionPolicy. */
export type WithinRule = (typeof WITHIN_RULES)[number];

/** A parsed restic duration. Each field is a whole number >= 0. */
export interface RetentionDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

const MAX_DURATION_NUMBER = 10_000_000;

/**
 * Parses restic's duration syntax: numbers each followed by a unit, `y`
 * (years), `m` (months), `d` (days) or `h` (hours), in any order, e.g.
 * `1y2m3d4h`, `36h`, `2d12h`. Surrounding whitespace is ignored; the empty
 * string is the zero duration. As in restic, a repeated unit replaces the
 * earlier value (`1d2d` is 2 days). Unlike restic 0.14 (which accepts them and
 * then keeps nothing), negative numbers are refused. Throws an Error whose
 * message starts with `field` and says what is wrong.
 */
export function parseDuration(text: string, field: string): RetentionDuration {
  if (typeof text !== 'string') throw new Error(`${field}: must be a duration like 1y2m3d4h (years, months, days, hours)`);
  const d: RetentionDuration = { years: 0, months: 0, days: 0, hours: 0 };
  const src = text.trim();
  let i = 0;
  const quoted = JSON.stringify(text);
  while (i < src.length) {
    if (src[i] === '-') throw new Error(`${field}: ${quoted}: negative durations are not allowed`);
    let j = i;
    while (j < src.length && src.charCodeAt(j) >= 48 && src.charCodeAt(j) <= 57) j++;
    if (j === i) throw new Error(`${field}: ${quoted}: expected a number at ${JSON.stringify(src.slice(i))} (a duration is like 1y2m3d4h)`);
    const num = Number(src.slice(i, j));
    if (num > MAX_DURATION_NUMBER) throw new Error(`${field}: ${quoted}: number ${src.slice(i, j)} is too large`);
    if (j === src.length) throw new Error(`${field}: ${quoted}: no unit after number ${num} (use y, m, d or h)`);
    const unit = src[j];
    switch (unit) {
      case 'y':
        d.years = num;
        break;
      case 'm':
        d.months = num;
        break;
      case 'd':
        d.days = num;
        break;
      case 'h':
        d.hours = num;
        break;
      default:
        throw new Error(`${field}: ${quoted}: invalid unit ${JSON.stringify(unit)} after number ${num} (use y, m, d or h)`);
    }
    i = j + 1;
  }
  return d;
}

/** True when every field of `d` is 0 (a zero duration switches its rule off). */
export function isZeroDuration(d: RetentionDuration): boolean {
  return d.years === 0 && d.months === 0 && d.days === 0 && d.hours === 0;
}

/** Formats a duration as restic prints it: non-zero fields in y, m, d, h order (`1y2d`); "" when zero. */
export function durationText(d: RetentionDuration): string {
  return (d.years ? `${d.years}y` : '') + (d.months ? `${d.months}m` : '') + (d.days ? `${d.days}d` : '') + (d.hours ? `${d.hours}h` : '');
}

const KNOWN_FIELDS: readonly string[] = [...COUNT_RULES, ...WITHIN_RULES, 'tags'];

/**
 * Checks an untrusted value (a job's stored policy, an IPC message) and returns
 * it as a RetentionPolicy holding only the rules it sets. Throws an Error whose
 * message names the offending field, e.g. `retention.daily: must be a whole
 * number >= 0`, `retention.within: "1x": invalid unit "x" ...`,
 * `retention.tags[1]: ...`, `retention.foo: unknown rule ...`. Durations are
 * kept as given (so restic's reason wording can be reproduced), after checking
 * they parse; tag lists must hold at least one string each.
 */
export function validatePolicy(p: unknown): RetentionPolicy {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new Error('retention: must be an object of rules (last, hourly, daily, weekly, monthly, yearly, within..., tags)');
  const src = p as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    if (!KNOWN_FIELDS.includes(k)) throw new Error(`retention.${k}: unknown rule (known: ${KNOWN_FIELDS.join(', ')})`);
  }
  const out: RetentionPolicy = {};
  for (const k of COUNT_RULES) {
    const v = src[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`retention.${k}: must be a whole number >= 0`);
    out[k] = v;
  }
  for (const k of WITHIN_RULES) {
    const v = src[k];
    if (v === undefined) continue;
    if (typeof v !== 'string') throw new Error(`retention.${k}: must be a duration like 1y2m3d4h (years, months, days, hours)`);
    parseDuration(v, `retention.${k}`);
    out[k] = v;
  }
  if (src.tags !== undefined) {
    if (!Array.isArray(src.tags)) throw new Error('retention.tags: must be a list of tag lists, e.g. [["daily"], ["keep", "important"]]');
    out.tags = src.tags.map((list: unknown, i) => {
      if (!Array.isArray(list) || list.length === 0) throw new Error(`retention.tags[${i}]: must be a non-empty list of tags`);
      return list.map((t: unknown, j) => {
        if (typeof t !== 'string') throw new Error(`retention.tags[${i}][${j}]: must be a string`);
        return t;
      });
    });
  }
  return out;
}

/** True when `p` sets no rule (restic's "no policy was specified"). Assumes `p` is valid. */
export function isPolicyEmpty(p: RetentionPolicy): boolean {
  if (p.tags && p.tags.length > 0) return false;
  if (COUNT_RULES.some((k) => (p[k] ?? 0) !== 0)) return false;
  return WITHIN_RULES.every((k) => p[k] === undefined || isZeroDuration(parseDuration(p[k], `retention.${k}`)));
}

/** One line describing a valid policy, like restic's "Applying Policy: ..." line (without that prefix). */
export function describePolicy(p: RetentionPolicy): string {
  const names: Record<CountRule, string> = { last: 'latest', hourly: 'hourly', daily: 'daily', weekly: 'weekly', monthly: 'monthly', yearly: 'yearly' };
  const counts = COUNT_RULES.filter((k) => (p[k] ?? 0) > 0).map((k) => `${p[k]} ${names[k]}`);
  const dur = (k: WithinRule) => durationText(parseDuration(p[k] ?? '', `retention.${k}`));
  const withins = WITHIN_RULES.slice(1)
    .filter((k) => dur(k) !== '')
    .map((k) => `${k.slice('within'.length).toLowerCase()} snapshots within ${dur(k)}`);
  let s = counts.length ? `${counts.join(', ')} snapshots` : '';
  if (withins.length) s += (s ? ', ' : '') + withins.join(', ');
  if (p.tags && p.tags.length) s += (s ? ' and ' : '') + `all snapshots with tags [${p.tags.map(tagListText).join(' ')}]`;
  if (dur('within')) s += (s ? ' and ' : '') + `all snapshots within ${dur('within')} of the newest`;
  return s ? `keep ${s}` : 'keep everything (no rule set)';
}

/** A tag list as restic prints it: `[a, b]`. */
function tagListText(l: readonly string[]): string {
  return `[${l.join(', ')}]`;
}

/** Splits a `--tag`/`--keep-tag` argument (`a,b`) into a tag list, trimming whitespace around each tag, as restic does. */
export function parseTagList(text: string): string[] {
  return text.split(',').map((t) => t.trim());
}

/**
 * True when a snapshot with `tags` carries every tag of `list` (restic's
 * HasTags). restic's quirk is kept: an empty tag `""` met while scanning the
 * list matches a snapshot without tags (so `[""]` selects untagged snapshots).
 */
export function hasTags(tags: readonly string[] | undefined, list: readonly string[]): boolean {
  const own = tags ?? [];
  for (const t of list) {
    if (t === '' && own.length === 0) return true;
    if (!own.includes(t)) return false;
  }
  return true;
}

/** True when `lists` is empty or the snapshot satisfies at least one of them (restic's HasTagList, used by --tag filters). */
export function hasTagList(tags: readonly string[] | undefined, lists: readonly (readonly string[])[]): boolean {
  return lists.length === 0 || lists.some((l) => hasTags(tags, l));
}

// ---------------------------------------------------------------- grouping

/** What snapshots may be grouped by (restic's --group-by). */
export type GroupByField = 'host' | 'paths' | 'tags';

/** restic's default grouping: host and paths. */
export const DEFAULT_GROUP_BY: readonly GroupByField[] = ['host', 'paths'];

/**
 * Parses a `--group-by` value like restic: comma-separated `host`/`hosts`,
 * `path`/`paths`, `tag`/`tags`; empty items are ignored, so `''` means one
 * group for everything. Throws naming `field` for anything else.
 */
export function parseGroupBy(text: string, field = 'group-by'): GroupByField[] {
  const out = new Set<GroupByField>();
  for (const item of text.split(',')) {
    if (item === 'host' || item === 'hosts') out.add('host');
    else if (item === 'path' || item === 'paths') out.add('paths');
    else if (item === 'tag' || item === 'tags') out.add('tags');
    else if (item !== '') throw new Error(`${field}: unknown grouping option ${JSON.stringify(item)} (use host, paths and/or tags, comma-separated)`);
  }
  return (['host', 'paths', 'tags'] as const).filter((f) => out.has(f));
}

// ---------------------------------------------------------------- applying

/** A snapshot as retention sees it. */
export interface RetentionInput {
  id: string;
  /** restic JSON time (RFC 3339, nanoseconds, offset or Z), or a Date (bucketed in the options' time zone). */
  time: Date | string;
  hostname?: string;
  paths: string[];
  tags?: string[];
}

/** restic's counters: how many snapshots each count rule may still keep, after this snapshot (zeros omitted). */
export type RetentionCounters = Partial<Record<CountRule, number>>;

/** The verdict on one snapshot. */
export interface RetentionDecision {
  id: string;
  keep: boolean;
  /**
   * Why it is kept, in restic's wording and order: `has tags [a, b]`,
   * `within 1y2m`, `last snapshot`, `hourly snapshot`, `daily snapshot`,
   * `weekly snapshot`, `monthly snapshot`, `yearly snapshot`,
   * `hourly within 2d` ... `yearly within 5y`, or `policy is empty`.
   * Empty for removed snapshots.
   */
  reasons: string[];
  /** For kept snapshots: the count rules' remaining budgets after this one (restic's `counters`). */
  counters?: RetentionCounters;
}

/** What a group shares: the fields it is grouped by (absent when not grouped by them). Paths and tags are sorted. */
export interface RetentionGroupKey {
  hostname?: string;
  paths?: string[];
  tags?: string[];
}

/** The outcome for one group. Lists are newest first. */
export interface RetentionGroup<T> {
  key: RetentionGroupKey;
  keep: T[];
  remove: T[];
  /** Snapshot ID -> reasons, for kept snapshots. */
  reasons: Map<string, string[]>;
  /** Every snapshot's decision, newest first. */
  decisions: RetentionDecision[];
}

/** Options of applyRetention. */
export interface RetentionOptions {
  /** Default `['host', 'paths']`; `[]` puts all snapshots in one group. */
  groupBy?: readonly GroupByField[];
  /** IANA zone for wall-clock buckets (default: the runtime's zone). See the module comment for offsets. */
  timeZone?: string;
  /** The present, for "the newest snapshot not in the future" (default: the current time). */
  now?: Date;
}

/**
 * Applies `policy` (validated first; throws naming the field) to `snapshots`,
 * grouped like `restic forget --group-by`. Returns one entry per group, sorted
 * by key (hostname, paths, tags), each with the snapshots to keep and to
 * remove (newest first), the reasons for each kept snapshot and every
 * snapshot's decision. Every input snapshot lands in exactly one group, in
 * either `keep` or `remove`. Throws if a snapshot time is malformed or the
 * time zone is unknown.
 */
export function applyRetention<T extends RetentionInput>(
  snapshots: T[],
  policy: RetentionPolicy,
  opts: RetentionOptions = {},
): { groups: RetentionGroup<T>[] } {
  const p = validatePolicy(policy);
  const zone = opts.timeZone ?? new Intl.DateTimeFormat().resolvedOptions().timeZone;
  zoneFormatter(zone);
  const groupBy = new Set(opts.groupBy ?? DEFAULT_GROUP_BY);
  const nowNs = BigInt((opts.now ?? new Date()).getTime()) * NS_PER_MS;

  const groups = new Map<string, { key: RetentionGroupKey; members: Timed<T>[] }>();
  for (const sn of snapshots) {
    const key: RetentionGroupKey = {};
    if (groupBy.has('host')) key.hostname = sn.hostname ?? '';
    if (groupBy.has('paths')) key.paths = [...sn.paths].sort(compareStrings);
    if (groupBy.has('tags')) key.tags = [...(sn.tags ?? [])].sort(compareStrings);
    const k = JSON.stringify(key);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { key, members: [] }));
    g.members.push({ sn, at: instantOf(sn, zone) });
  }

  const compiled = compilePolicy(p);
  return {
    groups: [...groups.values()].sort((a, b) => compareKeys(a.key, b.key)).map((g) => decideGroup(g.key, g.members, p, compiled, nowNs)),
  };
}

interface Timed<T> {
  sn: T;
  at: Instant;
}

interface CompiledPolicy {
  empty: boolean;
  within?: { d: RetentionDuration; text: string };
  withinBuckets: { bucket: Bucket; d: RetentionDuration; reason: string }[];
  counts: { bucket: Bucket | 'always'; count: number; reason: string; rule: CountRule }[];
}

type Bucket = 'hour' | 'day' | 'week' | 'month' | 'year';

function compilePolicy(p: RetentionPolicy): CompiledPolicy {
  const dur = (k: WithinRule) => {
    const d = parseDuration(p[k] ?? '', `retention.${k}`);
    return isZeroDuration(d) ? undefined : { d, text: durationText(d) };
  };
  const buckets: Record<CountRule, Bucket | 'always'> = { last: 'always', hourly: 'hour', daily: 'day', weekly: 'week', monthly: 'month', yearly: 'year' };
  const withinBuckets: CompiledPolicy['withinBuckets'] = [];
  for (const [k, bucket, name] of [
    ['withinHourly', 'hour', 'hourly'],
    ['withinDaily', 'day', 'daily'],
    ['withinWeekly', 'week', 'weekly'],
    ['withinMonthly', 'month', 'monthly'],
    ['withinYearly', 'year', 'yearly'],
  ] as const) {
    const w = dur(k);
    if (w) withinBuckets.push({ bucket, d: w.d, reason: `${name} within ${w.text}` });
  }
  const within = dur('within');
  return {
    empty: isPolicyEmpty(p),
    ...(within ? { within } : {}),
    withinBuckets,
    counts: COUNT_RULES.filter((k) => (p[k] ?? 0) > 0).map((k) => ({
      bucket: buckets[k],
      count: p[k]!,
      rule: k,
      reason: k === 'last' ? 'last snapshot' : `${k} snapshot`,
    })),
  };
}

function decideGroup<T extends RetentionInput>(key: RetentionGroupKey, members: Timed<T>[], p: RetentionPolicy, c: CompiledPolicy, nowNs: bigint): RetentionGroup<T> {
  // Newest first; Array.prototype.sort is stable, so equal times keep input order (restic: sort.Stable).
  const list = [...members].sort((a, b) => (a.at.ns > b.at.ns ? -1 : a.at.ns < b.at.ns ? 1 : 0));
  const out: RetentionGroup<T> = { key, keep: [], remove: [], reasons: new Map(), decisions: [] };
  if (c.empty) {
    for (const m of list) {
      out.keep.push(m.sn);
      out.reasons.set(m.sn.id, ['policy is empty']);
      out.decisions.push({ id: m.sn.id, keep: true, reasons: ['policy is empty'], counters: {} });
    }
    return out;
  }

  // The newest snapshot that is not in the future; Go's zero time (year 1, UTC) if there is none.
  let latest: Instant = { ns: GO_ZERO_TIME_NS, loc: UTC };
  for (const m of list) if (m.at.ns > latest.ns && m.at.ns < nowNs) latest = m.at;
  const cutoff = (d: RetentionDuration) => addDate(latest, -d.years, -d.months, -d.days) - BigInt(d.hours) * NS_PER_HOUR;
  const withinCutoff = c.within ? cutoff(c.within.d) : undefined;
  const counts = c.counts.map((b) => ({ ...b, left: b.count, last: undefined as number | undefined }));
  const withins = c.withinBuckets.map((b) => ({ ...b, cutoff: cutoff(b.d), last: undefined as number | undefined }));

  list.forEach((m, nr) => {
    const reasons: string[] = [];
    for (const l of p.tags ?? []) if (hasTags(m.sn.tags, l)) reasons.push(`has tags ${tagListText(l)}`);
    if (withinCutoff !== undefined && m.at.ns > withinCutoff) reasons.push(`within ${c.within!.text}`);
    const w = wallClock(m.at);
    for (const b of counts) {
      if (b.left <= 0) continue;
      const v = b.bucket === 'always' ? nr : bucketValue(w, b.bucket);
      if (v !== b.last) {
        b.last = v;
        b.left--;
        reasons.push(b.reason);
      }
    }
    for (const b of withins) {
      if (!(m.at.ns > b.cutoff)) continue;
      const v = bucketValue(w, b.bucket);
      if (v !== b.last) {
        b.last = v;
        reasons.push(b.reason);
      }
    }
    if (reasons.length > 0) {
      const counters: RetentionCounters = {};
      for (const b of counts) if (b.left !== 0) counters[b.rule] = b.left;
      out.keep.push(m.sn);
      out.reasons.set(m.sn.id, reasons);
      out.decisions.push({ id: m.sn.id, keep: true, reasons, counters });
    } else {
      out.remove.push(m.sn);
      out.decisions.push({ id: m.sn.id, keep: false, reasons: [] });
    }
  });
  return out;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareLists(a: readonly string[] = [], b: readonly string[] = []): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareStrings(a[i]!, b[i]!);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Orders groups by hostname, then paths, then tags. */
function compareKeys(a: RetentionGroupKey, b: RetentionGroupKey): number {
  return compareStrings(a.hostname ?? '', b.hostname ?? '') || compareLists(a.paths, b.paths) || compareLists(a.tags, b.tags);
}

// ---------------------------------------------------------------- time (Go semantics)

const NS_PER_MS = 1_000_000n;
const NS_PER_SEC = 1_000_000_000n;
const NS_PER_HOUR = 3_600n * NS_PER_SEC;
const NS_PER_DAY = 86_400n * NS_PER_SEC;
/** Go's zero time.Time, 0001-01-01T00:00:00Z, in ns since the Unix epoch. */
const GO_ZERO_TIME_NS = -62_135_596_800n * NS_PER_SEC;

/** Where wall-clock fields are read: an IANA zone, or a fixed offset in seconds east of UTC. */
type Location = { zone: string } | { fixed: number };
const UTC: Location = { fixed: 0 };

interface Instant {
  ns: bigint;
  loc: Location;
}

const OFFSET_SUFFIX = /(Z|([+-])(\d{2}):(\d{2}))$/;

/** The instant and Go location of a snapshot time (see the module comment). */
function instantOf(sn: RetentionInput, zone: string): Instant {
  const t = sn.time;
  if (t instanceof Date) {
    const ms = t.getTime();
    if (!Number.isFinite(ms)) throw new Error(`snapshot ${sn.id}: invalid time`);
    return { ns: BigInt(ms) * NS_PER_MS, loc: { zone } };
  }
  let ns: bigint;
  try {
    ns = parseGoTime(t);
  } catch (e) {
    throw new Error(`snapshot ${sn.id}: ${(e as Error).message}`);
  }
  const m = OFFSET_SUFFIX.exec(t)!;
  if (m[1] === 'Z') return { ns, loc: UTC };
  const offset = (m[2] === '-' ? -1 : 1) * (Number(m[3]) * 3600 + Number(m[4]) * 60);
  // Go's time.Parse: an offset the local zone has at that instant means the local zone.
  if (zoneOffsetSeconds(zone, ns) === offset) return { ns, loc: { zone } };
  return { ns, loc: { fixed: offset } };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneFormatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        era: 'short',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new Error(`timeZone: unknown time zone ${JSON.stringify(zone)} (use an IANA name like Europe/Berlin)`);
    }
    formatters.set(zone, f);
  }
  return f;
}

const MAX_DATE_MS = 8.64e15;

/** The UTC offset (seconds east) of `zone` at instant `ns`. */
function zoneOffsetSeconds(zone: string, ns: bigint): number {
  const ms = Math.min(MAX_DATE_MS, Math.max(-MAX_DATE_MS, Number(floorDiv(ns, NS_PER_MS))));
  const parts = zoneFormatter(zone).formatToParts(new Date(ms));
  const f: Record<string, string> = {};
  for (const part of parts) f[part.type] = part.value;
  let year = Number(f.year);
  if (f.era === 'BC' || f.era === 'B') year = 1 - year;
  const wallSec = daysFromCivil(year, Number(f.month), Number(f.day)) * 86400 + (Number(f.hour) % 24) * 3600 + Number(f.minute) * 60 + Number(f.second);
  return wallSec - Math.floor(ms / 1000);
}

function offsetSeconds(loc: Location, ns: bigint): number {
  return 'fixed' in loc ? loc.fixed : zoneOffsetSeconds(loc.zone, ns);
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  /** Days since 1970-01-01 of the wall date. */
  days: number;
  /** Seconds since the wall day's midnight. */
  secOfDay: number;
  nsec: number;
}

/** Wall-clock fields of an instant in its location. */
function wallClock(at: Instant): WallClock {
  const local = at.ns + BigInt(offsetSeconds(at.loc, at.ns)) * NS_PER_SEC;
  const dayCount = floorDiv(local, NS_PER_DAY);
  const rem = local - dayCount * NS_PER_DAY;
  const days = Number(dayCount);
  const secOfDay = Number(rem / NS_PER_SEC);
  const { year, month, day } = civilFromDays(days);
  return { year, month, day, hour: Math.floor(secOfDay / 3600), days, secOfDay, nsec: Number(rem % NS_PER_SEC) };
}

/** Go's Time.AddDate in the instant's location: wall-clock date arithmetic, normalised like time.Date. */
function addDate(at: Instant, years: number, months: number, days: number): bigint {
  const w = wallClock(at);
  const m0 = w.month - 1 + months;
  const year = w.year + years + Math.floor(m0 / 12);
  const month = (((m0 % 12) + 12) % 12) + 1;
  const dayNum = daysFromCivil(year, month, 1) + w.day + days - 1;
  let unix = dayNum * 86400 + w.secOfDay;
  // time.Date: guess the offset at the wall time read as UTC, then correct it once.
  const guess = offsetSeconds(at.loc, BigInt(unix) * NS_PER_SEC);
  if (guess !== 0) unix -= offsetSeconds(at.loc, BigInt(unix - guess) * NS_PER_SEC);
  return BigInt(unix) * NS_PER_SEC + BigInt(w.nsec);
}

/** The bucket number of a wall-clock time, as restic computes it (YYYYMMDDHH, YYYYMMDD, ISO YYYYWW, YYYYMM, YYYY). */
function bucketValue(w: WallClock, b: Bucket): number {
  switch (b) {
    case 'hour':
      return w.year * 1_000_000 + w.month * 10_000 + w.day * 100 + w.hour;
    case 'day':
      return w.year * 10_000 + w.month * 100 + w.day;
    case 'week': {
      const { year, week } = isoWeek(w.days);
      return year * 100 + week;
    }
    case 'month':
      return w.year * 100 + w.month;
    case 'year':
      return w.year;
  }
}

/** ISO 8601 week-numbering year and week of the day `days` (since 1970-01-01): the week of its Thursday. */
function isoWeek(days: number): { year: number; week: number } {
  const weekday = (((days + 3) % 7) + 7) % 7; // 0 = Monday (1970-01-01 was a Thursday)
  const thursday = days - weekday + 3;
  const year = civilFromDays(thursday).year;
  return { year, week: Math.floor((thursday - daysFromCivil(year, 1, 1)) / 7) + 1 };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}
