import path from 'node:path';
import { Repository } from '../engine/repository.js';
import type { OpenTargetOptions } from '../engine/targets/open-target.js';
import { RetryingTarget } from '../engine/targets/retry.js';
import type { StorageTarget } from '../engine/targets/target.js';
import { openTransferTarget } from '../engine/targets/transfer-target.js';
import { resolveDataDir } from '../service/data-dir.js';
import { SharedTokenBucket } from '../../workers/engine/token-bucket.js';
import { parseIntOption, readSecretFile, repositoryLocation, repositoryPassword, UsageError, type RepoOptions } from './options.js';

/** Global options that say how to reach and open a repository. */
export interface RepositoryFlags extends RepoOptions {
  dataDir?: string;
  sftpKey?: string;
  sftpKeyPassphraseFile?: string;
  sftpPasswordFile?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  limitUpload?: string;
  limitDownload?: string;
  /** false (--no-transfer-thread): transfers on the main thread; absent or true: in a thread of their own. */
  transferThread?: boolean;
}

/**
 * What the location's target needs, from flags and environment (restic's own
 * variable names for S3, so both tools share one environment). Secrets come
 * from files or the environment and never reach output.
 */
export function targetOptions(g: RepositoryFlags, env: NodeJS.ProcessEnv = process.env): OpenTargetOptions {
  const loc = repositoryLocation(g, env);
  const opts: OpenTargetOptions = {};
  if (/^sftp:/i.test(loc)) {
    const password = g.sftpPasswordFile ? readSecretFile(g.sftpPasswordFile, 'sftp-password-file') : env.LIFEBOAT_SFTP_PASSWORD;
    const passphrase = g.sftpKeyPassphraseFile ? readSecretFile(g.sftpKeyPassphraseFile, 'sftp-key-passphrase-file') : env.LIFEBOAT_SFTP_KEY_PASSPHRASE;
    opts.sftp = {
      knownHostsFile: path.join(resolveDataDir(g.dataDir, env), 'known_hosts.json'),
      ...(g.sftpKey ? { privateKeyFile: g.sftpKey } : {}),
      ...(passphrase ? { passphrase } : {}),
      ...(password ? { password } : {}),
      onNewHostKey: (fp, info) => process.stderr.write(`lifeboat: pinned the host key of ${info.hostPort}: ${info.keyType} ${fp} (in ${info.file})\n`),
    };
  }
  if (/^s3:/i.test(loc)) {
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId) throw new UsageError('s3: set AWS_ACCESS_KEY_ID (and AWS_SECRET_ACCESS_KEY) for s3: repositories');
    if (!secretAccessKey) throw new UsageError('s3: set AWS_SECRET_ACCESS_KEY for s3: repositories');
    opts.s3 = {
      accessKeyId,
      secretAccessKey,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      ...((g.s3Region ?? env.AWS_DEFAULT_REGION) ? { region: (g.s3Region ?? env.AWS_DEFAULT_REGION)! } : {}),
      ...(g.s3PathStyle ? { forcePathStyle: true } : {}),
    };
  }
  return opts;
}

/** The repository's target, with retries on transient errors and the bandwidth limits asked for. */
export function cliTarget(g: RepositoryFlags, connections?: number): StorageTarget {
  const location = repositoryLocation(g);
  const options = { ...targetOptions(g), ...(connections ? { connections } : {}) };
  const up = g.limitUpload === undefined ? 0 : parseIntOption(g.limitUpload, 'limit-upload', 1, 10 * 1024 * 1024);
  const down = g.limitDownload === undefined ? 0 : parseIntOption(g.limitDownload, 'limit-download', 1, 10 * 1024 * 1024);
  const upload = up ? [SharedTokenBucket.create(up * 1024)] : [];
  const download = down ? [SharedTokenBucket.create(down * 1024)] : [];
  // In a thread of its own unless --no-transfer-thread: the buckets are shared memory, the host-key notice comes back here.
  const target = openTransferTarget(location, options, { thread: g.transferThread !== false, upload, download });
  return new RetryingTarget(target, {
    onRetry: (what, n, ms, e) => process.stderr.write(`lifeboat: ${what}: attempt ${n} failed (${e.message}); retrying in ${(ms / 1000).toFixed(1)} s\n`),
  });
}

const opened: Repository[] = [];

/** Opens the repository the flags name; `closeCliRepositories` closes it when the command ends. */
export async function openCliRepository(g: RepositoryFlags, connections?: number): Promise<Repository> {
  const password = repositoryPassword(g);
  const target = cliTarget(g, connections);
  try {
    const repo = await Repository.open(target, password);
    opened.push(repo);
    return repo;
  } catch (e) {
    await target.close().catch(() => {});
    throw e;
  }
}

/** Closes every repository this command opened (ends SFTP/S3 connections cleanly). */
export async function closeCliRepositories(): Promise<void> {
  await Promise.all(opened.splice(0).map((r) => r.close().catch(() => {})));
}
