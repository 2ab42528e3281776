/**
 * `forget`: removes the snapshots a retention policy does not keep, deciding
 * exactly as `restic forget` does (shared/retention.ts). Only snapshot files
 * are removed; the data they referenced stays until `prune`.
 */
import {
  applyRetention,
  describePolicy,
  hasTagList,
  isPolicyEmpty,
  validatePolicy,
  type GroupByField,
  type RetentionCounters,
  type RetentionGroup,
  type RetentionPolicy,
} from '../../shared/retention.js';
import type { Id, Snapshot, SnapshotJSON } from '../../shared/repo/types.js';
import { RepositoryLock } from './lock.js';
import { mapLimit, type Repository } from './repository.js';

/** Options of `forget`. Filters select the snapshots the policy is applied to; the others are untouched. */
export interface ForgetOptions {
  /** Decide and report, change nothing (no lock is taken). */
  dryRun?: boolean;
  /** Grouping like restic's --group-by (default host and paths; [] for one group). */
  groupBy?: readonly GroupByField[];
  /** Only snapshots of one of these hosts (restic --host, repeatable). */
  host?: string | string[];
  /** Only snapshots carrying all tags of at least one of these lists (restic --tag a,b, repeatable). */
  tags?: string[][];
  /** Only snapshots that include every one of these paths (restic --path, repeatable). */
  paths?: string[];
  /** IANA zone for the wall-clock buckets (default: the runtime's zone). */
  timeZone?: string;
  /**
   * Allow a policy to remove every snapshot of a group (possible only with
   * keep-tag alone). By default forget refuses, as restic 0.17+ does; restic
   * 0.14 removes them.
   */
  allowRemoveAll?: boolean;
  /** How long to wait for other processes' locks (ms). Default: fail at once. */
  lockWaitMs?: number;
  /** The present (default now); snapshots after it are ignored when finding the newest for keep-within. */
  now?: Date;
}

/** What forget decided and did. */
export interface ForgetResult {
  /** The validated policy. */
  policy: RetentionPolicy;
  /** One line describing the policy (restic's "Applying Policy" line). */
  policyText: string;
  dryRun: boolean;
  /** Per group: kept and removed snapshots (newest first), reasons, decisions. */
  groups: RetentionGroup<Snapshot>[];
  /** Snapshot IDs removed (in a dry run: that would be removed), oldest first. */
  removed: Id[];
  /** Snapshot files that could not be removed. */
  failed: { id: Id; message: string }[];
  /** Snapshot files that could not be read (they were neither kept nor removed). */
  warnings: string[];
}

/**
 * Applies `policy` to the repository's snapshots (filtered by host, tags and
 * paths, then grouped) and, unless `dryRun`, removes the snapshot files of the
 * snapshots it does not keep, holding the repository's exclusive lock from
 * listing to the last removal. Throws before changing anything when the
 * policy is invalid (error names the field), sets no rule ("no policy was
 * specified"), or would remove every snapshot of a group without
 * `allowRemoveAll`. Removal failures do not stop the others; they are
 * returned in `failed`. Never removes data packs (that is `prune`).
 */
export async function forget(repo: Repository, policy: RetentionPolicy, opts: ForgetOptions = {}): Promise<ForgetResult> {
  const p = validatePolicy(policy);
  if (isPolicyEmpty(p)) throw new Error('retention: no policy was specified, no snapshots will be removed (give at least one keep rule)');
  const dryRun = Boolean(opts.dryRun);
  const lock = dryRun ? undefined : await RepositoryLock.acquire(repo, { exclusive: true, ...(opts.lockWaitMs !== undefined ? { waitMs: opts.lockWaitMs } : {}) });
  try {
    const warnings: string[] = [];
    const all = await repo.listSnapshots((id, e) => warnings.push(`snapshot ${id}: cannot be read: ${e.message}`));
    const hosts = opts.host === undefined ? [] : Array.isArray(opts.host) ? opts.host : [opts.host];
    const selected = all.filter(
      (s) =>
        (hosts.length === 0 || hosts.includes(s.hostname ?? '')) &&
        hasTagList(s.tags, opts.tags ?? []) &&
        (opts.paths ?? []).every((path) => s.paths.includes(path)),
    );
    const { groups } = applyRetention(selected, p, {
      ...(opts.groupBy ? { groupBy: opts.groupBy } : {}),
      ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    if (!opts.allowRemoveAll) {
      const emptied = groups.find((g) => g.keep.length === 0);
      if (emptied) throw new Error(`refusing to delete the last snapshot of snapshot group ${groupLabel(emptied.key)}; the policy keeps none of its ${emptied.remove.length} snapshots`);
    }
    const removeSet = new Set(groups.flatMap((g) => g.remove.map((s) => s.id)));
    const removed = all.filter((s) => removeSet.has(s.id)).map((s) => s.id);
    const failed: ForgetResult['failed'] = [];
    if (!dryRun) {
      await mapLimit(removed, Math.max(1, repo.target.connections), async (id) => {
        try {
          await repo.target.remove({ type: 'snapshots', name: id });
        } catch (e) {
          failed.push({ id, message: (e as Error).message });
        }
      });
    }
    return {
      policy: p,
      policyText: describePolicy(p),
      dryRun,
      groups,
      removed: removed.filter((id) => !failed.some((f) => f.id === id)),
      failed,
      warnings,
    };
  } finally {
    await lock?.release();
  }
}

/** A group's key as restic names it: `host [h], paths [/a /b], tags [x]` (only the grouped fields). */
export function groupLabel(key: RetentionGroup<unknown>['key']): string {
  const parts: string[] = [];
  if (key.hostname !== undefined) parts.push(`host [${key.hostname}]`);
  if (key.paths !== undefined) parts.push(`paths [${key.paths.join(' ')}]`);
  if (key.tags !== undefined) parts.push(`tags [${key.tags.join(' ')}]`);
  return parts.length ? parts.join(', ') : '(all snapshots)';
}

/** A snapshot in restic's JSON output: the stored fields plus `id` and `short_id`. */
export type ResticJSONSnapshot = SnapshotJSON & { id: Id; short_id: string };

/** One element of `restic forget --json`'s array. Empty lists are null, as restic prints them. */
export interface ResticForgetGroup {
  tags: string[] | null;
  host: string;
  paths: string[] | null;
  keep: ResticJSONSnapshot[] | null;
  remove: ResticJSONSnapshot[] | null;
  /** Per kept snapshot (restic 0.14 prints the snapshot without its ID). */
  reasons: { snapshot: SnapshotJSON; matches: string[]; counters: RetentionCounters }[] | null;
}

/** Converts forget's groups to the structure `restic forget --json` prints, so the two can be compared. */
export function resticForgetJSON(groups: RetentionGroup<Snapshot>[]): ResticForgetGroup[] {
  const withId = (s: Snapshot): ResticJSONSnapshot => ({ ...s, short_id: s.id.slice(0, 8) });
  const withoutId = (s: Snapshot): SnapshotJSON => {
    const { id: _id, ...rest } = s;
    return rest;
  };
  const orNull = <T>(a: T[]): T[] | null => (a.length ? a : null);
  return groups.map((g) => {
    const byId = new Map(g.keep.map((s) => [s.id, s]));
    return {
      tags: g.key.tags && g.key.tags.length ? g.key.tags : null,
      host: g.key.hostname ?? '',
      paths: g.key.paths ?? null,
      keep: orNull(g.keep.map(withId)),
      remove: orNull(g.remove.map(withId)),
      reasons: orNull(
        g.decisions.filter((d) => d.keep).map((d) => ({ snapshot: withoutId(byId.get(d.id)!), matches: d.reasons, counters: d.counters ?? {} })),
      ),
    };
  });
}
