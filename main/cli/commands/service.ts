import type { Command } from 'commander';
import { formatBytes } from '../../../shared/format.js';
import type { JobStatus } from '../../../shared/api.js';
import type { RunRecord } from '../../../shared/jobs.js';
import { ValidationError } from '../../../shared/validation.js';
import { readSecretFile } from '../options.js';
import path from 'node:path';
import { projectRoot } from '../../../workers/crypto/native.js';
import { targetOptions, type RepositoryFlags } from '../repository.js';
import type { SecretStore } from '../../service/secret-stores.js';
import { prepareDataDir, resolveDataDir } from '../../service/data-dir.js';
import type { LifeboatService } from '../../service/service.js';
import { CREDENTIAL_FIELDS } from '../../../shared/credentials.js';

// The service, store, secret stores and web host are loaded only by the commands that use them:
// `lifeboat backup` and the other engine commands start faster without them.
const loadSecretStores = () => import('../../service/secret-stores.js');

export interface ServiceGlobals extends RepositoryFlags {
  dataDir?: string;
  json?: boolean;
  workers?: string;
  vaultPassphraseFile?: string;
}

/**
 * The secret stores for this process: the OS keychain, and Lifeboat's encrypted
 * secrets file when a passphrase is given (LIFEBOAT_VAULT_PASSPHRASE or
 * --vault-passphrase-file). New secrets go to the encrypted file when it is
 * open (the admin chose it), else to the keychain.
 */
async function secretStores(g: ServiceGlobals, dataDir: string): Promise<{ all: SecretStore[]; forNew: SecretStore }> {
  const { EncryptedFileSecretStore, KeychainSecretStore } = await loadSecretStores();
  const keychain = new KeychainSecretStore();
  let passphrase = process.env.LIFEBOAT_VAULT_PASSPHRASE;
  if (g.vaultPassphraseFile) passphrase = readSecretFile(g.vaultPassphraseFile, 'vault-passphrase-file');
  if (!passphrase) return { all: [keychain], forNew: keychain };
  const vault = await EncryptedFileSecretStore.open(path.join(dataDir, 'secrets.vault'), passphrase);
  return { all: [keychain, vault], forNew: vault };
}

/** The data folder's database, its secret stores, and a service over them (the CLI's and the desktop app's). */
export async function createService(g: ServiceGlobals) {
  const { dir, database } = prepareDataDir(resolveDataDir(g.dataDir));
  const stores = await secretStores(g, dir);
  const [{ openDatabase }, { DefaultSecretResolver }, { LifeboatService }] = await Promise.all([
    import('../../store/database.js'),
    import('../../service/secrets.js'),
    import('../../service/service.js'),
  ]);
  const db = openDatabase(database);
  const svc = new LifeboatService({
    db,
    secrets: new DefaultSecretResolver(process.env, stores.all),
    secretStore: stores.forNew,
    targetOptions: (location) => targetOptions({ ...g, repo: location }),
    dataDir: dir,
    ...(g.workers ? { workers: Number(g.workers) } : {}),
  });
  return { dir, db, svc, stores };
}

/** Runs `fn` with a service over the data folder, then stops the service and closes the database. */
export async function withService<T>(cmd: Command, fn: (svc: LifeboatService, g: ServiceGlobals) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals() as ServiceGlobals;
  const { db, svc } = await createService(g);
  try {
    return await fn(svc, g);
  } finally {
    await svc.stop();
    db.close();
  }
}

function print(g: ServiceGlobals, json: unknown, text: () => string): void {
  process.stdout.write((g.json ? JSON.stringify(json) : text()) + '\n');
}

/** Parses `key=value` settings; values are JSON when they parse as JSON, text otherwise. */
function parseSettings(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new ValidationError('set', `${JSON.stringify(p)} is not key=value`);
    const raw = p.slice(i + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // plain text
    }
    const keys = p.slice(0, i).split('.');
    let o = out;
    for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
    o[keys[keys.length - 1]!] = value;
  }
  return out;
}

/** The job named `ref` (or with that id), or a ValidationError naming the field `job`. */
export async function findJob(svc: LifeboatService, ref: string): Promise<JobStatus> {
  const all = await svc.listJobs();
  const j = all.find((s) => s.job.name === ref || String(s.job.id) === ref);
  if (!j) throw new ValidationError('job', `no job named ${JSON.stringify(ref)}`);
  return j;
}

function runLine(r: RunRecord): string {
  const when = r.startedAt ?? r.queuedAt;
  const extra = r.status === 'skipped' || r.status === 'queued' ? ` (${r.reason ?? r.phase ?? ''})` : r.error ? ` (${r.error})` : r.snapshotId ? ` snapshot ${r.snapshotId.slice(0, 8)}, ${formatBytes(r.bytesAdded)} added` : '';
  return `#${r.id} ${r.kind} ${r.trigger} ${when} ${r.status}${extra}`;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** `field=value` options as an object; the value mapped by `value` (e.g. a file read). */
function pairs(list: string[], option: string, value: (field: string, v: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ValidationError(option, `expected FIELD=VALUE, e.g. sftpKeyPassphrase=${option === 'credential' ? '/root/passphrase.txt' : 'file:/root/passphrase.txt'}`);
    const field = item.slice(0, eq);
    out[field] = value(field, item.slice(eq + 1));
  }
  return out;
}

function readCredentialFile(file: string, field: string): string {
  // A private key keeps its final newline; a password or key ID loses one trailing newline, as with --password-file.
  const text = readSecretFile(file, field, true);
  return text.includes('PRIVATE KEY-----') ? text : text.replace(/\r?\n$/, '');
}

/** Adds `lifeboat repos ...`, `lifeboat jobs ...` and `lifeboat serve`: the service from the terminal. */
export function registerServiceCommands(program: Command): void {
  program.option('--data-dir <dir>', "Lifeboat's data folder (env LIFEBOAT_DATA_DIR; default: the platform's app-data folder)");
  program.option('--vault-passphrase-file <file>', 'keep secrets in an encrypted file in the data folder, opened with this passphrase (env LIFEBOAT_VAULT_PASSPHRASE); for boxes without an OS keychain');

  const repos = program.command('repos').description('repositories the jobs back up to');
  repos
    .command('add')
    .description('register a repository (--init creates it)')
    .argument('<name>')
    .argument('<location>', 'folder or mounted share')
    .option('--password-file <file>', 'read the password from this file and store it in the OS keychain (or the encrypted secrets file)')
    .option('--password-ref <ref>', 'or: where the password is already kept: file:/path, env:NAME, keychain:ACCOUNT')
    .option('--init', 'create a new repository at the location')
    .option('--credential <field=file>', `a target credential read from a file and stored in the keychain (or the encrypted secrets file); fields: ${CREDENTIAL_FIELDS.join(', ')}; repeatable`, collect, [])
    .option('--credential-ref <field=ref>', 'or: where a target credential is already kept (file:/path, env:NAME, keychain:ACCOUNT); repeatable', collect, [])
    .action(async (name: string, location: string, o: { passwordRef?: string; passwordFile?: string; init?: boolean; credential: string[]; credentialRef: string[] }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        // The program's global --password-file takes the flag when it is written after the arguments.
        const passwordFile = o.passwordFile ?? g.passwordFile;
        if (!passwordFile === !o.passwordRef) throw new ValidationError('password', 'give --password-file (stored in the keychain) or --password-ref');
        const secret = passwordFile ? { password: readSecretFile(passwordFile, 'password-file') } : { passwordRef: o.passwordRef! };
        const credentials = pairs(o.credential, 'credential', (field, file) => readCredentialFile(file, `credential ${field}`));
        const credentialRefs = pairs(o.credentialRef, 'credential-ref', (_field, ref) => ref);
        const r = await svc.addRepository({ name, location, ...secret, create: Boolean(o.init), credentials, credentialRefs });
        print(g, r, () => `repository ${r.name} (#${r.id}) at ${r.location}`);
      }),
    );
  repos
    .command('list')
    .action(async (_o: unknown, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const all = await svc.listRepositories();
        print(g, all, () => all.map((r) => `#${r.id} ${r.name} ${r.location}`).join('\n') || 'no repositories');
      }),
    );

  const jobs = program.command('jobs').description('backup jobs and their runs');
  jobs
    .command('add')
    .description('create a job')
    .argument('<name>')
    .requiredOption('--repository <name>', 'repository (name or id) to back up to')
    .requiredOption('--path <path>', 'folder or file to back up (repeatable)', collect)
    .option('--exclude <glob>', 'exclude pattern (repeatable)', collect)
    .option('--include <glob>', 'only back up files matching (repeatable)', collect)
    .option('--schedule <calendar>', 'systemd calendar event, e.g. "Mon..Fri 18:00" or "daily"')
    .option('--set <key=value>', 'any other job setting, e.g. overlap=parallel, uploadWorkers=8, retention={"daily":7} (repeatable)', collect)
    .action(async (name: string, o: { repository: string; path: string[]; exclude?: string[]; include?: string[]; schedule?: string; set?: string[] }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const repo = (await svc.listRepositories()).find((r) => r.name === o.repository || String(r.id) === o.repository);
        if (!repo) throw new ValidationError('repository', `no repository named ${JSON.stringify(o.repository)}; add it with "lifeboat repos add"`);
        const job = await svc.createJob({
          ...parseSettings(o.set ?? []),
          name,
          repositoryId: repo.id,
          sources: { paths: o.path.map((p) => (p.startsWith('/') ? p : `${process.cwd()}/${p}`)), exclude: o.exclude ?? [], include: o.include ?? [] },
          ...(o.schedule ? { schedule: o.schedule } : {}),
        });
        print(g, job, () => `job ${job.name} (#${job.id}) created`);
      }),
    );
  jobs
    .command('list')
    .action(async (_o: unknown, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const all = await svc.listJobs();
        print(g, all, () =>
          all.map((s) => `#${s.job.id} ${s.job.name}: ${s.job.enabled ? '' : '(disabled) '}last ${s.lastRun ? s.lastRun.status : 'never'}, next ${s.nextRun ?? '-'}${s.rpo.breached ? ' RPO BREACHED' : ''}; restore test: ${s.restoreTest.message}`).join('\n') || 'no jobs',
        );
      }),
    );
  jobs
    .command('show')
    .argument('<job>', 'name or id')
    .action(async (ref: string, _o: unknown, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const s = await findJob(svc, ref);
        print(g, s, () => [JSON.stringify(s.job, null, 2), `next run: ${s.nextRun ?? 'none'} — ${s.nextRunReason}`, `last success: ${s.lastSuccess?.endedAt ?? 'never'}`].join('\n'));
      }),
    );
  jobs
    .command('edit')
    .argument('<job>', 'name or id')
    .requiredOption('--set <key=value>', 'setting to change (repeatable), e.g. schedule="Sun 03:00"', collect)
    .action(async (ref: string, o: { set: string[] }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const s = await findJob(svc, ref);
        const job = await svc.updateJob(s.job.id, parseSettings(o.set));
        print(g, job, () => `job ${job.name} updated`);
      }),
    );
  jobs
    .command('remove')
    .argument('<job>', 'name or id')
    .action(async (ref: string, _o: unknown, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const s = await findJob(svc, ref);
        await svc.deleteJob(s.job.id);
        print(g, { removed: s.job.id }, () => `job ${s.job.name} removed (its snapshots stay in the repository)`);
      }),
    );
  jobs
    .command('run')
    .description('run a job now, in the foreground, and wait for it')
    .argument('<job>', 'name or id')
    .option('--prune', 'run the retention policy and prune instead of a backup')
    .option('--check', "check the job's repository instead of a backup (reads data as the job's checkReadData says)")
    .action(async (ref: string, o: { prune?: boolean; check?: boolean }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const s = await findJob(svc, ref);
        const run = await svc.runNow(s.job.id, o.prune ? 'prune' : o.check ? 'check' : 'backup');
        await svc.idle();
        const done = (await svc.listRuns({ jobId: s.job.id, limit: 10 })).find((r) => r.id === run.id)!;
        print(g, done, () => runLine(done));
        process.exitCode = done.status === 'success' ? 0 : done.status === 'partial' ? 3 : 1;
      }),
    );
  jobs
    .command('runs')
    .description("a job's run history, newest first")
    .argument('<job>', 'name or id')
    .option('--limit <n>', 'how many', '20')
    .action(async (ref: string, o: { limit: string }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const s = await findJob(svc, ref);
        const runs = await svc.listRuns({ jobId: s.job.id, limit: Number(o.limit) });
        print(g, runs, () => runs.map(runLine).join('\n') || 'no runs');
      }),
    );
  jobs
    .command('retention-preview')
    .description('which snapshots the retention policy keeps (real, and simulated from the schedule), and what a prune would free')
    .argument('<job>', 'name or id')
    .option('--weeks <n>', 'simulate this many weeks ahead', '12')
    .option('--policy <json>', 'try a policy before saving it, e.g. {"daily":7,"weekly":4}')
    .action(async (ref: string, o: { weeks: string; policy?: string }, cmd: Command) =>
      withService(cmd, async (svc, g) => {
        const s = await findJob(svc, ref);
        let policy: unknown;
        if (o.policy !== undefined) {
          try {
            policy = JSON.parse(o.policy);
          } catch {
            throw new ValidationError('policy', 'is not valid JSON');
          }
        }
        const p = await svc.previewRetention(s.job.id, { weeks: Number(o.weeks), ...(policy !== undefined ? { policy } : {}) });
        print(g, p, () =>
          [
            ...p.entries.map((e) => `${e.keep ? 'keep  ' : 'remove'} ${e.simulated ? '(future)' : e.snapshotId!.slice(0, 8)} ${e.time}${e.reasons.length ? '  ' + e.reasons.join(', ') : ''}`),
            `a prune now would free ${formatBytes(p.bytesFreed ?? 0)}`,
          ].join('\n'),
        );
      }),
    );
  jobs
    .command('log')
    .argument('<run>', 'run id')
    .action(async (id: string, _o: unknown, cmd: Command) =>
      withService(cmd, async (svc) => {
        process.stdout.write(await svc.getRunLog(Number(id)));
      }),
    );

  program
    .command('serve')
    .description('run the scheduler without a window (a daemon for a box without a display)')
    .option('--http', 'also serve the UI and the API to a browser on loopback (a random token per start)')
    .option('--port <n>', 'port for --http (default: a free one)', '0')
    .option('--listen <address>', 'address for --http; anything but loopback needs --allow-remote', '127.0.0.1')
    .option('--allow-remote', 'allow --listen on a non-loopback address')
    .action(async (o: { http?: boolean; port: string; listen: string; allowRemote?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as ServiceGlobals;
      const { dir, db, svc, stores } = await createService(g);
      const keychainWorks = await (await loadSecretStores()).KeychainSecretStore.available();
      process.stdout.write(
        stores.forNew.scheme === 'vault'
          ? `lifeboat serve: secrets are kept in ${stores.forNew.description}\n`
          : keychainWorks
            ? 'lifeboat serve: secrets are kept in the OS keychain\n'
            : 'lifeboat serve: no OS keychain is available here; keychain: passwords cannot be read. Start with LIFEBOAT_VAULT_PASSPHRASE (or --vault-passphrase-file) to keep secrets in an encrypted file instead\n',
      );
      svc.on('runChanged', (r) => process.stdout.write(`${new Date().toISOString()} ${runLine(r)}\n`));
      svc.start();
      process.stdout.write(`lifeboat serve: scheduling ${(await svc.listJobs()).length} jobs from ${dir}\n`);
      const http = o.http
        ? await (await import('../../host/headless.js')).startHeadlessHost(svc, { host: o.listen, port: Number(o.port), allowRemote: Boolean(o.allowRemote), staticDir: path.join(projectRoot(), 'renderer', 'dist') })
        : undefined;
      if (http) process.stdout.write(`lifeboat serve: open ${http.openUrl} (this link carries the access token; it changes at every start)\n`);
      // The scheduler's timers do not hold the process open (the app embeds the service); the daemon must.
      const keepAlive = setInterval(() => {}, 3_600_000);
      await new Promise<void>((resolve) => {
        const stop = (sig: string) => {
          clearInterval(keepAlive);
          process.stdout.write(`lifeboat serve: ${sig}: finishing uploads in flight and stopping\n`);
          resolve();
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      await http?.close();
      await svc.stop();
      db.close();
      process.stdout.write('lifeboat serve: stopped\n');
    });
}
