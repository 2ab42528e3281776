/**
 * The `lifeboat` command line: restic-like commands over the same engine the
 * app uses. Exit codes: 0 success, 1 error, 3 backup finished but some files
 * could not be read (the snapshot exists without them).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { formatBytes, formatDuration } from '../../shared/format.js';
import { formatGoTime, parseGoTime } from '../../shared/repo/gotime.js';
import type { Snapshot } from '../../shared/repo/types.js';
import { backup, startSourceScan } from '../engine/backup.js';
import { defaultCacheDir } from '../engine/folder-cache.js';
import { check } from '../engine/check.js';
import { listLocks, removeLocks } from '../engine/lock.js';
import { Repository, PROGRAM_VERSION } from '../engine/repository.js';
import { restore } from '../engine/restore.js';
import { walkTree } from '../engine/snapshot-walk.js';
import { defaultWorkerCount, EngineWorkerPool } from '../engine/worker-pool.js';
import { cliTarget, closeCliRepositories, openCliRepository, type RepositoryFlags } from './repository.js';
import { ProgressBar } from './progress-bar.js';
import { registerCalendarCommand } from './commands/calendar.js';
import { registerForgetCommand } from './commands/forget.js';
import { registerPruneCommand } from './commands/prune.js';
import { registerRestoreTestCommand } from './commands/restore-test.js';
import { registerServiceCommands } from './commands/service.js';
import { findElectronBinary } from '../host/electron-binary.js';
import { projectRoot } from '../../workers/crypto/native.js';
import { parseIntOption, parseLocalTime, repositoryLocation, repositoryPassword } from './options.js';

export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_PARTIAL = 3;

interface GlobalOptions extends RepositoryFlags {
  json?: boolean;
  quiet?: boolean;
  workers?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

async function openRepo(g: GlobalOptions): Promise<Repository> {
  return openCliRepository(g);
}

function workersOf(g: GlobalOptions): number | undefined {
  return g.workers === undefined ? undefined : parseIntOption(g.workers, 'workers', 1, 64);
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

function shortTime(goTime: string): string {
  const d = new Date(Number(parseGoTime(goTime) / 1_000_000n));
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function modeString(goMode: number, type: string): string {
  const t = type === 'dir' ? 'd' : type === 'symlink' ? 'L' : type === 'file' ? '-' : '?';
  const perm = goMode % 0o1000;
  let s = '';
  for (let i = 8; i >= 0; i--) s += perm & (1 << i) ? 'rwx'[(8 - i) % 3] : '-';
  return t + s;
}

export function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description('Lifeboat: backups in restic-format repositories, with proven restores')
    .version(PROGRAM_VERSION.replace('lifeboat ', ''))
    .option('-r, --repo <location>', 'repository location (env LIFEBOAT_REPOSITORY)')
    .option('--password-file <file>', 'read the repository password from a file (env LIFEBOAT_PASSWORD_FILE; or LIFEBOAT_PASSWORD)')
    .option('--json', 'machine-readable output')
    .option('-q, --quiet', 'no progress output')
    .option('--workers <n>', 'engine worker threads (default: one per core)')
    .option('--limit-upload <kib>', 'limit uploads to this many KiB/s')
    .option('--limit-download <kib>', 'limit downloads to this many KiB/s')
    .option('--transfer-thread', "run the repository's transfers (uploads, downloads) in a thread of their own (the default)")
    .option('--no-transfer-thread', "run the repository's transfers on the main thread instead")
    .option('--sftp-key <file>', 'sftp: private key file (default: ssh-agent)')
    .option('--sftp-key-passphrase-file <file>', "sftp: the key's passphrase (env LIFEBOAT_SFTP_KEY_PASSPHRASE)")
    .option('--sftp-password-file <file>', 'sftp: password (env LIFEBOAT_SFTP_PASSWORD)')
    .option('--s3-region <region>', 's3: region (env AWS_DEFAULT_REGION); keys from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY')
    .option('--s3-path-style', 's3: path-style requests (the default for non-AWS endpoints)')
    .option('--cache-dir <dir>', "backup's folder cache (env LIFEBOAT_CACHE_DIR; default: the platform's cache folder)")
    .option('--no-cache', 'no folder cache: read every parent tree to find unchanged folders')
    .showHelpAfterError();

  const globals = (cmd: Command) => cmd.optsWithGlobals() as GlobalOptions & Record<string, unknown>;
  const progressFor = (g: GlobalOptions) => {
    const bar = new ProgressBar();
    return { bar, onProgress: g.json || g.quiet || !bar.enabled ? undefined : bar.update.bind(bar) };
  };

  program
    .command('init')
    .description('create a new repository')
    .action(async (_o, cmd: Command) => {
      const g = globals(cmd);
      const loc = repositoryLocation(g);
      const repo = await Repository.init(cliTarget(g), repositoryPassword(g));
      await repo.close();
      if (g.json) out(JSON.stringify({ message_type: 'initialized', id: repo.config.id, repository: loc }));
      else out(`created restic repository ${repo.config.id.slice(0, 10)} at ${loc}`);
    });

  program
    .command('backup')
    .description('back up files and folders, creating a snapshot')
    .argument('<paths...>', 'files and folders to back up')
    .option('--tag <tag>', 'add a tag to the snapshot (repeatable)', collect)
    .option('--host <host>', 'hostname recorded in the snapshot')
    .option('--time <time>', 'snapshot time "YYYY-MM-DD HH:MM:SS" (local)')
    .option('-e, --exclude <glob>', 'exclude matching files and folders (repeatable)', collect)
    .option('--parent <snapshot>', 'compare with this snapshot instead of the latest of the same host and paths')
    .option('--force', 'full mode: re-read every file even if unchanged')
    .option('--upload-workers <n>', 'parallel pack uploads', '4')
    .addOption(new Option('--compression <mode>', 'compression').choices(['auto', 'off', 'max']).default('auto'))
    .action(async (paths: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const excludes = (o.exclude as string[]) ?? [];
      // The sources are walked while the key is derived and the repository opened.
      const scan = startSourceScan({ paths, excludes });
      const repo = await openRepo(g);
      const { bar, onProgress } = progressFor(g);
      const ac = new AbortController();
      const onSig = () => ac.abort();
      process.once('SIGINT', onSig);
      process.once('SIGTERM', onSig);
      try {
        const res = await backup(repo, {
          paths,
          tags: (o.tag as string[]) ?? [],
          ...(o.host ? { hostname: o.host as string } : {}),
          ...(o.time ? { time: parseLocalTime(o.time as string) } : {}),
          excludes,
          scan,
          ...(g.cache === false ? {} : { cacheDir: typeof g.cacheDir === 'string' ? g.cacheDir : defaultCacheDir() }),
          ...(o.parent ? { parent: o.parent as string } : {}),
          full: Boolean(o.force),
          workers: workersOf(g),
          uploadConnections: parseIntOption(o.uploadWorkers as string, 'upload-workers', 1, 16),
          compression: o.compression as 'auto' | 'off' | 'max',
          onProgress,
          signal: ac.signal,
        });
        bar.clear();
        const s = res.summary;
        for (const e of res.errors) process.stderr.write(`error: ${e.path}: ${e.message}\n`);
        if (g.json) {
          out(JSON.stringify({ message_type: 'summary', ...s, snapshot_id: res.snapshot.id, partial: res.partial, errors: res.errors, parent: res.parent ?? null, files_read: res.filesRead, bytes_read: res.bytesRead }));
        } else if (!g.quiet) {
          if (res.parent) out(`using parent snapshot ${res.parent.slice(0, 8)}`);
          out(`Files:       ${s.files_new} new, ${s.files_changed} changed, ${s.files_unmodified} unmodified`);
          out(`Dirs:        ${s.dirs_new} new, ${s.dirs_changed} changed, ${s.dirs_unmodified} unmodified`);
          out(`Added to the repository: ${formatBytes(s.data_added)} (${formatBytes(s.data_added_packed)} stored)`);
          const ms = Number((parseGoTime(s.backup_end) - parseGoTime(s.backup_start)) / 1_000_000n);
          out(`processed ${s.total_files_processed} files, ${formatBytes(s.total_bytes_processed)} in ${formatDuration(ms)}`);
          out(`snapshot ${res.snapshot.id.slice(0, 8)} saved${res.partial ? ` (partial: ${res.errors.length} files or folders could not be read)` : ''}`);
        }
        process.exitCode = res.partial ? EXIT_PARTIAL : EXIT_OK;
      } finally {
        bar.clear();
        process.off('SIGINT', onSig);
        process.off('SIGTERM', onSig);
      }
    });

  program
    .command('snapshots')
    .description('list snapshots')
    .option('--host <host>', 'only snapshots of this host')
    .option('--tag <tag>', 'only snapshots with this tag', collect)
    .option('--path <path>', 'only snapshots including this path', collect)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const repo = await openRepo(g);
      let snaps: Snapshot[] = await repo.listSnapshots();
      if (o.host) snaps = snaps.filter((s) => s.hostname === o.host);
      for (const t of (o.tag as string[]) ?? []) snaps = snaps.filter((s) => s.tags?.includes(t));
      for (const p of (o.path as string[]) ?? []) snaps = snaps.filter((s) => s.paths.includes(p));
      if (g.json) {
        out(JSON.stringify(snaps.map((s) => ({ ...s, short_id: s.id.slice(0, 8) }))));
        return;
      }
      out('ID        Time                 Host            Tags        Paths');
      out('-'.repeat(76));
      for (const s of snaps) {
        out(`${s.id.slice(0, 8)}  ${shortTime(s.time)}  ${(s.hostname ?? '').padEnd(14)}  ${(s.tags ?? []).join(',').padEnd(10)}  ${s.paths.join(', ')}`);
      }
      out('-'.repeat(76));
      out(`${snaps.length} snapshots`);
    });

  program
    .command('ls')
    .description("list a snapshot's files and folders")
    .argument('<snapshot>', 'snapshot ID, ID prefix or "latest"')
    .argument('[dirs...]', 'only entries under these snapshot paths')
    .option('-l, --long', 'long listing (mode, size, time)')
    .action(async (ref: string, dirs: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const repo = await openRepo(g);
      const snap = await repo.findSnapshot(ref);
      const prefixes = dirs.map((d) => '/' + d.split('/').filter(Boolean).join('/'));
      const wanted = (p: string) => prefixes.length === 0 || prefixes.some((d) => p === d || p.startsWith(d + '/') || d.startsWith(p + '/'));
      const listed = (p: string) => prefixes.length === 0 || prefixes.some((d) => p === d || p.startsWith(d + '/'));
      if (g.json) out(JSON.stringify({ struct_type: 'snapshot', message_type: 'snapshot', ...snap, short_id: snap.id.slice(0, 8) }));
      else out(`snapshot ${snap.id.slice(0, 8)} of [${snap.paths.join(' ')}] at ${snap.time}:`);
      for await (const { path: p, node } of walkTree(repo, snap.tree, '', (dp) => wanted(dp))) {
        if (!listed(p)) continue;
        if (g.json) {
          out(JSON.stringify({
            name: node.name, type: node.type, path: p, uid: node.uid, gid: node.gid,
            ...(node.size !== undefined ? { size: node.size } : {}),
            mode: node.mode, permissions: modeString(node.mode, node.type),
            mtime: formatGoTime(node.mtime), atime: formatGoTime(node.atime), ctime: formatGoTime(node.ctime),
            ...(node.linktarget ? { linktarget: node.linktarget } : {}),
            struct_type: 'node', message_type: 'node',
          }));
        } else if (o.long) {
          out(`${modeString(node.mode, node.type)} ${String(node.uid).padStart(5)} ${String(node.gid).padStart(5)} ${String(node.size ?? 0).padStart(12)} ${shortTime(formatGoTime(node.mtime))} ${p}${node.linktarget ? ' -> ' + node.linktarget : ''}`);
        } else out(p);
      }
    });

  program
    .command('restore')
    .description('restore a snapshot into a folder')
    .argument('<snapshot>', 'snapshot ID, ID prefix or "latest"')
    .requiredOption('-t, --target <dir>', 'folder to restore into')
    .option('-i, --include <path>', 'restore only this snapshot path (repeatable)', collect)
    .option('--host <host>', 'for "latest": only snapshots of this host')
    .action(async (ref: string, o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      // A restore always needs its workers: they load their code while the key is derived.
      EngineWorkerPool.prewarm(workersOf(g) ?? defaultWorkerCount());
      const repo = await openRepo(g);
      const snap = await repo.findSnapshot(ref, o.host ? (s) => s.hostname === o.host : undefined);
      const { bar, onProgress } = progressFor(g);
      const started = Date.now();
      const res = await restore(repo, snap, { target: o.target as string, include: (o.include as string[]) ?? [], workers: workersOf(g), onProgress });
      bar.clear();
      for (const e of res.errors) process.stderr.write(`error: ${e.path}: ${e.message}\n`);
      if (g.json) out(JSON.stringify({ message_type: 'summary', snapshot_id: snap.id, files_restored: res.files, dirs_restored: res.dirs, symlinks_restored: res.symlinks, bytes_restored: res.bytes, errors: res.errors }));
      else if (!g.quiet) out(`restored snapshot ${snap.id.slice(0, 8)} to ${o.target}: ${res.files} files, ${res.dirs} folders, ${formatBytes(res.bytes)} in ${formatDuration(Date.now() - started)}${res.errors.length ? `, ${res.errors.length} errors` : ''}`);
      process.exitCode = res.errors.length ? EXIT_ERROR : EXIT_OK;
    });

  program
    .command('check')
    .description('check the repository for errors')
    .option('--read-data', 'read and verify every blob of every pack')
    .option('--read-data-subset <subset>', 'read only a subset of packs: n/t or P%')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const repo = await openRepo(g);
      const { bar, onProgress } = progressFor(g);
      const res = await check(repo, {
        readData: Boolean(o.readData),
        ...(o.readDataSubset ? { readDataSubset: o.readDataSubset as string } : {}),
        workers: workersOf(g),
        onProgress,
      });
      bar.clear();
      if (g.json) out(JSON.stringify({ message_type: 'summary', ok: res.errors.length === 0, ...res }));
      else {
        for (const w of res.warnings) out(`warning: ${w}`);
        for (const e of res.errors) out(`error: ${e}`);
        out(`checked ${res.snapshots} snapshots, ${res.trees} trees, ${res.packs} packs${res.packsRead ? `; read ${res.packsRead} packs (${formatBytes(res.bytesRead)})` : ''}`);
        out(res.errors.length === 0 ? 'no errors were found' : `${res.errors.length} errors found`);
      }
      process.exitCode = res.errors.length === 0 ? EXIT_OK : EXIT_ERROR;
    });

  registerForgetCommand(program);
  registerCalendarCommand(program);
  registerPruneCommand(program);
  registerServiceCommands(program);
  registerRestoreTestCommand(program);

  program
    .command('unlock')
    .description('remove stale locks (whose process is gone or that were not refreshed for 30 minutes)')
    .option('--remove-all', 'remove all locks, even ones that look alive')
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const repo = await openRepo(g);
      const before = await listLocks(repo);
      const removed = await removeLocks(repo, Boolean(o.removeAll));
      if (g.json) out(JSON.stringify({ removed, kept: before.filter((l) => !removed.some((r) => r.id === l.id)) }));
      else {
        for (const r of removed) out(`removed lock ${r.id.slice(0, 8)} of ${r.lock.username}@${r.lock.hostname} pid ${r.lock.pid}: ${r.reason}`);
        for (const l of before) if (!removed.some((r) => r.id === l.id)) out(`kept lock ${l.id.slice(0, 8)}: ${l.reason}`);
        if (before.length === 0) out('no locks');
      }
    });

  program
    .command('start')
    .description('start the app: the desktop window where Electron is installed; otherwise the scheduler, headless')
    .option('--hidden', 'desktop app: start in the tray without opening the window')
    .action(async (o: { hidden?: boolean }) => {
      const root = projectRoot();
      const electron = findElectronBinary(root);
      const built = existsSync(path.join(root, 'dist', 'main', 'electron', 'main.js'));
      if (electron.path && built) {
        process.stdout.write('lifeboat start: opening the desktop app\n');
        const child = spawn(electron.path, [root, ...(o.hidden ? ['--hidden'] : [])], { stdio: 'inherit' });
        const code = await new Promise<number>((resolve) => child.once('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
        process.exitCode = code;
        return;
      }
      const why = electron.path === null ? electron.reason : 'the desktop app is not built (npm run build)';
      process.stdout.write(
        `lifeboat start: the desktop window cannot open here: ${why}; starting the headless host instead\n` +
          '(the scheduler, and the same UI for a browser on loopback: open the address printed below). Ctrl+C stops.\n',
      );
      await program.commands.find((c) => c.name() === 'serve')!.parseAsync(['--http'], { from: 'user' });
    });

  return program;
}

export async function main(argv = process.argv): Promise<void> {
  // `lifeboat ls latest | head` closes our stdout early; that is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK);
    throw e;
  });
  const program = buildProgram();
  program.exitOverride();
  // A command holds the process open until it finishes, whatever its targets do with their sockets
  // (an idle SFTP target unrefs them so that an embedding app can exit).
  const keepAlive = setInterval(() => {}, 1 << 30);
  try {
    await program.parseAsync(argv);
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (err.code?.startsWith('commander.')) {
      process.exitCode = err.exitCode ?? EXIT_ERROR;
      return;
    }
    process.stderr.write(`lifeboat: ${err.message}\n`);
    if (process.env.LIFEBOAT_DEBUG && err.stack) process.stderr.write(err.stack + '\n');
    process.exitCode = EXIT_ERROR;
  } finally {
    await closeCliRepositories();
    clearInterval(keepAlive);
  }
}

await main();
