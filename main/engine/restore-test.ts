import { createHash, randomInt } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { withRates, type OperationProgress } from '../../shared/progress.js';
import { parseGoTime } from '../../shared/repo/gotime.js';
import type { Snapshot, TreeNode } from '../../shared/repo/types.js';
import { chooseSample, type RestoreTestProblem, type RestoreTestRecord, type RestoreTestScope } from '../../shared/restore-test.js';
import { formatBytes } from '../../shared/format.js';
import { CIPHERTEXT_OVERHEAD } from '../../workers/crypto/crypto.js';
import { OperationCancelledError } from './errors.js';
import { PROGRAM_VERSION, type Repository } from './repository.js';
import { restore } from './restore.js';
import { walkTree } from './snapshot-walk.js';
import { fsPath } from '../../workers/engine/fs-path.js';

/** Where the live source of a snapshot's files is, for the comparison with the source. */
export type SourceLocation =
  /** Where the snapshot says its paths were backed up from, on this machine (a job's own sources). */
  | { kind: 'same-paths' }
  /** The snapshot's single backed-up path now lives at `livePath`. */
  | { kind: 'moved'; livePath: string }
  /** Do not compare with any live source. */
  | { kind: 'none' };

export interface RestoreTestOptions {
  scope: RestoreTestScope;
  /** Seed of the random sample; default: a fresh random one (it is recorded either way). */
  seed?: number;
  /** Folder in which the sandbox folder is made; default: the system's temporary folder. */
  sandboxParent?: string;
  /** Keep the sandbox (with the restored files) afterwards. */
  keepSandbox?: boolean;
  /** Where to find the live source; default `same-paths`. */
  source?: SourceLocation;
  targetRtoMinutes?: number | null;
  workers?: number;
  onProgress?: (p: OperationProgress) => void;
  signal?: AbortSignal;
  now?: () => Date;
}

/** The outcome of a test: the evidence record less what the caller knows (job, run, trigger, repository location, sign-off). */
export type RestoreTestOutcome = Omit<RestoreTestRecord, 'id' | 'jobId' | 'jobName' | 'runId' | 'trigger' | 'repositoryLocation' | 'operator' | 'note' | 'signedOffAt'>;

/** Free space kept in reserve beyond the planned bytes (folders, metadata, the file system's own needs). */
const FREE_SPACE_MARGIN = 16 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

interface PlannedFile {
  path: string;
  node: TreeNode;
}

/** Thrown before anything is restored when the sandbox's file system has too little free space. */
export class SandboxSpaceError extends Error {
  constructor(readonly sandbox: string, readonly free: number, readonly needed: number) {
    super(`sandbox: ${sandbox} has ${formatBytes(free)} free; the test needs ${formatBytes(needed)}`);
    this.name = 'SandboxSpaceError';
  }
}

/**
 * Tests that a snapshot can really be restored, and leaves the evidence.
 *
 * 1. Chooses what to restore: a seeded, stratified random sample (N files or
 *    P% of the bytes; `chooseSample`), chosen paths, or the whole snapshot.
 * 2. Checks that the sandbox's file system has room, then makes a fresh
 *    sandbox folder in `sandboxParent` (never restores into an existing one).
 * 3. Restores with the ordinary restore engine (which already refuses blobs
 *    whose MAC or hash is wrong; those files are listed as not restored, with why).
 * 4. Reads every restored file back and checks each byte range against the
 *    content hash (blob ID = SHA-256 of the plaintext) the snapshot lists for
 *    it, and its length: a mismatch names the file and the offset.
 * 5. For each file whose live source still has the snapshot's size and mtime
 *    (to the microsecond), compares the restored bytes with the source too:
 *    same size and time but different bytes is silent corruption somewhere.
 * 6. Removes the sandbox unless asked to keep it.
 *
 * Passes when every planned file was restored and verified with no mismatch
 * (and, for a full test with a target RTO, the measured time met it; for a
 * sample the full-restore time is an estimate and is reported, not judged).
 * Throws only when the test could not be carried out (bad scope, no space,
 * cancelled); a damaged repository is a failed test, not an exception.
 */
export async function restoreTest(repo: Repository, snapshot: Snapshot, opts: RestoreTestOptions): Promise<RestoreTestOutcome> {
  const now = opts.now ?? (() => new Date());
  const started = now();
  const startedMs = Date.now();
  const seed = opts.seed ?? randomInt(0, 2 ** 31);
  const progress: Omit<OperationProgress, 'throughput' | 'etaMs' | 'elapsedMs'> = {
    operation: 'restore-test', phase: 'scanning', filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesDone: 0, bytesAdded: 0, bytesStored: 0, errors: 0,
  };
  let lastEmit = 0;
  const emit = (force = false) => {
    const t = Date.now();
    if (!opts.onProgress || (!force && t - lastEmit < 200)) return;
    lastEmit = t;
    opts.onProgress(withRates({ ...progress, elapsedMs: t - startedMs }));
  };
  const cancelled = () => {
    if (opts.signal?.aborted) throw new OperationCancelledError('restore test');
  };

  // 1. The snapshot's files and the plan.
  await repo.loadIndex();
  const files: PlannedFile[] = [];
  const existing = new Set<string>();
  for await (const { path: p, node } of walkTree(repo, snapshot.tree)) {
    cancelled();
    existing.add(p);
    if (node.type === 'file') files.push({ path: p, node });
  }
  const totalBytes = files.reduce((n, f) => n + (f.node.size ?? 0), 0);
  const sourceRoots = liveRoots(snapshot, existing, opts.source ?? { kind: 'same-paths' });
  let planned: PlannedFile[];
  let include: string[];
  const scope = opts.scope;
  if (scope.kind === 'full') {
    planned = files;
    include = [];
  } else if (scope.kind === 'paths') {
    scope.paths.forEach((p, i) => {
      const clean = p.length > 1 ? p.replace(/\/+$/, '') : p;
      if (!existing.has(clean)) throw new RestoreTestScopeError(`scope.paths[${i}]`, `${JSON.stringify(p)} is not in snapshot ${snapshot.id.slice(0, 8)}`);
    });
    const roots = scope.paths.map((p) => p.replace(/\/+$/, ''));
    planned = files.filter((f) => roots.some((r) => f.path === r || f.path.startsWith(`${r}/`)));
    include = roots;
  } else {
    const chosen = new Set(chooseSample(files.map((f) => ({ path: f.path, size: f.node.size ?? 0 })), scope, seed).paths);
    planned = files.filter((f) => chosen.has(f.path));
    include = planned.map((f) => f.path);
  }
  const bytesPlanned = planned.reduce((n, f) => n + (f.node.size ?? 0), 0);

  // 2. Room for it, then a fresh sandbox.
  const parent = path.resolve(opts.sandboxParent ?? os.tmpdir());
  await fsp.mkdir(parent, { recursive: true });
  const fsStats = await fsp.statfs(parent);
  const free = fsStats.bavail * fsStats.bsize;
  if (free < bytesPlanned + FREE_SPACE_MARGIN) throw new SandboxSpaceError(parent, free, bytesPlanned + FREE_SPACE_MARGIN);
  const sandbox = await fsp.mkdtemp(path.join(parent, 'lifeboat-restore-test-'));

  const mismatches: RestoreTestProblem[] = [];
  const notRestored: RestoreTestProblem[] = [];
  const failures: string[] = [];
  let filesVerified = 0;
  let filesComparedWithSource = 0;
  let bytesRestored = 0;
  let restoreMs = 0;
  try {
    progress.filesTotal = planned.length;
    progress.bytesTotal = bytesPlanned * 2; // restored, then read back
    progress.phase = 'writing';
    emit(true);

    // 3. Restore.
    const failedPaths = new Map<string, string>();
    const restoreStart = Date.now();
    if (planned.length > 0) {
      try {
        const res = await restore(repo, snapshot, {
          target: sandbox,
          include,
          ...(opts.workers ? { workers: opts.workers } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
          onProgress: (p) => {
            progress.bytesDone = p.bytesDone;
            progress.filesDone = p.filesDone;
            progress.errors = p.errors;
            emit();
          },
        });
        for (const e of res.errors) {
          const snapshotPath = e.path.startsWith(sandbox) ? e.path.slice(sandbox.length) || '/' : e.path;
          const prior = failedPaths.get(snapshotPath);
          failedPaths.set(snapshotPath, prior ? `${prior}; ${e.message}` : e.message);
        }
      } catch (e) {
        if (e instanceof OperationCancelledError || opts.signal?.aborted) throw e;
        failures.push(`the restore stopped: ${(e as Error).message}`);
      }
    }
    restoreMs = Date.now() - restoreStart;
    cancelled();

    // 4 and 5. Read back, verify, compare with the source.
    progress.phase = 'verifying';
    progress.filesDone = 0;
    progress.bytesDone = bytesPlanned;
    emit(true);
    for (const f of planned) {
      cancelled();
      const why = failedPaths.get(f.path);
      if (why !== undefined) {
        notRestored.push({ path: f.path, reason: why });
        continue;
      }
      const restored = path.join(sandbox, ...f.path.split('/').filter(Boolean));
      const v = await verifyFile(repo, restored, f.node, (n) => {
        progress.bytesDone += n;
        emit();
      });
      progress.filesDone++;
      if (v.kind === 'missing') {
        notRestored.push({ path: f.path, reason: v.reason });
        continue;
      }
      bytesRestored += v.size;
      if (v.kind === 'mismatch') {
        mismatches.push({ path: f.path, reason: v.reason });
        continue;
      }
      filesVerified++;
      const live = livePath(f.path, sourceRoots);
      if (live === null) continue;
      const c = await compareWithSource(live, f.node, v.sha256);
      if (c === 'not-comparable') continue;
      filesComparedWithSource++;
      if (c === 'differs') mismatches.push({ path: f.path, reason: `differs from the live source ${live} although its size and modification time match the snapshot` });
    }
    progress.phase = 'done';
    progress.bytesDone = progress.bytesTotal;
    emit(true);
  } finally {
    if (!opts.keepSandbox) await fsp.rm(sandbox, { recursive: true, force: true });
  }

  const ended = now();
  const durationMs = Math.max(0, ended.getTime() - started.getTime());
  const estimatedFullRestoreMs = scope.kind === 'full' || bytesRestored === 0 || totalBytes <= bytesRestored ? restoreMs : Math.round((restoreMs * totalBytes) / bytesRestored);
  const target = opts.targetRtoMinutes ?? null;
  const rtoMet = target === null ? null : estimatedFullRestoreMs <= target * 60_000;
  if (planned.length === 0) failures.push(scope.kind === 'paths' ? 'the chosen paths hold no files to verify' : 'the snapshot holds no files to verify');
  if (mismatches.length > 0) failures.push(`${mismatches.length} file${mismatches.length === 1 ? '' : 's'} did not match (first: ${mismatches[0]!.path})`);
  if (notRestored.length > 0) failures.push(`${notRestored.length} file${notRestored.length === 1 ? ' was' : 's were'} not restored (first: ${notRestored[0]!.path})`);
  if (scope.kind === 'full' && rtoMet === false) failures.push(`the full restore took ${Math.ceil(estimatedFullRestoreMs / 60_000)} min, over the target RTO of ${target} min`);
  return {
    repositoryId: repo.config.id,
    snapshotId: snapshot.id,
    snapshotTime: new Date(Number(parseGoTime(snapshot.time) / 1_000_000n)).toISOString(),
    scope,
    seed,
    sample: scope.kind === 'sample' || scope.kind === 'percent' ? include : scope.kind === 'paths' ? scope.paths : ['/'],
    filesPlanned: planned.length,
    bytesPlanned,
    filesRestored: planned.length - notRestored.length,
    bytesRestored,
    filesVerified,
    filesComparedWithSource,
    mismatches,
    notRestored,
    startedAt: started.toISOString(),
    endedAt: ended.toISOString(),
    durationMs,
    estimatedFullRestoreMs,
    targetRtoMinutes: target,
    rtoMet,
    passed: failures.length === 0,
    failures,
    appVersion: PROGRAM_VERSION,
    sandboxPath: sandbox,
    sandboxKept: opts.keepSandbox ?? false,
  };
}

/** A scope that does not fit the snapshot; `field` names the setting. */
export class RestoreTestScopeError extends Error {
  constructor(readonly field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.name = 'RestoreTestScopeError';
  }
}

type Verified = { kind: 'ok'; size: number; sha256: string } | { kind: 'mismatch'; size: number; reason: string } | { kind: 'missing'; reason: string };

/**
 * Reads a restored file and checks it blob by blob against the snapshot's
 * content list (each range's SHA-256 must be its blob ID) and its length.
 */
async function verifyFile(repo: Repository, file: string, node: TreeNode, onBytes: (n: number) => void): Promise<Verified> {
  let fh: fsp.FileHandle;
  try {
    const st = await fsp.lstat(fsPath(file));
    if (!st.isFile()) return { kind: 'missing', reason: 'the restore left no regular file in its place' };
    fh = await fsp.open(fsPath(file), 'r');
  } catch (e) {
    return { kind: 'missing', reason: `missing from the sandbox after the restore (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  const whole = createHash('sha256');
  const buf = Buffer.allocUnsafe(READ_CHUNK);
  let offset = 0;
  let problem: string | undefined;
  try {
    for (const id of node.content ?? []) {
      const loc = repo.index.get('data', id);
      if (!loc) {
        problem = `data blob ${id.slice(0, 12)} is missing from the repository's index`;
        break;
      }
      const length = loc.uncompressed_length ?? loc.length - CIPHERTEXT_OVERHEAD;
      const blob = createHash('sha256');
      let left = length;
      while (left > 0) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(READ_CHUNK, left), offset + (length - left));
        if (bytesRead === 0) break;
        const part = buf.subarray(0, bytesRead);
        blob.update(part);
        whole.update(part);
        left -= bytesRead;
        onBytes(bytesRead);
      }
      if (left > 0) {
        problem = `the restored file ends at byte ${offset + length - left}; the snapshot has ${node.size ?? '?'} bytes`;
        break;
      }
      if (blob.digest('hex') !== id) {
        problem = `restored bytes ${offset}..${offset + length - 1} do not match the snapshot's content hash (blob ${id.slice(0, 12)})`;
        break;
      }
      offset += length;
    }
    const size = (await fh.stat()).size;
    if (problem === undefined && size !== offset) problem = `the restored file has ${size} bytes; the snapshot's content has ${offset}`;
    if (problem === undefined && node.size !== undefined && node.size !== offset) problem = `the snapshot lists ${node.size} bytes but its content has ${offset}`;
    return problem === undefined ? { kind: 'ok', size, sha256: whole.digest('hex') } : { kind: 'mismatch', size, reason: problem };
  } finally {
    await fh.close();
  }
}

/**
 * Pairs each backed-up path's folder in the snapshot tree with where it lives
 * now. The tree holds a backed-up path either whole (our backups, restic with
 * an absolute path) or by its last name only (restic given a relative path).
 */
function liveRoots(snapshot: Snapshot, inTree: ReadonlySet<string>, source: SourceLocation): { treeRoot: string; live: string }[] {
  if (source.kind === 'none') return [];
  if (source.kind === 'moved' && snapshot.paths.length !== 1) {
    throw new RestoreTestScopeError('source', `snapshot ${snapshot.id.slice(0, 8)} has ${snapshot.paths.length} backed-up paths; a source folder can stand for exactly one`);
  }
  const roots: { treeRoot: string; live: string }[] = [];
  for (const p of snapshot.paths) {
    const whole = p.replace(/\/+$/, '') || '/';
    const short = `/${path.posix.basename(whole)}`;
    const treeRoot = inTree.has(whole) ? whole : inTree.has(short) ? short : null;
    if (treeRoot !== null) roots.push({ treeRoot, live: source.kind === 'moved' ? source.livePath : whole });
  }
  return roots;
}

/** Where the live copy of snapshot path `p` is, or null when it is not to be compared. */
function livePath(p: string, roots: readonly { treeRoot: string; live: string }[]): string | null {
  for (const r of roots) {
    if (p === r.treeRoot || p.startsWith(`${r.treeRoot}/`)) return path.join(r.live, p.slice(r.treeRoot.length));
  }
  return null;
}

/**
 * Compares a live file with the restored content (by SHA-256) when its size
 * and mtime (to the microsecond) still match the snapshot; a changed file
 * is not comparable (it was legitimately edited since).
 */
async function compareWithSource(live: string, node: TreeNode, restoredSha256: string): Promise<'same' | 'differs' | 'not-comparable'> {
  let st;
  try {
    st = await fsp.lstat(fsPath(live), { bigint: true });
  } catch {
    return 'not-comparable';
  }
  if (!st.isFile() || Number(st.size) !== (node.size ?? 0) || st.mtimeNs / 1000n !== node.mtime / 1000n) return 'not-comparable';
  const h = createHash('sha256');
  const fh = await fsp.open(fsPath(live), 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex') === restoredSha256 ? 'same' : 'differs';
}
