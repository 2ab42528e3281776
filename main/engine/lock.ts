import os from 'node:os';
import { formatGoTime, parseGoTime } from '../../shared/repo/gotime.js';
import type { Id, LockJSON } from '../../shared/repo/types.js';
import { OperationCancelledError, RepositoryLockedError } from './errors.js';
import type { Repository } from './repository.js';
import { isNotFound } from './targets/target.js';

/** A lock not refreshed for this long is stale (restic's rule). */
export const STALE_LOCK_MS = 30 * 60 * 1000;
/** How often a held lock is refreshed. */
export const LOCK_REFRESH_MS = 5 * 60 * 1000;

/** A lock found in a repository, with the evidence for calling it stale or not. */
export interface LockInfo {
  id: Id;
  lock: LockJSON;
  stale: boolean;
  /** Why it is or is not stale, in words an admin can check. */
  reason: string;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Decides whether a lock is stale: older than 30 minutes, or held by a dead process on this host. */
export function judgeLock(lock: LockJSON, now = Date.now(), hostname = os.hostname(), alive = processAlive): { stale: boolean; reason: string } {
  const ageMs = now - Number(parseGoTime(lock.time) / 1_000_000n);
  const ageMin = Math.round(ageMs / 60000);
  if (ageMs > STALE_LOCK_MS) return { stale: true, reason: `not refreshed for ${ageMin} minutes (stale after 30)` };
  if (lock.hostname === hostname) {
    if (!alive(lock.pid)) return { stale: true, reason: `process ${lock.pid} on this host (${hostname}) is gone` };
    return { stale: false, reason: `process ${lock.pid} on this host is running` };
  }
  return { stale: false, reason: `held by ${lock.username}@${lock.hostname} (pid ${lock.pid}), refreshed ${ageMin} minutes ago` };
}

/** Lists every lock in the repository with its staleness verdict. Unreadable lock files are skipped. */
export async function listLocks(repo: Repository): Promise<LockInfo[]> {
  const files = await repo.target.list('locks');
  const out: LockInfo[] = [];
  for (const f of files) {
    try {
      const lock = await repo.loadJSON<LockJSON>('locks', f.name);
      out.push({ id: f.name, lock, ...judgeLock(lock) });
    } catch (e) {
      if (!isNotFound(e)) out.push({ id: f.name, lock: { time: formatGoTime(0n), exclusive: false, hostname: '?', username: '?', pid: 0, uid: 0, gid: 0 }, stale: true, reason: `unreadable: ${(e as Error).message}` });
    }
  }
  return out;
}

/** Removes stale locks (or all locks with `all`); returns what was removed. */
export async function removeLocks(repo: Repository, all = false): Promise<LockInfo[]> {
  const removed: LockInfo[] = [];
  for (const l of await listLocks(repo)) {
    if (!all && !l.stale) continue;
    await repo.target.remove({ type: 'locks', name: l.id }).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
    removed.push(l);
  }
  return removed;
}

function describe(l: LockInfo): string {
  const kind = l.lock.exclusive ? 'exclusively' : 'for backup (shared)';
  return `repository is locked ${kind} by ${l.lock.username}@${l.lock.hostname} pid ${l.lock.pid} since ${l.lock.time} (lock ${l.id.slice(0, 8)}; ${l.reason})`;
}

/**
 * A repository lock held by this process: shared for backups and restores,
 * exclusive for maintenance (prune). Refreshed every 5 minutes while held;
 * `release` removes it.
 */
export class RepositoryLock {
  private timer: NodeJS.Timeout | undefined;

  private constructor(private readonly repo: Repository, private id: Id, readonly exclusive: boolean) {}

  /**
   * Takes a lock. Conflicting locks that are not stale make it fail with
   * RepositoryLockedError, or, with `waitMs`, retry until that time has passed.
   */
  static async acquire(repo: Repository, opts: { exclusive: boolean; waitMs?: number; pollMs?: number; signal?: AbortSignal }): Promise<RepositoryLock> {
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (;;) {
      if (opts.signal?.aborted) throw new OperationCancelledError('waiting for the repository lock');
      const conflict = await findConflict(repo, opts.exclusive);
      if (!conflict) {
        const id = await repo.saveJSON('locks', lockJSON(opts.exclusive));
        // Another process may have locked at the same moment: look again.
        const after = await findConflict(repo, opts.exclusive, id);
        if (!after) {
          const lock = new RepositoryLock(repo, id, opts.exclusive);
          lock.timer = setInterval(() => void lock.refresh().catch(() => {}), LOCK_REFRESH_MS);
          lock.timer.unref();
          return lock;
        }
        await repo.target.remove({ type: 'locks', name: id }).catch(() => {});
        if (Date.now() >= deadline) throw new RepositoryLockedError(describe(after));
      } else if (Date.now() >= deadline) {
        throw new RepositoryLockedError(describe(conflict));
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, opts.pollMs ?? 2000);
        opts.signal?.addEventListener('abort', () => {
          clearTimeout(t);
          r();
        }, { once: true });
      });
    }
  }

  /** Replaces the lock file with a fresh timestamp. */
  async refresh(): Promise<void> {
    const old = this.id;
    this.id = await this.repo.saveJSON('locks', lockJSON(this.exclusive));
    await this.repo.target.remove({ type: 'locks', name: old }).catch(() => {});
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.repo.target.remove({ type: 'locks', name: this.id }).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }
}

function lockJSON(exclusive: boolean): string {
  const u = os.userInfo();
  const lock: LockJSON = {
    time: formatGoTime(BigInt(Date.now()) * 1_000_000n),
    exclusive,
    hostname: os.hostname(),
    username: u.username,
    pid: process.pid,
    uid: u.uid,
    gid: u.gid,
  };
  return JSON.stringify(lock);
}

async function findConflict(repo: Repository, exclusive: boolean, ownId?: Id): Promise<LockInfo | undefined> {
  for (const l of await listLocks(repo)) {
    if (l.id === ownId || l.stale) continue;
    if (exclusive || l.lock.exclusive) return l;
  }
  return undefined;
}
