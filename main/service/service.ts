import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import type {
  AppStatus, ConnectionTest, ConnectionTestInput, EvidenceExport, JobsExport, JobStatus, LifeboatApi, LifeboatEvents, RepositoryInfo, RestoreRequest, RestoreSummary, RestoreTestFilter, RestoreTestRequest,
  RetentionPreview, RunFilter,
} from '../../shared/api.js';
import {
  evidenceCsv, evidenceGrid, evidenceHtml, restoreTestAlert, restoreTestDue, scopeText, validateRestoreTestScope, type RestoreTestDue, type RestoreTestRecord, type RestoreTestScope,
} from '../../shared/restore-test.js';
import { countRestoreTestsDue, PAUSE_DURATIONS, pauseEnd, runNotification, trayState, type PauseDuration, type QuitReadiness } from '../../shared/app-state.js';
import { buildSnapshotIndex, diffIndexes, listChildren, searchIndex, type IndexedNode, type SnapshotDiff, type SnapshotEntry, type SnapshotIndex } from '../../shared/snapshot-index.js';
import { nanosToMillis } from '../../shared/repo/gotime.js';
import {
  NOTIFICATION_CHANNELS, SETTINGS_DEFAULTS, validateSettingsPatch, type AppSettings, type DeliveryResult, type NotificationChannelName, type NotificationSettings, type SecretUpdate,
  type SettingsView,
} from '../../shared/settings.js';
import { rpoBreachEvent, rpoBreached, rpoWatch, runFinishedEvent, type NotificationEvent } from '../../shared/notifications.js';
import { validatePolicy } from '../../shared/retention.js';
import { previewRetention, simulateSnapshots } from '../../shared/retention-preview.js';
import { applyJobPatch, validateJobConfig, type Job, type JobConfig, type RunKind, type RunRecord } from '../../shared/jobs.js';
import type { OperationProgress } from '../../shared/progress.js';
import type { Snapshot } from '../../shared/repo/types.js';
import { nextElapses, normalizeCalendar, parseCalendar } from '../../shared/schedule/calendar.js';
import { next, type ScheduleDecision } from '../../shared/schedule/next-run.js';
import { staggerAdvice } from '../../shared/schedule/stagger.js';
import { validateCredentials, type CredentialField, type RepositoryCredentials } from '../../shared/credentials.js';
import { requireBoolean, requireInt, requireObject, requireOneOf, requireString, ValidationError } from '../../shared/validation.js';
import { backup } from '../engine/backup.js';
import { check } from '../engine/check.js';
import { OperationCancelledError } from '../engine/errors.js';
import { walkTree } from '../engine/snapshot-walk.js';
import { forget } from '../engine/forget.js';
import { prune } from '../engine/prune.js';
import { PROGRAM_VERSION, Repository } from '../engine/repository.js';
import { restoreTest, type SourceLocation } from '../engine/restore-test.js';
import { restore } from '../engine/restore.js';
import { openTarget, type OpenTargetOptions } from '../engine/targets/open-target.js';
import { RetryingTarget } from '../engine/targets/retry.js';
import type { StorageTarget } from '../engine/targets/target.js';
import { openTransferTarget, type TransferTargetOptions } from '../engine/targets/transfer-target.js';
import type { BandwidthSetting } from '../../shared/bandwidth.js';
import { BandwidthController } from './bandwidth.js';
import type { LifeboatDatabase } from '../store/database.js';
import { runShellCommand } from './commands.js';
import { testConnection, withCredentials } from './connection-test.js';
import { RepositoryGate } from './repository-gate.js';
import { RunQueue } from './run-queue.js';
import { DefaultSecretResolver, validateSecretRef, type SecretResolver } from './secrets.js';
import type { SecretStore } from './secret-stores.js';
import type { NotificationChannel } from '../notify/channel.js';
import { EmailChannel } from '../notify/email.js';
import { Notifier, type RetryPolicy } from '../notify/notifier.js';
import { WebhookChannel } from '../notify/webhook.js';
import { UserKeyCache } from '../../workers/crypto/crypto.js';

export interface ServiceOptions {
  db: LifeboatDatabase;
  secrets?: SecretResolver;
  /** Where new secrets are stored (the OS keychain, or the encrypted file on a box without one). */
  secretStore?: SecretStore;
  /** The clock; tests pin it. */
  now?: () => Date;
  /** Zone in which schedules without their own zone are read (default: the system's). */
  timeZone?: string;
  /** Global cap on concurrent runs (default: the "maxConcurrentRuns" setting, else 2). */
  maxConcurrentRuns?: number;
  /** Engine worker threads per run. */
  workers?: number;
  /** Longest sleep between scheduler ticks; a tick also happens at every next-run time. */
  maxTickMs?: number;
  /** How long a run waits for another process's repository lock before failing (ms). */
  lockWaitMs?: number;
  /** How to reach remote locations (SFTP credentials and host-key pins, S3 keys), given by the host. */
  targetOptions?: (location: string) => OpenTargetOptions;
  /** false: runs and restores transfer on the service's own thread instead of a transfer thread per repository opened. */
  transferThread?: boolean;
  /** The data folder, shown in Settings. */
  dataDir?: string;
  /** Retries of a notification's transient failures (default `DEFAULT_RETRY`: 3, after 5, 20, 80 s). */
  notificationRetry?: RetryPolicy;
  /** Timeout of one notification attempt (ms; default 10 s webhook, 15 s email). */
  notificationTimeoutMs?: number;
  /** Extra CA certificates (PEM) the email channel trusts, for an SMTP server with a private CA. */
  smtpCa?: string;
  /** The machine's name in notifications (default: `os.hostname()`). */
  hostName?: string;
  /** Where warnings go that an admin should see (failed notifications); default: stderr. Never given secrets. */
  warn?: (line: string) => void;
}

/** How a repository is opened: `transfers` (packs move: the target gets a thread of its own), `runId` (whose log gets the retries). */
interface RepositoryUse {
  transfers?: boolean;
  runId?: number;
}

/** Settings keys of the service's own state (beside the editable AppSettings). */
const PAUSED_UNTIL_KEY = 'schedulesPausedUntil';
/** When overdue restore tests last raised a notification (ISO). */
const RESTORE_TEST_ALERT_KEY = 'restoreTestAlertAt';
/** The secret-store references of the notification secrets (`{ webhookSigning?, smtpPassword? }`). */
const NOTIFICATION_SECRETS_KEY = 'notificationSecretRefs';
/** The last delivery result per channel (`{ webhook?, email? }`). */
const DELIVERIES_KEY = 'notificationDeliveries';
/** IDs of the jobs whose RPO breach has been notified and that have not recovered since. */
const RPO_BREACHED_KEY = 'rpoBreachedJobs';
/** Secret-store accounts of the notification secrets. */
const SECRET_ACCOUNTS = { webhookSigning: 'notifications:webhook-signing', smtpPassword: 'notifications:smtp-password' } as const;
type NotificationSecret = keyof typeof SECRET_ACCOUNTS;
/** Bytes of one data pack, for the time a stop needs to finish the packs in flight. */
const PACK_BYTES = 16 * 1024 * 1024;

interface ActiveRun {
  record: RunRecord;
  controller: AbortController;
  readingDone: boolean;
  done: Promise<void>;
  /** The latest progress report (backups), for the quit estimate. */
  lastProgress?: OperationProgress;
  /** For a restore-test run: what to test (validated). */
  restoreTest?: RestoreTestPlan;
}

/** A validated restore-test request, as a run carries it out. */
interface RestoreTestPlan {
  snapshotId: string | null;
  scope: RestoreTestScope;
  seed?: number;
  sandboxParent?: string;
  keepSandbox: boolean;
  sourceDir?: string;
}

type EventName = keyof LifeboatEvents;

/**
 * The application service: implements the API contract over the store and
 * the engine, and runs the schedules. Host-agnostic: the Electron shell, the
 * headless host and the CLI all drive this same class.
 */
export class LifeboatService implements LifeboatApi {
  private readonly db: LifeboatDatabase;
  private readonly secrets: SecretResolver;
  private readonly now: () => Date;
  private readonly timeZone: string;
  private readonly queue: RunQueue;
  private readonly gate = new RepositoryGate();
  private readonly bandwidth: BandwidthController;
  private readonly active = new Map<number, ActiveRun>();
  private readonly emitter = new EventEmitter();
  /** User keys derived while the service runs: each repository pays scrypt once, not on every run, listing or restore. */
  private readonly userKeys = new UserKeyCache();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private ticking: Promise<void> | undefined;
  /** Runs whose notification has been emitted (a run's final state is reported more than once). */
  private readonly notified = new Set<number>();
  /** Indexes of recently browsed snapshots (snapshots never change), newest last. */
  private readonly snapshotIndexes = new Map<string, Promise<SnapshotIndex>>();
  /** Webhook and email delivery, in the background (desktop notifications are the `notification` event). */
  private readonly notifier: Notifier;

  constructor(private readonly opts: ServiceOptions) {
    this.db = opts.db;
    this.secrets = opts.secrets ?? new DefaultSecretResolver(process.env, opts.secretStore ? [opts.secretStore] : []);
    this.now = opts.now ?? (() => new Date());
    this.timeZone = opts.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    this.queue = new RunQueue(opts.maxConcurrentRuns ?? this.db.settings.get<number>('maxConcurrentRuns', SETTINGS_DEFAULTS.maxConcurrentRuns));
    this.emitter.setMaxListeners(100);
    this.bandwidth = new BandwidthController(
      () => this.db.settings.get<BandwidthSetting>('bandwidth', { limitKiBps: null, windows: [] }),
      this.timeZone,
      this.now,
    );
    this.notifier = new Notifier({
      channels: () => {
        const n = this.notificationSettings();
        return NOTIFICATION_CHANNELS.filter((c) => n[c].enabled).map((c) => this.notificationChannel(c, n));
      },
      onResult: (result, event) => this.recordDelivery(result, event),
      now: this.now,
      ...(opts.notificationRetry ? { retry: opts.notificationRetry } : {}),
    });
  }

  // ---- events

  on<E extends EventName>(event: E, listener: (payload: LifeboatEvents[E]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  private emit<E extends EventName>(event: E, payload: LifeboatEvents[E]): void {
    this.emitter.emit(event, payload);
  }

  // ---- scheduler

  /** Starts the scheduler: runs interrupted by a previous stop are marked failed, then schedules are evaluated. */
  start(): void {
    const interrupted = this.db.runs.markInterrupted(this.now());
    if (interrupted > 0) this.log(`marked ${interrupted} runs interrupted by the previous shutdown as failed`);
    this.stopping = false;
    this.bandwidth.start();
    this.schedule(0);
  }

  /** Evaluates every job's schedule once, now (also what the timer does). */
  async tick(): Promise<ScheduleDecision[]> {
    const decisions: ScheduleDecision[] = [];
    const now = this.now();
    const pausedUntil = this.pausedUntil(now);
    this.alertOverdueRestoreTests(now);
    this.watchRpo(now);
    for (const job of this.db.jobs.list()) {
      const plans: [RunKind, ScheduleDecision][] = [['backup', next(now, job, this.history(job, 'backup'), this.timeZone)]];
      // A prune pass on its own schedule; a waiting one queues behind the job's other prune runs.
      if (job.pruneSchedule) plans.push(['prune', next(now, { ...job, schedule: job.pruneSchedule, overlap: 'queue' }, this.history(job, 'prune'), this.timeZone)]);
      if (job.checkSchedule) plans.push(['check', next(now, { ...job, schedule: job.checkSchedule, overlap: 'queue' }, this.history(job, 'check'), this.timeZone)]);
      // Restore drills on their own schedule; a drill still going when the next is due skips it.
      if (job.restoreTest.drillSchedule) plans.push(['restore-test', next(now, { ...job, schedule: job.restoreTest.drillSchedule, overlap: 'skip' }, this.history(job, 'restore-test'), this.timeZone)]);
      for (const [kind, d] of plans) {
        decisions.push(d);
        if (d.kind === 'wait') continue;
        const scheduledFor = d.scheduledFor.toISOString();
        if (d.kind === 'skip' || pausedUntil) {
          const reason = d.kind === 'skip' ? d.reason : `schedules are paused until ${pausedUntil}`;
          const r = this.db.runs.create({ jobId: job.id, kind, trigger: 'schedule', scheduledFor, status: 'skipped', reason });
          this.db.runs.update(r.id, { endedAt: now.toISOString() });
          this.changed(r.id);
          continue;
        }
        this.enqueue(job, kind, d.trigger, scheduledFor, d.reason, kind === 'restore-test' ? { snapshotId: null, scope: job.restoreTest.scope, keepSandbox: false } : undefined);
      }
    }
    return decisions;
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick()
        .then((decisions) => {
          const now = this.now().getTime();
          let wait = this.opts.maxTickMs ?? 30_000;
          for (const d of decisions) if (d.nextRun) wait = Math.min(wait, Math.max(0, d.nextRun.getTime() - now));
          const pausedUntil = this.pausedUntil(new Date(now));
          if (pausedUntil) wait = Math.min(wait, Math.max(0, Date.parse(pausedUntil) - now));
          this.schedule(wait);
        })
        .catch((e) => {
          this.log(`scheduler tick failed: ${(e as Error).message}`);
          this.schedule(this.opts.maxTickMs ?? 30_000);
        });
    }, delayMs);
    this.timer.unref?.();
  }

  /**
   * Stops scheduling and cancels running work cleanly: backups stop reading,
   * finish the pack uploads in flight and index them, so nothing is half-written.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.bandwidth.stop();
    await this.ticking?.catch(() => {});
    for (const a of this.active.values()) a.controller.abort();
    await Promise.all([...this.active.values()].map((a) => a.done));
    await this.notifier.stop();
  }

  private history(job: Job, kind: RunKind) {
    const last = this.db.runs.lastScheduledFor(job.id, kind);
    const mine = this.db.runs.active(job.id).filter((r) => r.kind === kind);
    return {
      createdAt: new Date(job.createdAt),
      lastScheduledFor: last ? new Date(last) : null,
      running: mine.filter((r) => r.status === 'running').map((r) => ({ runId: r.id, readingDone: this.active.get(r.id)?.readingDone ?? false })),
      queued: mine.filter((r) => r.status === 'queued').length,
    };
  }

  // ---- runs

  private enqueue(job: Job, kind: RunKind, trigger: RunRecord['trigger'], scheduledFor: string | null, reason: string, plan?: RestoreTestPlan): RunRecord {
    const record = this.db.runs.create({ jobId: job.id, kind, trigger, scheduledFor, status: 'queued', reason, phase: 'waiting for a free slot' });
    this.appendLog(record.id, `queued (${trigger}): ${reason}`);
    const controller = new AbortController();
    const a: ActiveRun = { record, controller, readingDone: false, done: Promise.resolve(), ...(plan ? { restoreTest: plan } : {}) };
    this.active.set(record.id, a);
    a.done = this.execute(job, a).finally(() => {
      this.active.delete(record.id);
      // A run that was queued behind this one (overlap policy) may start now.
      if (!this.stopping) this.schedule(0);
    });
    this.changed(record.id);
    return this.db.runs.get(record.id)!;
  }

  private async execute(job: Job, a: ActiveRun): Promise<void> {
    const id = a.record.id;
    const signal = a.controller.signal;
    // Overlap: a queued backup of this job waits for the previous one (parallel: until it has finished reading).
    while (!signal.aborted && a.record.kind === 'backup' && this.mustWaitForPrevious(job, id)) {
      this.db.runs.update(id, { phase: 'waiting for the previous run of this job' });
      await new Promise((r) => setTimeout(r, 200));
    }
    let releaseSlot: (() => void) | undefined;
    let releaseRepo: (() => void) | undefined;
    let slot: Promise<() => void> | undefined;
    let entry: Promise<() => void> | undefined;
    try {
      if (signal.aborted) throw new OperationCancelledError('run');
      const position = () => this.queue.position(id);
      slot = this.queue.acquire(id);
      if (position() > 0) {
        this.db.runs.update(id, { phase: `waiting: ${this.queue.active} runs already going (limit reached), position ${position()} in line` });
        this.changed(id);
      }
      releaseSlot = await Promise.race([slot, aborted(signal)]);
      // Maintenance (prune, check) has the repository to itself; backups and restore tests share it.
      const exclusive = a.record.kind === 'prune' || a.record.kind === 'check';
      const g = this.gate.describe(job.repositoryId);
      if (g.writer || (exclusive && g.readers > 0)) {
        this.db.runs.update(id, { phase: exclusive ? 'waiting for backups on this repository to finish' : 'waiting for maintenance on this repository to finish' });
        this.changed(id);
      }
      entry = this.gate.enter(job.repositoryId, exclusive);
      releaseRepo = await Promise.race([entry, aborted(signal)]);
      this.db.runs.update(id, { status: 'running', startedAt: this.now().toISOString(), phase: 'starting' });
      this.changed(id);

      if (a.record.kind === 'backup') await this.runBackup(job, a);
      else if (a.record.kind === 'prune') await this.runPrune(job, id);
      else if (a.record.kind === 'restore-test') await this.runRestoreTest(job, a);
      else await this.runCheck(job, id, signal);
    } catch (e) {
      const cancelled = e instanceof OperationCancelledError || signal.aborted;
      const msg = (e as Error).message;
      this.appendLog(id, cancelled ? 'cancelled' : `failed: ${msg}`);
      this.db.runs.update(id, { status: cancelled ? 'cancelled' : 'failed', error: cancelled ? null : msg, endedAt: this.now().toISOString(), phase: null });
    } finally {
      // A slot or entry granted after cancellation must still be given back.
      if (releaseRepo) releaseRepo();
      else void entry?.then((release) => release());
      if (releaseSlot) releaseSlot();
      else if (slot && !this.queue.withdraw(id)) void slot.then((release) => release());
      this.changed(id);
    }
  }

  private mustWaitForPrevious(job: Job, id: number): boolean {
    const earlier = [...this.active.values()].filter((o) => o.record.jobId === job.id && o.record.id < id && o.record.kind === 'backup');
    if (earlier.length === 0) return false;
    if (job.overlap === 'parallel') return earlier.some((o) => !o.readingDone);
    return true;
  }

  /**
   * Opens a repository through the retry wrapper and, for a job's run, through
   * the job's and the global bandwidth buckets (released by `release`).
   * `transfers`: packs will move (runs, restores), so the target runs in a
   * thread of its own; quick reads (snapshot lists, browsing) skip the thread's start-up.
   * `runId`: retries are written to that run's log.
   */
  private async openRepository(repositoryId: number, job?: Job, { transfers = job !== undefined, runId }: RepositoryUse = {}): Promise<Repository> {
    const info = this.db.repositories.get(repositoryId);
    if (!info) throw new Error(`repository ${repositoryId} no longer exists`);
    if (!info.passwordRef) throw new Error(`repository "${info.name}" has no password reference`);
    const options = await this.targetOptionsFor(info.location, this.db.credentials.get(repositoryId));
    const how: TransferTargetOptions = { thread: transfers && this.opts.transferThread !== false };
    if (job) {
      const jobId = job.id;
      const buckets = this.bandwidth.acquire(jobId, () => this.db.jobs.get(jobId)?.bandwidth ?? job.bandwidth);
      let released = false;
      Object.assign(how, {
        upload: buckets,
        download: buckets,
        onClose: () => {
          if (!released) this.bandwidth.release(jobId);
          released = true;
        },
      });
    }
    let target: StorageTarget;
    try {
      target = openTransferTarget(info.location, { ...options, connections: job?.uploadWorkers ?? 4 }, how);
    } catch (e) {
      how.onClose?.();
      throw e;
    }
    const retrying = new RetryingTarget(target, {
      onRetry: (what, n, ms, e) => {
        const line = `${what}: attempt ${n} failed (${e.message}); retrying in ${ms} ms`;
        this.log(line);
        if (runId !== undefined) this.appendLog(runId, line);
      },
    });
    try {
      let password: string;
      try {
        password = await this.secrets.resolve(info.passwordRef);
      } catch (e) {
        throw new Error(`repository "${info.name}": ${(e as Error).message}`, { cause: e });
      }
      return await Repository.open(retrying, password, { keyCache: this.userKeys });
    } catch (e) {
      await retrying.close().catch(() => {});
      throw e;
    }
  }

  /**
   * The options that open a location's target: the host's own (host-key pin
   * file, environment) with the repository's stored credentials resolved from
   * the secret store over them. The secrets live only in the returned object.
   */
  private async targetOptionsFor(location: string, refs: RepositoryCredentials): Promise<OpenTargetOptions> {
    const secret = async (field: CredentialField): Promise<string | undefined> => {
      const ref = refs[field];
      if (ref === undefined) return undefined;
      try {
        return await this.secrets.resolve(ref);
      } catch (e) {
        // The resolver's message names the reference, never a secret.
        throw new Error(`${field}: ${(e as Error).message.replace(/^password /, '')}`, { cause: e });
      }
    };
    let base: OpenTargetOptions = {};
    try {
      base = this.opts.targetOptions?.(location) ?? {};
    } catch (e) {
      // The host's defaults may insist on keys from the environment; stored ones make them unnecessary.
      if (refs.s3AccessKeyId === undefined) throw e;
    }
    if (/^sftp:/i.test(location) && (refs.sftpPassword ?? refs.sftpPrivateKey ?? refs.sftpKeyPassphrase) !== undefined && !base.sftp) {
      throw new Error('sftp: this service has no host-key pin file configured for SFTP repositories');
    }
    const values: RepositoryCredentials = {};
    await Promise.all(
      (Object.keys(refs) as CredentialField[]).map(async (field) => {
        const v = await secret(field);
        if (v !== undefined) values[field] = v;
      }),
    );
    base = withCredentials(location, base, values);
    return base;
  }

  /** Opens a repository for the duration of `fn` and closes it (connections, buckets) afterwards. */
  private async withRepository<T>(repositoryId: number, job: Job | undefined, fn: (repo: Repository) => Promise<T>, use: RepositoryUse = {}): Promise<T> {
    const repo = await this.openRepository(repositoryId, job, use);
    try {
      return await fn(repo);
    } finally {
      await repo.close().catch(() => {});
    }
  }

  private async runBackup(job: Job, a: ActiveRun): Promise<void> {
    const id = a.record.id;
    const signal = a.controller.signal;
    const env = { LIFEBOAT_JOB: job.name, LIFEBOAT_JOB_ID: String(job.id), LIFEBOAT_RUN_ID: String(id) };
    if (job.preCommand) {
      this.db.runs.update(id, { phase: 'pre-command' });
      this.appendLog(id, `pre-command: ${job.preCommand}`);
      const r = await runShellCommand(job.preCommand, env, signal);
      if (r.output) this.appendLog(id, r.output.trimEnd());
      if (signal.aborted) throw new OperationCancelledError('run');
      if (r.code !== 0) throw new Error(`pre-command failed (exit ${r.code ?? r.signal}); the backup did not start`);
    }
    let status: 'success' | 'partial' | 'failed' = 'failed';
    let failure: Error | undefined;
    try {
      const res = await this.withRepository(job.repositoryId, job, (repo) => {
        this.db.runs.update(id, { phase: 'scanning' });
        return backup(repo, {
          paths: job.sources.paths,
          includes: job.sources.include,
          excludes: job.sources.exclude,
          tags: job.tags,
          full: job.mode === 'full',
          ...(this.opts.dataDir ? { cacheDir: path.join(this.opts.dataDir, 'cache') } : {}),
          uploadConnections: job.uploadWorkers,
          ...(this.opts.workers ? { workers: this.opts.workers } : {}),
          signal,
          lockWaitMs: this.opts.lockWaitMs ?? 60 * 60 * 1000,
          onProgress: (p: OperationProgress) => this.progress(job, a, p),
        });
      }, { runId: id });
      for (const e of res.errors) this.appendLog(id, `unreadable: ${e.path}: ${e.message}`);
      status = res.partial ? 'partial' : 'success';
      const s = res.summary;
      this.db.runs.update(id, {
        snapshotId: res.snapshot.id,
        filesNew: s.files_new,
        filesChanged: s.files_changed,
        filesUnmodified: s.files_unmodified,
        bytesProcessed: s.total_bytes_processed,
        bytesAdded: s.data_added,
        errorCount: res.errors.length,
      });
      this.appendLog(id, `snapshot ${res.snapshot.id.slice(0, 8)} saved: ${s.files_new} new, ${s.files_changed} changed, ${s.files_unmodified} unmodified files; ${s.data_added} bytes added`);
    } catch (e) {
      failure = e as Error;
    }
    if (job.postCommand) {
      this.db.runs.update(id, { phase: 'post-command' });
      this.appendLog(id, `post-command: ${job.postCommand}`);
      const r = await runShellCommand(job.postCommand, { ...env, LIFEBOAT_RUN_STATUS: failure ? 'failed' : status });
      if (r.output) this.appendLog(id, r.output.trimEnd());
      if (r.code !== 0 && !failure) this.appendLog(id, `post-command failed (exit ${r.code ?? r.signal})`);
    }
    if (failure) throw failure;
    this.db.runs.update(id, { status, endedAt: this.now().toISOString(), phase: null });
    if (status === 'success' && job.pruneAfterBackup && job.retention) {
      this.enqueue(job, 'prune', 'manual', null, `retention after backup run #${id}`);
    }
  }

  private async runPrune(job: Job, id: number): Promise<void> {
    await this.withRepository(job.repositoryId, job, (repo) => this.pruneWith(repo, job, id), { runId: id });
    this.db.runs.update(id, { status: 'success', endedAt: this.now().toISOString(), phase: null });
  }

  private async pruneWith(repo: Repository, job: Job, id: number): Promise<void> {
    if (job.retention) {
      this.db.runs.update(id, { phase: 'forgetting snapshots by the retention policy' });
      const res = await forget(repo, job.retention, { dryRun: false, paths: job.sources.paths, host: os.hostname() });
      const removed = res.groups.reduce((n, g) => n + g.remove.length, 0);
      this.appendLog(id, `forget: ${removed} snapshots removed by the retention policy`);
    }
    this.db.runs.update(id, { phase: 'pruning unreferenced data' });
    const res = await prune(repo, { lockWaitMs: this.opts.lockWaitMs ?? 60 * 60 * 1000, onLog: (l) => this.appendLog(id, l) });
    this.appendLog(id, `prune: freed ${res.bytesFreed} bytes`);
  }

  private async runCheck(job: Job, id: number, signal: AbortSignal): Promise<void> {
    await this.withRepository(job.repositoryId, job, (repo) => this.checkWith(repo, job, id, signal), { runId: id });
  }

  private async checkWith(repo: Repository, job: Job, id: number, signal: AbortSignal): Promise<void> {
    const mode = job.checkReadData;
    this.db.runs.update(id, { phase: mode === 'none' ? 'checking structure' : `checking structure and reading data (${mode})` });
    const res = await check(repo, {
      ...(mode === 'all' ? { readData: true } : mode !== 'none' ? { readDataSubset: mode } : {}),
      ...(this.opts.workers ? { workers: this.opts.workers } : {}),
    });
    if (signal.aborted) throw new OperationCancelledError('check');
    for (const w of res.warnings) this.appendLog(id, `warning: ${w}`);
    for (const e of res.errors) this.appendLog(id, `error: ${e}`);
    this.appendLog(id, `checked ${res.snapshots} snapshots, ${res.trees} trees, ${res.packs} packs; read ${res.packsRead} packs (${res.bytesRead} bytes)`);
    if (res.errors.length > 0) throw new Error(`check found ${res.errors.length} errors, first: ${res.errors[0]}`);
    this.db.runs.update(id, { status: 'success', endedAt: this.now().toISOString(), phase: null });
  }

  private async runRestoreTest(job: Job, a: ActiveRun): Promise<void> {
    const id = a.record.id;
    const signal = a.controller.signal;
    const plan = a.restoreTest ?? { snapshotId: null, scope: job.restoreTest.scope, keepSandbox: false };
    const repoInfo = this.db.repositories.get(job.repositoryId);
    const outcome = await this.withRepository(job.repositoryId, job, async (repo) => {
      this.db.runs.update(id, { phase: 'choosing the snapshot and the sample' });
      const snapshot = plan.snapshotId
        ? await repo.findSnapshot(plan.snapshotId)
        : await repo.findSnapshot('latest', (s) => JSON.stringify([...s.paths].sort()) === JSON.stringify([...job.sources.paths].sort())).catch(() => {
            throw new Error(`job "${job.name}" has no snapshot to test yet; run a backup first`);
          });
      this.db.runs.update(id, { snapshotId: snapshot.id });
      this.appendLog(id, `restore test of snapshot ${snapshot.id.slice(0, 8)} (${snapshot.time}): ${scopeText(plan.scope)}`);
      let source: SourceLocation = { kind: 'same-paths' };
      if (plan.sourceDir) {
        if (snapshot.paths.length !== 1) throw new ValidationError('sourceDir', `snapshot ${snapshot.id.slice(0, 8)} has ${snapshot.paths.length} paths; a source folder can stand for exactly one`);
        source = { kind: 'moved', livePath: plan.sourceDir };
      }
      return restoreTest(repo, snapshot, {
        scope: plan.scope,
        ...(plan.seed !== undefined ? { seed: plan.seed } : {}),
        ...(plan.sandboxParent ? { sandboxParent: plan.sandboxParent } : {}),
        keepSandbox: plan.keepSandbox,
        source,
        targetRtoMinutes: job.restoreTest.targetRtoMinutes,
        ...(this.opts.workers ? { workers: this.opts.workers } : {}),
        signal,
        now: this.now,
        onProgress: (p) => {
          const phase = p.phase === 'writing' ? 'restoring into the sandbox' : p.phase === 'verifying' ? 'verifying restored files' : p.phase === 'done' ? 'recording the evidence' : 'reading the snapshot';
          if (phase !== a.record.phase) {
            a.record = { ...a.record, phase };
            this.db.runs.update(id, { phase });
            this.appendLog(id, `phase: ${phase}`);
            this.changed(id);
          }
          this.emit('runProgress', { runId: id, jobId: job.id, progress: p });
        },
      });
    }, { runId: id });
    const record = this.db.restoreTests.add({
      ...outcome,
      jobId: job.id,
      jobName: job.name,
      runId: id,
      trigger: a.record.trigger,
      repositoryLocation: repoInfo?.location ?? String(job.repositoryId),
    });
    for (const m of outcome.mismatches) this.appendLog(id, `mismatch: ${m.path}: ${m.reason}`);
    for (const m of outcome.notRestored) this.appendLog(id, `not restored: ${m.path}: ${m.reason}`);
    this.appendLog(
      id,
      `restore test #${record.id} ${outcome.passed ? 'PASSED' : 'FAILED'}: ${outcome.filesVerified}/${outcome.filesPlanned} files verified (${outcome.bytesRestored} bytes), ` +
        `${outcome.filesComparedWithSource} compared with the source, in ${outcome.durationMs} ms${outcome.passed ? '' : `; ${outcome.failures.join('; ')}`}`,
    );
    const problems = outcome.mismatches.length + outcome.notRestored.length;
    this.db.runs.update(id, {
      status: outcome.passed ? 'success' : 'failed',
      error: outcome.passed ? null : `restore test failed: ${outcome.failures.join('; ')}`,
      bytesProcessed: outcome.bytesRestored,
      filesUnmodified: outcome.filesVerified,
      errorCount: problems,
      endedAt: this.now().toISOString(),
      phase: null,
    });
  }

  private progress(job: Job, a: ActiveRun, p: OperationProgress): void {
    a.lastProgress = p;
    if (p.phase === 'finishing' || p.phase === 'done') {
      if (!a.readingDone) {
        a.readingDone = true;
        this.appendLog(a.record.id, `phase: sources read (${p.filesDone} files, ${p.bytesDone} bytes; ${p.bytesAdded} bytes new); uploading and writing the snapshot`);
        this.db.runs.update(a.record.id, { phase: 'uploading and writing the snapshot' });
        this.changed(a.record.id);
        if (job.overlap === 'parallel') this.schedule(0);
      }
    } else if (p.phase !== a.record.phase) {
      a.record = { ...a.record, phase: p.phase };
      this.db.runs.update(a.record.id, { phase: p.phase });
      this.appendLog(a.record.id, `phase: ${p.phase} (${p.filesTotal} files, ${p.bytesTotal} bytes known so far)`);
    }
    this.emit('runProgress', { runId: a.record.id, jobId: job.id, progress: p });
  }


  private appendLog(runId: number, text: string): void {
    this.db.runs.appendLog(runId, `${this.now().toISOString()} ${text}\n`);
  }

  private changed(runId: number): void {
    const r = this.db.runs.get(runId);
    if (!r) return;
    this.emit('runChanged', r);
    if (r.status !== 'queued' && r.status !== 'running' && !this.notified.has(r.id)) {
      this.notified.add(r.id);
      const job = this.db.jobs.get(r.jobId);
      const n = job ? runNotification(r, job) : null;
      if (job && n) {
        if (this.notificationSettings().desktop) this.emit('notification', n);
        this.notifier.notify(runFinishedEvent(r, job, n.title, n.body, n.urgency, this.now().toISOString()));
      }
    }
    this.statusChanged();
  }

  private statusChanged(): void {
    if (this.emitter.listenerCount('appStatusChanged') > 0) this.emit('appStatusChanged', this.appStatus());
  }

  /** End of the schedule pause (ISO) when one is in force at `now`. */
  private pausedUntil(now: Date): string | null {
    const until = this.db.settings.get<string | null>(PAUSED_UNTIL_KEY, null);
    return until && Date.parse(until) > now.getTime() ? until : null;
  }

  /** Overdue restore tests raise a desktop notification, at most once a day (`restoreTestAlert`). */
  private alertOverdueRestoreTests(now: Date): void {
    const last = this.db.settings.get<string | null>(RESTORE_TEST_ALERT_KEY, null);
    const jobs = this.db.jobs.list().map((job) => ({ name: job.name, due: this.restoreTestDueOf(job) }));
    const alert = restoreTestAlert(now, jobs, last ? new Date(last) : null);
    if (!alert.notify) return;
    this.db.settings.set(RESTORE_TEST_ALERT_KEY, now.toISOString());
    if (this.notificationSettings().desktop) {
      this.emit('notification', { runId: null, jobId: null, title: 'Restore tests overdue', body: alert.text, urgency: 'critical' });
    }
    this.notifier.notify({ kind: 'restore-test-overdue', at: now.toISOString(), title: 'Restore tests overdue', text: alert.text, severity: 'critical', job: null, run: null, rpo: null });
  }

  /**
   * The RPO watchdog, on every scheduler tick: a job that has just gone from
   * within its RPO to breached notifies once (`rpoWatch`); the breached set is
   * kept in the settings table, so a restart does not notify again, and a job
   * notifies again only after a success has brought it back within its RPO.
   * Jobs whose notification mode is "never" stay silent.
   */
  private watchRpo(now: Date): void {
    const before = this.db.settings.get<number[]>(RPO_BREACHED_KEY, []);
    const jobs = this.db.jobs.list();
    const inputs = jobs.map((j) => ({ id: j.id, name: j.name, rpoHours: j.rpoHours, createdAt: j.createdAt, lastSuccessAt: this.db.runs.lastSuccess(j.id)?.endedAt ?? null }));
    const { newlyBreached, breached } = rpoWatch(now, inputs, before);
    if (breached.length !== before.length || breached.some((id) => !before.includes(id))) this.db.settings.set(RPO_BREACHED_KEY, breached);
    for (const j of newlyBreached) {
      if (jobs.find((x) => x.id === j.id)?.notify === 'never') continue;
      const event = rpoBreachEvent(now, j);
      this.log(`RPO breached: ${event.title}`);
      if (this.notificationSettings().desktop) this.emit('notification', { runId: null, jobId: j.id, title: event.title, body: event.text, urgency: 'critical' });
      this.notifier.notify(event);
    }
  }

  // ---- notification channels

  /** The stored notification settings, completed with defaults (older stores hold only `desktop`). */
  private notificationSettings(): NotificationSettings {
    const d = SETTINGS_DEFAULTS.notifications;
    const n = this.db.settings.get<Partial<NotificationSettings>>('notifications', d);
    return { desktop: n.desktop ?? d.desktop, webhook: { ...d.webhook, ...n.webhook }, email: { ...d.email, ...n.email } };
  }

  private notificationSecretRefs(): Partial<Record<NotificationSecret, string>> {
    return this.db.settings.get<Partial<Record<NotificationSecret, string>>>(NOTIFICATION_SECRETS_KEY, {});
  }

  /** The secret itself (from the secret store), or null when none is stored. */
  private async notificationSecret(which: NotificationSecret): Promise<string | null> {
    const ref = this.notificationSecretRefs()[which];
    return ref ? this.secrets.resolve(ref) : null;
  }

  private notificationChannel(name: NotificationChannelName, n: NotificationSettings): NotificationChannel {
    const host = this.opts.hostName ?? os.hostname();
    const timeout = this.opts.notificationTimeoutMs;
    if (name === 'webhook') return new WebhookChannel(n.webhook, host, () => this.notificationSecret('webhookSigning'), timeout);
    return new EmailChannel(n.email, host, () => this.notificationSecret('smtpPassword'), { ...(timeout ? { timeoutMs: timeout } : {}), ...(this.opts.smtpCa ? { ca: this.opts.smtpCa } : {}) });
  }

  /** Keeps each channel's last result (shown in Settings), logs failures, and notes the outcome in the run's log. */
  private recordDelivery(result: DeliveryResult, event: NotificationEvent): void {
    try {
      const all = this.db.settings.get<Partial<Record<NotificationChannelName, DeliveryResult>>>(DELIVERIES_KEY, {});
      this.db.settings.set(DELIVERIES_KEY, { ...all, [result.channel]: result });
      if (event.run) this.appendLog(event.run.id, result.delivered ? `notification sent by ${result.channel}` : `notification by ${result.channel} failed: ${result.error}`);
    } catch (e) {
      this.log(`could not record a notification result: ${(e as Error).message}`);
    }
    if (!result.delivered) (this.opts.warn ?? ((l: string) => process.stderr.write(`lifeboat: ${l}\n`)))(`notification (${event.kind}) not delivered: ${result.error}`);
  }

  /** Applies a write-only secret change: stored in the secret store (only its reference in the database), or removed. */
  private async updateNotificationSecret(which: NotificationSecret, update: SecretUpdate, field: string): Promise<void> {
    const refs = this.notificationSecretRefs();
    const store = this.opts.secretStore;
    if ('clear' in update) {
      const ref = refs[which];
      if (ref && store && ref.startsWith(`${store.scheme}:`)) await store.delete(ref).catch(() => {});
      const { [which]: _gone, ...rest } = refs;
      this.db.settings.set(NOTIFICATION_SECRETS_KEY, rest);
      return;
    }
    if (!store) throw new ValidationError(field, 'no secret store is available (no OS keychain, and no encrypted secrets file opened)');
    const ref = await store.put(SECRET_ACCOUNTS[which], update.set);
    this.db.settings.set(NOTIFICATION_SECRETS_KEY, { ...refs, [which]: ref });
  }

  private appStatus(): AppStatus {
    const jobs = this.db.jobs.list().map((j) => this.status(j));
    const unacknowledgedFailures = this.db.runs.unacknowledgedFailures();
    const pausedUntil = this.pausedUntil(this.now());
    const restoreTests = countRestoreTestsDue(this.now(), jobs);
    return { tray: trayState({ jobs, unacknowledgedFailures, pausedUntil, restoreTests }), pausedUntil, unacknowledgedFailures };
  }

  /**
   * Whether quitting now interrupts a run, and roughly how long a stop takes
   * to reach a safe point: a backup stops reading at once but finishes the
   * packs it is uploading (up to one per upload connection) at the rate it
   * has been uploading them; maintenance cannot be estimated.
   */
  quitReadiness(): QuitReadiness {
    const running = [...this.active.values()].filter((a) => this.db.runs.get(a.record.id)?.status === 'running');
    let estimatedMs: number | null = 0;
    for (const a of running) {
      const job = this.db.jobs.get(a.record.jobId);
      const p = a.lastProgress;
      if (a.record.kind !== 'backup' || !p) {
        estimatedMs = null;
        break;
      }
      if (p.phase === 'scanning') continue;
      // The rate packs reach the target (packs built but still waiting would overstate it).
      const rate = p.elapsedMs > 0 ? (p.bytesUploaded ?? 0) / p.elapsedMs : 0;
      if (rate <= 0) {
        estimatedMs = null;
        break;
      }
      estimatedMs = Math.max(estimatedMs, Math.round(((job?.uploadWorkers ?? 4) * PACK_BYTES) / rate));
    }
    return {
      safe: running.length === 0,
      running: running.map((a) => ({ runId: a.record.id, jobId: a.record.jobId, kind: a.record.kind, phase: this.db.runs.get(a.record.id)?.phase ?? null })),
      estimatedMs: running.length === 0 ? 0 : estimatedMs,
    };
  }

  private log(line: string): void {
    if (process.env.LIFEBOAT_DEBUG) process.stderr.write(`lifeboat service: ${line}\n`);
  }

  /** Resolves when no run is queued or running (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    while (this.active.size > 0) await Promise.all([...this.active.values()].map((a) => a.done));
  }

  // ---- API: repositories

  async listRepositories(): Promise<RepositoryInfo[]> {
    return this.db.repositories.list().map((r) => this.repositoryInfo(r));
  }

  private repositoryInfo(r: Parameters<typeof toRepositoryInfo>[0]): RepositoryInfo {
    return toRepositoryInfo(r, Object.keys(this.db.credentials.get(r.id)) as CredentialField[]);
  }

  async addRepository(input: {
    name: string;
    location: string;
    passwordRef?: string;
    password?: string;
    create?: boolean;
    credentials?: RepositoryCredentials;
    credentialRefs?: RepositoryCredentials;
    hostKeyFingerprint?: string;
  }): Promise<RepositoryInfo> {
    const name = requireString(input?.name, 'name', { max: 200 }).trim();
    const location = requireString(input.location, 'location').trim();
    let confirmedHostKey: string | undefined;
    if (input.hostKeyFingerprint !== undefined) {
      confirmedHostKey = requireString(input.hostKeyFingerprint, 'hostKeyFingerprint');
      if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(confirmedHostKey)) throw new ValidationError('hostKeyFingerprint', 'expected an OpenSSH SHA-256 fingerprint, "SHA256:" and 43 base64 characters');
      if (!/^sftp:/i.test(location)) throw new ValidationError('hostKeyFingerprint', 'only an sftp: location has a host key');
    }
    if ((input.password === undefined) === (input.passwordRef === undefined)) throw new ValidationError('password', 'give either the password (it goes to the secret store) or a reference to where it is kept');
    const given = validateCredentials(location, input.credentials, input.credentialRefs);
    const credentialRefs: RepositoryCredentials = {};
    for (const [field, ref] of Object.entries(given.refs) as [CredentialField, string][]) credentialRefs[field] = validateSecretRef(ref, `credentialRefs.${field}`);
    if (this.db.repositories.getByName(name)) throw new ValidationError('name', `a repository named ${JSON.stringify(name)} already exists`);
    // Secrets are kept as "repository:NAME" and "repository:NAME:FIELD": a colon in NAME could reach another repository's entries.
    if (name.includes(':')) throw new ValidationError('name', 'must not contain ":"');
    const store = this.opts.secretStore;
    const noStore = 'no secret store is available (no OS keychain, and no encrypted secrets file opened); give a reference instead';
    if (input.password !== undefined && !store) throw new ValidationError('password', noStore);
    const firstSecret = Object.keys(given.secrets)[0];
    if (firstSecret !== undefined && !store) throw new ValidationError(`credentials.${firstSecret}`, noStore);
    // Secrets this call put in the store: removed again if the repository is not added.
    const created: string[] = [];
    const forget = () => Promise.all(created.map((ref) => store?.delete(ref).catch(() => {})));
    let repo: Repository;
    let passwordRef: string;
    try {
      let password: string;
      if (input.password !== undefined) {
        password = requireString(input.password, 'password');
        passwordRef = await store!.put(`repository:${name}`, password);
        created.push(passwordRef);
      } else {
        passwordRef = validateSecretRef(input.passwordRef);
        password = await this.secrets.resolve(passwordRef);
      }
      for (const [field, value] of Object.entries(given.secrets) as [CredentialField, string][]) {
        const ref = await store!.put(`repository:${name}:${field}`, value);
        created.push(ref);
        credentialRefs[field] = ref;
      }
      const options = await this.targetOptionsFor(location, credentialRefs);
      if (confirmedHostKey !== undefined && options.sftp) options.sftp = { ...options.sftp, confirmedHostKey };
      const target = new RetryingTarget(openTarget(location, options));
      try {
        repo = input.create ? await Repository.init(target, password) : await Repository.open(target, password, { keyCache: this.userKeys });
      } catch (e) {
        await target.close().catch(() => {});
        throw e;
      }
    } catch (e) {
      await forget();
      throw e;
    }
    await repo.close();
    const row = this.db.transaction(() => {
      const r = this.db.repositories.add({ name, location, passwordRef, repositoryId: repo.config.id });
      this.db.credentials.set(r.id, credentialRefs);
      return r;
    });
    return this.repositoryInfo(row);
  }

  async removeRepository(id: number): Promise<void> {
    requireInt(id, 'id', 1, Number.MAX_SAFE_INTEGER);
    if (this.db.jobs.list().some((j) => j.repositoryId === id)) throw new ValidationError('id', 'jobs still back up to this repository; remove them first');
    const info = this.db.repositories.get(id);
    const refs = info ? Object.values(this.db.credentials.get(id)) : [];
    this.db.repositories.remove(id); // its credential references go with it (ON DELETE CASCADE)
    this.userKeys.clear(); // nothing derived from its password stays in memory
    // Secrets addRepository put in the store for it go too; references to secrets kept elsewhere are only dropped.
    const store = this.opts.secretStore;
    if (info && store) {
      const own = `${store.scheme}:repository:${info.name}`;
      const ours = [...refs, ...(info.passwordRef ? [info.passwordRef] : [])].filter((ref) => ref === own || ref.startsWith(`${own}:`));
      await Promise.all(ours.map((ref) => store.delete(ref).catch(() => {})));
    }
  }

  // ---- API: jobs

  async listJobs(): Promise<JobStatus[]> {
    return this.db.jobs.list().map((j) => this.status(j));
  }

  async getJob(id: number): Promise<JobStatus> {
    return this.status(this.requireJob(id));
  }

  private requireJob(id: number): Job {
    requireInt(id, 'id', 1, Number.MAX_SAFE_INTEGER);
    const job = this.db.jobs.get(id);
    if (!job) throw new ValidationError('id', `no job with id ${id}`);
    return job;
  }

  private status(job: Job): JobStatus {
    const d = next(this.now(), job, this.history(job, 'backup'), this.timeZone);
    const lastSuccess = this.db.runs.lastSuccess(job.id) ?? null;
    const lastRun = this.db.runs.list({ jobId: job.id, limit: 1 })[0] ?? null;
    const lastSuccessAt = lastSuccess?.endedAt ?? null;
    const breached = rpoBreached(this.now(), { rpoHours: job.rpoHours, createdAt: job.createdAt, lastSuccessAt });
    return {
      job,
      lastRun,
      lastSuccess,
      nextRun: d.nextRun ? d.nextRun.toISOString() : null,
      nextRunReason: d.kind === 'wait' ? d.reason : `due now: ${d.reason}`,
      active: this.db.runs.active(job.id),
      rpo: { thresholdHours: job.rpoHours, breached, lastSuccessAt },
      restoreTest: this.restoreTestDueOf(job),
    };
  }

  private restoreTestDueOf(job: Job): RestoreTestDue {
    return restoreTestDue(this.now(), job, this.db.restoreTests.history(job.id));
  }

  async createJob(config: unknown): Promise<Job> {
    const c = validateJobConfig(config);
    if (!this.db.repositories.get(c.repositoryId)) throw new ValidationError('repositoryId', `no repository with id ${c.repositoryId}`);
    const job = this.db.jobs.add(c);
    this.schedule(0);
    return job;
  }

  async updateJob(id: number, patch: unknown): Promise<Job> {
    const job = this.requireJob(id);
    const { id: _i, createdAt: _c, updatedAt: _u, ...current } = job;
    const c = applyJobPatch(current, patch);
    if (!this.db.repositories.get(c.repositoryId)) throw new ValidationError('repositoryId', `no repository with id ${c.repositoryId}`);
    const updated = this.db.jobs.update(id, c);
    this.schedule(0);
    return updated;
  }

  async deleteJob(id: number): Promise<void> {
    const job = this.requireJob(id);
    if (this.db.runs.active(job.id).length > 0) throw new ValidationError('id', `job "${job.name}" has a run in progress; cancel it first`);
    this.db.jobs.remove(job.id);
  }

  // ---- API: runs

  async runNow(jobId: number, kind: RunKind = 'backup'): Promise<RunRecord> {
    const job = this.requireJob(jobId);
    if (kind !== 'backup' && kind !== 'prune' && kind !== 'check' && kind !== 'restore-test') throw new ValidationError('kind', 'must be backup, prune, check or restore-test');
    return this.enqueue(job, kind, 'manual', null, 'started by hand', kind === 'restore-test' ? { snapshotId: null, scope: job.restoreTest.scope, keepSandbox: false } : undefined);
  }

  async cancelRun(runId: number): Promise<RunRecord> {
    requireInt(runId, 'runId', 1, Number.MAX_SAFE_INTEGER);
    const a = this.active.get(runId);
    if (!a) throw new ValidationError('runId', `run ${runId} is not queued or running`);
    a.controller.abort();
    await a.done;
    return this.db.runs.get(runId)!;
  }

  async listRuns(filter: RunFilter): Promise<RunRecord[]> {
    return this.db.runs.list(filter ?? {});
  }

  async getRunLog(runId: number): Promise<string> {
    requireInt(runId, 'runId', 1, Number.MAX_SAFE_INTEGER);
    return this.db.runs.getLog(runId);
  }

  async acknowledgeRun(runId: number): Promise<void> {
    requireInt(runId, 'runId', 1, Number.MAX_SAFE_INTEGER);
    this.db.runs.acknowledge(runId);
    this.changed(runId);
  }

  // ---- API: repository contents

  async listSnapshots(repositoryId: number): Promise<Snapshot[]> {
    requireInt(repositoryId, 'repositoryId', 1, Number.MAX_SAFE_INTEGER);
    return this.withRepository(repositoryId, undefined, (repo) => repo.listSnapshots());
  }

  async restore(request: RestoreRequest): Promise<RestoreSummary> {
    requireInt(request?.repositoryId, 'repositoryId', 1, Number.MAX_SAFE_INTEGER);
    const snapshotId = requireString(request.snapshotId, 'snapshotId');
    const target = requireString(request.target, 'target');
    if (!target.startsWith('/') && !/^[a-zA-Z]:[\\/]/.test(target)) throw new ValidationError('target', 'must be an absolute path');
    const release = await this.gate.enter(request.repositoryId, false);
    try {
      return await this.withRepository(request.repositoryId, undefined, async (repo) => {
        const snap = await repo.findSnapshot(snapshotId);
        const include = (request.include ?? []).map((p, i) => requireString(p, `include[${i}]`));
        const res = await restore(repo, snap, { target, include, onProgress: (progress) => this.emit('restoreProgress', { snapshotId: snap.id, target, progress }) });
        return { files: res.files, dirs: res.dirs, bytes: res.bytes, errors: res.errors };
      }, { transfers: true });
    } finally {
      release();
    }
  }

  // ---- API: restore tests

  async restoreTestStatus(jobId: number): Promise<{ due: RestoreTestDue; lastTest: RestoreTestRecord | null }> {
    const job = this.requireJob(jobId);
    return { due: this.restoreTestDueOf(job), lastTest: this.db.restoreTests.list({ jobId: job.id, limit: 1 })[0] ?? null };
  }

  async startRestoreTest(request: RestoreTestRequest): Promise<RunRecord> {
    if (typeof request !== 'object' || request === null) throw new ValidationError('request', 'must be an object');
    const job = this.requireJob(request.jobId);
    const known = ['jobId', 'snapshotId', 'scope', 'seed', 'sandboxParent', 'keepSandbox', 'sourceDir'];
    for (const k of Object.keys(request)) if (!known.includes(k)) throw new ValidationError(k, 'is not a known setting of a restore test');
    let snapshotId: string | null = null;
    if (request.snapshotId !== undefined && request.snapshotId !== 'latest') {
      snapshotId = requireString(request.snapshotId, 'snapshotId').trim().toLowerCase();
      if (!/^[0-9a-f]{4,64}$/.test(snapshotId)) throw new ValidationError('snapshotId', 'must be a snapshot ID (at least 4 hex digits) or "latest"');
    }
    const absolute = (v: unknown, field: string) => {
      const p = requireString(v, field, { max: 4096 });
      if (!p.startsWith('/') && !/^[a-zA-Z]:[\\/]/.test(p)) throw new ValidationError(field, 'must be an absolute path');
      return p;
    };
    const plan: RestoreTestPlan = {
      snapshotId,
      scope: request.scope === undefined ? job.restoreTest.scope : validateRestoreTestScope(request.scope, 'scope'),
      keepSandbox: request.keepSandbox === undefined ? false : requireBoolean(request.keepSandbox, 'keepSandbox'),
      ...(request.seed !== undefined ? { seed: requireInt(request.seed, 'seed', 0, 2 ** 31 - 1) } : {}),
      ...(request.sandboxParent !== undefined ? { sandboxParent: absolute(request.sandboxParent, 'sandboxParent') } : {}),
      ...(request.sourceDir !== undefined ? { sourceDir: absolute(request.sourceDir, 'sourceDir') } : {}),
    };
    if (plan.sourceDir && job.sources.paths.length !== 1) throw new ValidationError('sourceDir', `job "${job.name}" backs up ${job.sources.paths.length} paths; a source folder can stand for exactly one`);
    return this.enqueue(job, 'restore-test', 'manual', null, `restore test started by hand (${scopeText(plan.scope)})`, plan);
  }

  async listRestoreTests(filter: RestoreTestFilter): Promise<RestoreTestRecord[]> {
    const f = filter ?? {};
    return this.db.restoreTests.list({
      ...(f.jobId !== undefined ? { jobId: requireInt(f.jobId, 'jobId', 1, Number.MAX_SAFE_INTEGER) } : {}),
      ...(f.runId !== undefined ? { runId: requireInt(f.runId, 'runId', 1, Number.MAX_SAFE_INTEGER) } : {}),
      ...(f.from !== undefined ? { from: isoTime(f.from, 'from') } : {}),
      ...(f.to !== undefined ? { to: isoTime(f.to, 'to') } : {}),
      ...(f.limit !== undefined ? { limit: requireInt(f.limit, 'limit', 1, 100_000) } : {}),
    });
  }

  async signOffRestoreTest(id: number, signOff: { operator: string; note?: string | null }): Promise<RestoreTestRecord> {
    requireInt(id, 'id', 1, Number.MAX_SAFE_INTEGER);
    if (typeof signOff !== 'object' || signOff === null) throw new ValidationError('signOff', 'must be an object');
    const operator = requireString(signOff.operator, 'operator', { max: 200 }).trim();
    const note = signOff.note === undefined || signOff.note === null || signOff.note.trim() === '' ? null : requireString(signOff.note, 'note', { max: 10_000 }).trim();
    if (!this.db.restoreTests.get(id)) throw new ValidationError('id', `no restore test with id ${id}`);
    return this.db.restoreTests.signOff(id, operator, note, this.now());
  }

  async exportRestoreTestEvidence(options: { format: 'html' | 'csv'; jobId?: number; from?: string; to?: string }): Promise<EvidenceExport> {
    if (typeof options !== 'object' || options === null) throw new ValidationError('options', 'must be an object');
    const format = requireOneOf(options.format, 'format', ['html', 'csv'] as const);
    const job = options.jobId === undefined ? undefined : this.requireJob(options.jobId);
    const now = this.now();
    const to = options.to === undefined ? now.toISOString() : isoTime(options.to, 'to');
    // Default period: this quarter and the three before it.
    const toDate = new Date(to);
    const from = options.from === undefined ? new Date(Date.UTC(toDate.getUTCFullYear(), Math.floor(toDate.getUTCMonth() / 3) * 3 - 9, 1)).toISOString() : isoTime(options.from, 'from');
    if (from > to) throw new ValidationError('from', 'must not be after "to"');
    const tests = this.db.restoreTests.list({ ...(job ? { jobId: job.id } : {}), from, to });
    const names = job ? [job.name] : this.db.jobs.list().map((j) => j.name);
    const grid = evidenceGrid(names, tests, from, to);
    const base = `lifeboat-restore-evidence-${job ? job.name.replace(/[^A-Za-z0-9._-]+/g, '_') + '-' : ''}${from.slice(0, 10)}-to-${to.slice(0, 10)}`;
    return format === 'html'
      ? { fileName: `${base}.html`, mimeType: 'text/html', content: evidenceHtml(grid, tests, now.toISOString(), PROGRAM_VERSION) }
      : { fileName: `${base}.csv`, mimeType: 'text/csv', content: evidenceCsv(grid, tests) };
  }

  // ---- API: previews

  async previewSchedule(expression: string, count: number): Promise<{ normalized: string; next: string[] }> {
    const expr = requireString(expression, 'schedule');
    const n = requireInt(count, 'count', 1, 1000);
    let spec;
    try {
      spec = parseCalendar(expr);
    } catch (e) {
      throw new ValidationError('schedule', (e as Error).message);
    }
    return { normalized: normalizeCalendar(spec), next: nextElapses(spec, this.now(), this.timeZone, n).map((d) => d.toISOString()) };
  }

  async previewRetention(jobId: number, options: { policy?: unknown; weeks?: number } = {}): Promise<RetentionPreview> {
    const job = this.requireJob(jobId);
    const weeks = requireInt(options?.weeks ?? 12, 'weeks', 1, 260);
    let policy = job.retention;
    if (options?.policy !== undefined) {
      try {
        policy = validatePolicy(options.policy);
      } catch (e) {
        throw e instanceof ValidationError ? e : new ValidationError('policy', (e as Error).message);
      }
    }
    if (!policy) throw new ValidationError('retention', `job "${job.name}" has no retention policy to preview`);
    const now = this.now();
    const hostname = os.hostname();
    const paths = [...job.sources.paths].sort();
    return this.withRepository(job.repositoryId, undefined, async (repo) => {
      const real = (await repo.listSnapshots()).filter((s) => s.hostname === hostname && JSON.stringify([...s.paths].sort()) === JSON.stringify(paths));
      const simulated = job.schedule && job.enabled
        ? simulateSnapshots(job.schedule, now, new Date(now.getTime() + weeks * 7 * 86400_000), this.timeZone, { hostname, paths, ...(job.tags.length ? { tags: job.tags } : {}) })
        : [];
      const entries = previewRetention(real.map((s) => ({ id: s.id, time: s.time, paths: s.paths, ...(s.hostname ? { hostname: s.hostname } : {}), ...(s.tags ? { tags: s.tags } : {}) })), simulated, policy, this.timeZone, now);
      // Space freed by a prune now: forget what the policy removes among the real snapshots today.
      const today = previewRetention(real.map((s) => ({ id: s.id, time: s.time, paths: s.paths, ...(s.hostname ? { hostname: s.hostname } : {}), ...(s.tags ? { tags: s.tags } : {}) })), [], policy, this.timeZone, now);
      const forgotten = today.filter((e) => !e.keep && e.snapshotId).map((e) => e.snapshotId!);
      const plan = await prune(repo, { dryRun: true, assumeForgotten: forgotten });
      return { entries, bytesFreed: plan.bytesFreed };
    });
  }

  async staggerAdvice() {
    const repos = new Map(this.db.repositories.list().map((r) => [r.id, r.location]));
    return staggerAdvice(
      this.db.jobs.list().map((j) => ({ id: j.id, name: j.name, target: repos.get(j.repositoryId) ?? String(j.repositoryId), schedule: j.schedule, enabled: j.enabled })),
      this.now(),
      this.timeZone,
    );
  }

  // ---- API: app state and settings

  async getAppStatus(): Promise<AppStatus> {
    return this.appStatus();
  }

  async pauseSchedules(duration: PauseDuration): Promise<AppStatus> {
    const d = requireOneOf(duration, 'duration', PAUSE_DURATIONS);
    this.db.settings.set(PAUSED_UNTIL_KEY, pauseEnd(d, this.now(), this.timeZone).toISOString());
    this.statusChanged();
    return this.appStatus();
  }

  async resumeSchedules(): Promise<AppStatus> {
    this.db.settings.delete(PAUSED_UNTIL_KEY);
    this.schedule(0);
    this.statusChanged();
    return this.appStatus();
  }

  async getSettings(): Promise<SettingsView> {
    const get = <K extends keyof AppSettings>(k: K, fallback = SETTINGS_DEFAULTS[k]) => this.db.settings.get<AppSettings[K]>(k, fallback);
    return {
      maxConcurrentRuns: get('maxConcurrentRuns', this.opts.maxConcurrentRuns ?? SETTINGS_DEFAULTS.maxConcurrentRuns),
      bandwidth: get('bandwidth'),
      notifications: this.notificationsView(),
      startAtLogin: get('startAtLogin'),
      dataDir: this.opts.dataDir ?? null,
    };
  }

  private notificationsView(): SettingsView['notifications'] {
    const n = this.notificationSettings();
    const refs = this.notificationSecretRefs();
    const last = this.db.settings.get<Partial<Record<NotificationChannelName, DeliveryResult>>>(DELIVERIES_KEY, {});
    return {
      desktop: n.desktop,
      webhook: { ...n.webhook, signingSecretStored: refs.webhookSigning !== undefined, lastDelivery: last.webhook ?? null },
      email: { ...n.email, passwordStored: refs.smtpPassword !== undefined, lastDelivery: last.email ?? null },
    };
  }

  async updateSettings(patch: unknown): Promise<SettingsView> {
    const { notifications, ...p } = validateSettingsPatch(patch);
    if (notifications) {
      const current = this.notificationSettings();
      const next: NotificationSettings = { ...current, desktop: notifications.desktop ?? current.desktop };
      if (notifications.webhook) {
        const { signingSecret, ...webhook } = notifications.webhook;
        if (signingSecret) await this.updateNotificationSecret('webhookSigning', signingSecret, 'notifications.webhook.signingSecret');
        next.webhook = webhook;
      }
      if (notifications.email) {
        const { password, ...email } = notifications.email;
        if (password) await this.updateNotificationSecret('smtpPassword', password, 'notifications.email.password');
        next.email = email;
      }
      this.db.settings.set('notifications', next);
    }
    for (const [k, v] of Object.entries(p)) this.db.settings.set(k, v);
    // The bandwidth controller re-reads its setting every second; the cap applies now.
    if (p.maxConcurrentRuns !== undefined) this.queue.setLimit(p.maxConcurrentRuns);
    return this.getSettings();
  }

  // ---- API: snapshot browser

  /** The snapshot's index, walked once and kept for the few snapshots browsed last. */
  private snapshotIndex(repositoryId: unknown, snapshotId: unknown): Promise<SnapshotIndex> {
    const repoId = requireInt(repositoryId, 'repositoryId', 1, Number.MAX_SAFE_INTEGER);
    const ref = requireString(snapshotId, 'snapshotId', { max: 64 });
    if (!/^[0-9a-f]{1,64}$|^latest$/.test(ref)) throw new ValidationError('snapshotId', 'must be a snapshot ID (hex) or "latest"');
    const key = `${repoId}:${ref}`;
    const cached = this.snapshotIndexes.get(key);
    if (cached) {
      this.snapshotIndexes.delete(key);
      this.snapshotIndexes.set(key, cached);
      return cached;
    }
    const built = this.withRepository(repoId, undefined, async (repo) => {
      const snap = await repo.findSnapshot(ref);
      const nodes: IndexedNode[] = [];
      for await (const { path: p, node } of walkTree(repo, snap.tree)) {
        const type = node.type === 'file' || node.type === 'dir' || node.type === 'symlink' ? node.type : 'other';
        nodes.push({
          path: p,
          name: node.name,
          type,
          size: type === 'file' ? (node.size ?? 0) : 0,
          mtime: new Date(nanosToMillis(node.mtime)).toISOString(),
          content: type === 'file' ? (node.content ?? []).join(',') : type === 'symlink' ? `link:${node.linktarget ?? ''}` : type,
          mode: node.mode,
        });
      }
      return buildSnapshotIndex(nodes);
    });
    built.catch(() => this.snapshotIndexes.delete(key));
    // "latest" names another snapshot after the next backup: never cached.
    if (ref === 'latest') return built;
    this.snapshotIndexes.set(key, built);
    while (this.snapshotIndexes.size > 4) this.snapshotIndexes.delete(this.snapshotIndexes.keys().next().value!);
    return built;
  }

  async listSnapshotTree(repositoryId: number, snapshotId: string, path: string): Promise<{ path: string; entries: SnapshotEntry[] }> {
    const dir = requireString(path, 'path');
    if (!dir.startsWith('/')) throw new ValidationError('path', 'must start with "/"');
    const entries = listChildren(await this.snapshotIndex(repositoryId, snapshotId), dir);
    if (!entries) throw new ValidationError('path', `${dir} is not a folder of this snapshot`);
    return { path: dir, entries };
  }

  async searchSnapshot(repositoryId: number, snapshotId: string, query: string, limit = 200): Promise<{ entries: SnapshotEntry[]; truncated: boolean }> {
    const q = requireString(query, 'query', { max: 200 });
    const n = requireInt(limit, 'limit', 1, 5000);
    return searchIndex(await this.snapshotIndex(repositoryId, snapshotId), q, n);
  }

  async diffSnapshots(repositoryId: number, fromId: string, toId: string): Promise<SnapshotDiff> {
    const [from, to] = await Promise.all([this.snapshotIndex(repositoryId, fromId), this.snapshotIndex(repositoryId, toId)]);
    return diffIndexes(from, to);
  }

  // ---- API: setup helpers, export and import

  async testConnection(input: ConnectionTestInput): Promise<ConnectionTest> {
    return testConnection({ secrets: this.secrets, ...(this.opts.targetOptions ? { targetOptions: this.opts.targetOptions } : {}) }, input);
  }

  async exportJobs(): Promise<JobsExport> {
    const names = new Map(this.db.repositories.list().map((r) => [r.id, r.name]));
    return {
      format: 'lifeboat-jobs',
      version: 1,
      exportedAt: this.now().toISOString(),
      jobs: this.db.jobs.list().map(({ id: _i, createdAt: _c, updatedAt: _u, repositoryId, ...config }) => ({ ...config, repository: names.get(repositoryId) ?? String(repositoryId) })),
    };
  }

  async importJobs(data: unknown): Promise<Job[]> {
    const d = requireObject(data, 'data');
    if (d.format !== 'lifeboat-jobs') throw new ValidationError('format', 'is not a Lifeboat jobs export');
    if (d.version !== 1) throw new ValidationError('version', 'must be 1 (exported by this Lifeboat)');
    if (!Array.isArray(d.jobs)) throw new ValidationError('jobs', 'must be a list');
    const seen = new Set<string>();
    const configs: JobConfig[] = d.jobs.map((raw, i) => {
      const { repository, ...rest } = requireObject(raw, `jobs[${i}]`);
      const repoName = requireString(repository, `jobs[${i}].repository`);
      const repo = this.db.repositories.getByName(repoName);
      if (!repo) throw new ValidationError(`jobs[${i}].repository`, `no repository named ${JSON.stringify(repoName)}; add it first`);
      let c: JobConfig;
      try {
        c = validateJobConfig({ ...rest, repositoryId: repo.id });
      } catch (e) {
        throw e instanceof ValidationError ? new ValidationError(`jobs[${i}].${e.field}`, e.problem) : e;
      }
      if (this.db.jobs.getByName(c.name) || seen.has(c.name)) throw new ValidationError(`jobs[${i}].name`, `a job named ${JSON.stringify(c.name)} already exists`);
      seen.add(c.name);
      return c;
    });
    const added = configs.map((c) => this.db.jobs.add(c));
    this.schedule(0);
    return added;
  }

  // ---- API: notifications

  async testNotification(channel: NotificationChannelName): Promise<DeliveryResult> {
    const name = requireOneOf(channel, 'channel', NOTIFICATION_CHANNELS);
    const n = this.notificationSettings();
    if (name === 'webhook' && !n.webhook.url) throw new ValidationError('notifications.webhook.url', 'save a webhook URL first');
    if (name === 'email' && (!n.email.host || !n.email.from || n.email.to.length === 0)) throw new ValidationError(`notifications.email.${!n.email.host ? 'host' : !n.email.from ? 'from' : 'to'}`, 'save the SMTP server, sender and recipients first');
    const label = name === 'webhook' ? 'webhook' : 'email';
    const event: NotificationEvent = {
      kind: 'test', at: this.now().toISOString(), title: `Test notification from Lifeboat`, text: `This is a test of the ${label} channel, sent from Settings. It works.`,
      severity: 'normal', job: null, run: null, rpo: null,
    };
    // One attempt: the admin is waiting for the answer.
    const result = await this.notifier.deliver(this.notificationChannel(name, n), event, { retries: 0, baseMs: 0, maxMs: 0 });
    this.recordDelivery(result, event);
    return result;
  }

  /** Resolves when every notification sent so far has been delivered or given up (for tests). */
  async notificationsIdle(): Promise<void> {
    await this.notifier.idle();
  }
}

function toRepositoryInfo(r: { id: number; name: string; location: string; passwordRef: string | null; repositoryId: string | null; createdAt: string }, credentials: CredentialField[]): RepositoryInfo {
  return { id: r.id, name: r.name, location: r.location, passwordRef: r.passwordRef, credentials, repositoryId: r.repositoryId, createdAt: r.createdAt };
}

/** An ISO-8601 time from the UI, in `toISOString()` form; ValidationError naming `field` otherwise. */
function isoTime(v: unknown, field: string): string {
  const s = requireString(v, field, { max: 40 });
  const t = Date.parse(s);
  if (!/^\d{4}-\d{2}-\d{2}/.test(s) || Number.isNaN(t)) throw new ValidationError(field, `${JSON.stringify(s)} is not an ISO-8601 date or time`);
  return new Date(t).toISOString();
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new OperationCancelledError('run'));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}
