/**
 * S3Target against s3rver (test/helpers/s3-server.ts) on 127.0.0.1: the
 * StorageTarget contract suite, a real repository round trip (backup with a
 * multipart pack upload, check --read-data, restore byte for byte), restic
 * itself reading the repository through S3 (check --read-data), error
 * classification (bad credentials permanent, a stopped server transient) and
 * the location parser.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, promises as fsp, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { check } from '../../main/engine/check.js';
import { Repository } from '../../main/engine/repository.js';
import { restore } from '../../main/engine/restore.js';
import { RetryingTarget, TargetError } from '../../main/engine/targets/retry.js';
import { S3Target, isTransientS3Error, parseS3Location } from '../../main/engine/targets/s3.js';
import { NotFoundError, isNotFound, loadAll, type FileHandle } from '../../main/engine/targets/target.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { requireTool } from '../helpers/tools.js';
import { describeTargetContract, type RawStorage } from './target-contract.js';

let server: S3Server;
let rawClient: S3Client;

beforeAll(async () => {
  server = await startS3Server();
  rawClient = new S3Client({
    region: 'us-east-1',
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
});
afterAll(async () => {
  rawClient?.destroy();
  await server?.dispose();
});

const uniquePrefix = (what: string) => `${what}-${randomBytes(6).toString('hex')}`;

/** Lists every key under a prefix, bypassing the target. */
async function rawKeys(bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const r = await rawClient.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ...(token ? { ContinuationToken: token } : {}) }));
    for (const o of r.Contents ?? []) out.push(o.Key!.slice(prefix.length + 1));
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}

function s3Raw(bucket: string, prefix: string): RawStorage {
  return {
    files: () => rawKeys(bucket, prefix),
    async write(rel, data) {
      await rawClient.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${rel}`, Body: Buffer.from(data) }));
    },
  };
}

function makeTarget(prefix: string, opts: Partial<ConstructorParameters<typeof S3Target>[1]> = {}, bucket = server.bucket): S3Target {
  return new S3Target(`s3:${server.endpoint}/${bucket}/${prefix}`, {
    accessKeyId: server.accessKeyId,
    secretAccessKey: server.secretAccessKey,
    connections: 4,
    ...opts,
  });
}

async function removeAll(bucket: string, prefix: string): Promise<void> {
  for (const k of await rawKeys(bucket, prefix)) await rawClient.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}/${k}` }));
}

/** Records the SDK commands a target sends (and lets a test fail some). */
async function recordCommands(t: S3Target, inject?: (name: string, input: unknown) => void): Promise<string[]> {
  const names: string[] = [];
  (await t.sdkClient()).middlewareStack.add(
    (next, context) => async (args) => {
      const name = String((context as { commandName?: string }).commandName);
      names.push(name);
      inject?.(name, args.input);
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return names;
}

describeTargetContract(
  'S3Target',
  async () => {
    const prefix = uniquePrefix('contract');
    return { target: makeTarget(prefix), raw: s3Raw(server.bucket, prefix), cleanup: () => removeAll(server.bucket, prefix) };
  },
  { temporaryFiles: false },
);

describe('parseS3Location', () => {
  it('reads restic location forms', () => {
    expect(parseS3Location('s3:https://minio.example.com:9000/backups/office/pc1')).toEqual({
      endpoint: 'https://minio.example.com:9000',
      host: 'minio.example.com',
      bucket: 'backups',
      prefix: 'office/pc1',
      aws: false,
    });
    expect(parseS3Location('s3:http://127.0.0.1:4568/b1')).toMatchObject({ endpoint: 'http://127.0.0.1:4568', bucket: 'b1', prefix: '' });
    expect(parseS3Location('s3:s3.amazonaws.com/bucket/prefix/')).toMatchObject({ endpoint: 'https://s3.amazonaws.com', bucket: 'bucket', prefix: 'prefix', aws: true });
    expect(parseS3Location('s3:https://s3.eu-west-1.amazonaws.com/bucket')).toMatchObject({ aws: true, region: 'eu-west-1' });
    expect(parseS3Location('s3:s3.us-west-002.backblazeb2.com/b2bucket/x')).toMatchObject({ endpoint: 'https://s3.us-west-002.backblazeb2.com', aws: false });
  });

  it('refuses malformed locations, naming them, and never echoes credentials', () => {
    expect(() => parseS3Location('s3:https://host.example.com')).toThrow(/"s3:https:\/\/host.example.com": no bucket name/);
    expect(() => parseS3Location('s3:https://host.example.com/')).toThrow(/no bucket name/);
    expect(() => parseS3Location('s3:ftp://host/bucket')).toThrow(/only http:\/\/ and https:\/\//);
    expect(() => parseS3Location('s3:https://host/bucket/a/../b')).toThrow(/invalid prefix/);
    expect(() => parseS3Location('s3:https://host/bucket//b')).toThrow(/invalid prefix/);
    expect(() => parseS3Location('s3:https://host:99999/bucket')).toThrow(/invalid port/);
    expect(() => parseS3Location('s3:https://host/b')).toThrow(/invalid bucket name/);
    expect(() => parseS3Location('/srv/repo')).toThrow(/not an s3: location/);
    let msg = '';
    try {
      parseS3Location('s3:https://AKIAKEY:supersecret@host/bucket');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/credentials do not belong in the location/);
    expect(msg).not.toContain('supersecret');
    expect(msg).not.toContain('AKIAKEY');
  });

  it('the target shows a location without secrets and validates its options', () => {
    const t = new S3Target('s3:http://127.0.0.1:1/bucket/some/prefix/', { accessKeyId: 'id', secretAccessKey: 'sekret-value' });
    expect(t.location).toBe('s3:http://127.0.0.1:1/bucket/some/prefix');
    expect(t.connections).toBe(4);
    expect(t.key({ type: 'data', name: 'ab'.repeat(32) })).toBe(`some/prefix/data/ab/${'ab'.repeat(32)}`);
    expect(t.key({ type: 'config', name: '' })).toBe('some/prefix/config');
    expect(() => new S3Target('s3:http://127.0.0.1:1/bucket', { accessKeyId: 'id', secretAccessKey: '' })).toThrow(/secret access key is required/);
    expect(() => new S3Target('s3:http://127.0.0.1:1/bucket', { accessKeyId: 'id', secretAccessKey: 'x', connections: 0 })).toThrow(/connections/);
    void t.close();
  });
});

describe('isTransientS3Error', () => {
  it('classifies S3 and network errors', () => {
    const s3err = (name: string, status: number) => Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });
    expect(isTransientS3Error(s3err('InternalError', 500))).toBe(true);
    expect(isTransientS3Error(s3err('ServiceUnavailable', 503))).toBe(true);
    expect(isTransientS3Error(s3err('SlowDown', 503))).toBe(true);
    expect(isTransientS3Error(s3err('TooManyRequests', 429))).toBe(true);
    expect(isTransientS3Error(s3err('Throttling', 400))).toBe(true);
    expect(isTransientS3Error(s3err('RequestTimeout', 400))).toBe(true);
    expect(isTransientS3Error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientS3Error(Object.assign(new Error('timeout'), { name: 'TimeoutError' }))).toBe(true);
    expect(isTransientS3Error(s3err('AccessDenied', 403))).toBe(false);
    expect(isTransientS3Error(s3err('InvalidAccessKeyId', 403))).toBe(false);
    expect(isTransientS3Error(s3err('SignatureDoesNotMatch', 403))).toBe(false);
    expect(isTransientS3Error(s3err('NoSuchBucket', 404))).toBe(false);
    expect(isTransientS3Error(s3err('NotFound', 404))).toBe(false);
    expect(isTransientS3Error(new NotFoundError({ type: 'config', name: '' }, 's3:x'))).toBe(false);
    expect(isTransientS3Error(new Error('what'))).toBe(false);
    expect(isTransientS3Error(undefined)).toBe(false);
  });
});

describe('S3Target against s3rver', () => {
  it('creates a missing bucket on create(), and works in it', async () => {
    const t = makeTarget('repo', {}, `made-${randomBytes(4).toString('hex')}`);
    try {
      await t.create();
      const h: FileHandle = { type: 'keys', name: 'c'.repeat(64) };
      await t.save(h, Buffer.from('key'));
      expect((await loadAll(t, h)).toString()).toBe('key');
      expect(await t.list('keys')).toEqual([{ name: h.name, size: 3 }]);
    } finally {
      await t.close();
    }
  });

  it('works at the bucket root (no prefix)', async () => {
    const bucket = `root-${randomBytes(4).toString('hex')}`;
    const t = new S3Target(`s3:${server.endpoint}/${bucket}`, { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    try {
      await t.create();
      const h: FileHandle = { type: 'data', name: 'de'.repeat(32) };
      await t.save(h, Buffer.from('pack'));
      const r = await rawClient.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect((r.Contents ?? []).map((o) => o.Key)).toEqual([`data/de/${h.name}`]);
      expect(await t.list('data')).toEqual([{ name: h.name, size: 4 }]);
    } finally {
      await t.close();
    }
  });

  it('uploads files over 16 MiB in parts, and reads ranges across part boundaries', async () => {
    const prefix = uniquePrefix('multipart');
    const t = makeTarget(prefix);
    const commands = await recordCommands(t);
    try {
      await t.create();
      const data = randomBytes(20 * 1024 * 1024 + 17);
      const h: FileHandle = { type: 'data', name: createHash('sha256').update(data).digest('hex') };
      commands.length = 0;
      await t.save(h, data);
      expect(commands.sort()).toEqual(['CompleteMultipartUploadCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand']);
      commands.length = 0;
      await t.save({ type: 'data', name: 'ee'.repeat(32) }, data.subarray(0, 16 * 1024 * 1024));
      expect(commands).toEqual(['PutObjectCommand']);
      await t.remove({ type: 'data', name: 'ee'.repeat(32) });
      expect(await t.stat(h)).toEqual({ name: h.name, size: data.length });
      const at = 8 * 1024 * 1024 - 5;
      expect((await t.load(h, 10, at, (b) => Buffer.from(b))).equals(data.subarray(at, at + 10))).toBe(true);
      expect((await loadAll(t, h)).equals(data)).toBe(true);
      expect(await rawKeys(server.bucket, prefix)).toEqual([`data/${h.name.slice(0, 2)}/${h.name}`]);
    } finally {
      await t.close();
      await removeAll(server.bucket, prefix);
    }
  });

  it('aborts a multipart upload when a part fails, leaving nothing', async () => {
    const prefix = uniquePrefix('abort');
    const t = makeTarget(prefix);
    const commands = await recordCommands(t, (name, input) => {
      if (name === 'UploadPartCommand' && (input as { PartNumber?: number }).PartNumber === 2) throw Object.assign(new Error('injected'), { code: 'ECONNRESET' });
    });
    try {
      await t.create();
      const data = randomBytes(17 * 1024 * 1024);
      const h: FileHandle = { type: 'data', name: createHash('sha256').update(data).digest('hex') };
      const err = await t.save(h, data).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(String(err)).toMatch(/injected/);
      expect(String(err)).toContain(t.location);
      expect(isTransientS3Error(err)).toBe(true);
      expect(commands).toContain('AbortMultipartUploadCommand');
      expect(commands).not.toContain('CompleteMultipartUploadCommand');
      expect(isNotFound(await t.stat(h).catch((e: unknown) => e))).toBe(true);
      expect(await rawKeys(server.bucket, prefix)).toEqual([]);
    } finally {
      await t.close();
      await removeAll(server.bucket, prefix);
    }
  });

  it('bounds parallel requests to connections', async () => {
    const prefix = uniquePrefix('bound');
    const t = makeTarget(prefix, { connections: 2 });
    // Count requests in flight through the SDK's middleware stack.
    let inFlight = 0;
    let most = 0;
    (await t.sdkClient()).middlewareStack.add(
      (next) => async (args) => {
        inFlight++;
        most = Math.max(most, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: 'initialize', name: 'countInFlight' },
    );
    try {
      await t.create();
      await Promise.all(Array.from({ length: 12 }, (_, i) => t.save({ type: 'index', name: i.toString(16).padStart(64, '0') }, randomBytes(100_000))));
      expect(most).toBe(2);
    } finally {
      await t.close();
      await removeAll(server.bucket, prefix);
    }
  });

  it('wrong credentials: a permanent error naming the target, without the secret', async () => {
    const secret = 'Wr0ngSecretKeyValue/ab+cd';
    const t = new S3Target(`s3:${server.endpoint}/${server.bucket}/creds`, { accessKeyId: 'NOSUCHKEY', secretAccessKey: secret });
    const retrying = new RetryingTarget(t, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, isTransient: isTransientS3Error });
    try {
      for (const op of [() => retrying.create(), () => retrying.list('keys'), () => loadAll(retrying, { type: 'config', name: '' }), () => retrying.save({ type: 'keys', name: 'a'.repeat(64) }, Buffer.from('x'))]) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(TargetError);
        expect((err as TargetError).transient).toBe(false);
        expect(isTransientS3Error((err as TargetError).cause)).toBe(false);
        const msg = (err as Error).message;
        expect(msg).toContain(t.location);
        expect(msg).toMatch(/InvalidAccessKeyId|403/);
        expect(msg).not.toContain(secret);
        expect(JSON.stringify(err)).not.toContain(secret);
      }
    } finally {
      await retrying.close();
    }
  });

  it('a stopped server: transient errors (retried), then works again once it is back', async () => {
    const prefix = uniquePrefix('down');
    const t = makeTarget(prefix);
    const h: FileHandle = { type: 'keys', name: 'b'.repeat(64) };
    try {
      await t.create();
      await t.save(h, Buffer.from('before'));
      await server.stop();
      try {
        const err = await t.stat(h).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeDefined();
        expect(isNotFound(err)).toBe(false);
        expect(isTransientS3Error(err)).toBe(true);
        expect((err as Error).message).toContain(t.location);
        const retries: number[] = [];
        const retrying = new RetryingTarget(t, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2, isTransient: isTransientS3Error, onRetry: (_w, i) => retries.push(i) });
        const final = await retrying.list('keys').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect((final as TargetError).transient).toBe(true);
        expect(retries).toEqual([1, 2]);
      } finally {
        await server.start();
      }
      expect((await loadAll(t, h)).toString()).toBe('before');
    } finally {
      await t.close();
      await removeAll(server.bucket, prefix);
    }
  });

  it('throughput on loopback (informational)', async () => {
    const prefix = uniquePrefix('speed');
    const t = makeTarget(prefix, { connections: 4 });
    try {
      await t.create();
      const files = Array.from({ length: 8 }, () => randomBytes(16 * 1024 * 1024));
      const hs = files.map((d) => ({ type: 'data' as const, name: createHash('sha256').update(d).digest('hex') }));
      const total = files.reduce((n, d) => n + d.length, 0) / (1024 * 1024);
      let t0 = performance.now();
      await Promise.all(files.map((d, i) => t.save(hs[i]!, d)));
      const up = total / ((performance.now() - t0) / 1000);
      t0 = performance.now();
      const got = await Promise.all(hs.map((h) => loadAll(t, h)));
      const down = total / ((performance.now() - t0) / 1000);
      got.forEach((b, i) => expect(b.equals(files[i]!)).toBe(true));
      console.log(`S3Target on s3rver, loopback, 4 connections, ${total} MiB in 16 MiB objects: save ${up.toFixed(0)} MiB/s, load ${down.toFixed(0)} MiB/s`);
    } finally {
      await t.close();
      await removeAll(server.bucket, prefix);
    }
  });
});

/** Runs a command without blocking the event loop (s3rver runs in this process). */
function run(cmd: string, args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('a repository in S3', () => {
  const PASSWORD = 'correct horse battery staple';
  let dir: string;
  let prefix: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3-repo-'));
    prefix = uniquePrefix('repo');
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await removeAll(server.bucket, prefix).catch(() => {});
  });

  const open = () => new RetryingTarget(makeTarget(prefix), { isTransient: isTransientS3Error, baseDelayMs: 10 });

  it('backs up (with a multipart pack), checks with --read-data, restores byte for byte; restic checks it too', async () => {
    const src = path.join(dir, 'src');
    await fsp.mkdir(path.join(src, 'docs'), { recursive: true });
    const big = randomBytes(20 * 1024 * 1024);
    writeFileSync(path.join(src, 'big.bin'), big);
    writeFileSync(path.join(src, 'docs', 'a.txt'), 'hello S3\n');
    writeFileSync(path.join(src, 'docs', 'b.txt'), randomBytes(100_000));

    const repo = await Repository.init(open(), PASSWORD);
    let result;
    try {
      // Random data does not compress: one 20 MiB pack, over the 16 MiB multipart threshold.
      result = await backup(repo, { paths: [src], packSize: 20 * 1024 * 1024, workers: 2, uploadConnections: 4 });
    } finally {
      await repo.close();
    }
    expect(result.partial).toBe(false);
    const packs = (await rawKeys(server.bucket, prefix)).filter((k) => k.startsWith('data/'));
    expect(packs.length).toBeGreaterThan(0);

    const fresh = await Repository.open(open(), PASSWORD);
    try {
      const sizes = await fresh.target.list('data');
      expect(Math.max(...sizes.map((s) => s.size))).toBeGreaterThan(16 * 1024 * 1024);
      const res = await check(fresh, { readData: true, workers: 2 });
      expect(res.errors).toEqual([]);
      expect(res.packsRead).toBe(sizes.length);

      const target = path.join(dir, 'restored');
      const snap = await fresh.findSnapshot(result.snapshot.id);
      const rr = await restore(fresh, snap, { target, workers: 2 });
      expect(rr.errors).toEqual([]);
      const back = (p: string) => readFileSync(path.join(target, src, p));
      expect(back('big.bin').equals(big)).toBe(true);
      expect(back('docs/a.txt').toString()).toBe('hello S3\n');
      expect(back('docs/b.txt').equals(readFileSync(path.join(src, 'docs', 'b.txt')))).toBe(true);
    } finally {
      await fresh.close();
    }

    // The oracle: restic itself, through its own S3 client.
    requireTool('restic');
    const env = {
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      RESTIC_PASSWORD: PASSWORD,
    };
    const r = await run('restic', ['--no-cache', '-r', `s3:${server.endpoint}/${server.bucket}/${prefix}`, 'check', '--read-data'], env);
    expect(r.status, `restic check --read-data\nstdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/no errors were found/);
  }, 180_000);
});
