import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import type { CompletedPart, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';

type AwsS3 = typeof import('@aws-sdk/client-s3');
let awsS3Module: Promise<AwsS3> | undefined;
/** The AWS SDK is loaded on the first request: it takes ~0.3 s to load, and most commands never talk to S3. */
function loadAwsS3(): Promise<AwsS3> {
  awsS3Module ??= import('@aws-sdk/client-s3');
  return awsS3Module;
}
import type { FileType } from '../../../shared/repo/types.js';
import { NotFoundError, type FileHandle, type FileInfo, type StorageTarget } from './target.js';

/** Where an `s3:` location points. */
export interface S3Location {
  /** `https://host[:port]` or `http://host[:port]`. */
  endpoint: string;
  /** Host name (no port), lower case. */
  host: string;
  bucket: string;
  /** Key prefix without leading or trailing "/" ("" for the bucket root). */
  prefix: string;
  /** True for Amazon's own endpoints (`*.amazonaws.com`). */
  aws: boolean;
  /** The region an AWS endpoint names (`s3.eu-west-1.amazonaws.com`), if any. */
  region?: string;
}

export interface S3Options {
  accessKeyId: string;
  /** Never logged, never part of an error message. */
  secretAccessKey: string;
  /** For temporary credentials (STS). */
  sessionToken?: string;
  /** Default: the region an AWS host names, else 'us-east-1' (what MinIO and most S3-compatible stores expect). */
  region?: string;
  /** Path-style URLs (`host/bucket/key`). Default: true except on Amazon's endpoints. */
  forcePathStyle?: boolean;
  /** Parallel requests (default 4). */
  connections?: number;
  /** Socket inactivity timeout per request (ms, default 120 000). */
  requestTimeoutMs?: number;
  /** Connect timeout (ms, default 30 000). */
  connectionTimeoutMs?: number;
}

/** Objects larger than this are uploaded in parts. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
/** Size of each part of a multipart upload (the last one may be smaller). */
export const PART_SIZE = 8 * 1024 * 1024;

const ID_RE = /^[0-9a-f]{64}$/;
const DIRS: Exclude<FileType, 'config'>[] = ['data', 'index', 'keys', 'locks', 'snapshots'];

/** A location as it may be shown: any user:password@ part removed. */
function redact(location: string): string {
  return location.replace(/^(s3:(?:https?:\/\/)?)[^/@]*@/i, '$1***@');
}

/**
 * Parses restic's S3 location forms: `s3:https://host[:port]/bucket[/prefix]`,
 * `s3:http://host[:port]/bucket[/prefix]` and `s3:host[:port]/bucket[/prefix]`
 * (https). Errors name the location (credentials never belong in it and are
 * refused, redacted).
 */
export function parseS3Location(location: string): S3Location {
  const shown = redact(location);
  const fail = (why: string): never => {
    throw new Error(`repository ${JSON.stringify(shown)}: ${why}`);
  };
  const m = /^s3:(.*)$/is.exec(location.trim());
  if (!m) fail('not an s3: location (expected s3:https://host/bucket/prefix)');
  let rest = m![1]!;
  let scheme = 'https';
  const sm = /^(https?):\/\/(.*)$/is.exec(rest);
  if (sm) {
    scheme = sm[1]!.toLowerCase();
    rest = sm[2]!;
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    fail('only http:// and https:// endpoints are supported');
  }
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const pathPart = slash < 0 ? '' : rest.slice(slash + 1);
  if (authority.includes('@')) fail('credentials do not belong in the location; give them as options (access key and secret key)');
  const am = /^([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i.exec(authority);
  if (!am) fail(`invalid host ${JSON.stringify(authority)}`);
  const host = am![1]!.toLowerCase();
  const port = am![2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) fail(`invalid port ${port}`);
  const segments = pathPart.split('/');
  while (segments.length && segments[segments.length - 1] === '') segments.pop();
  const bucket = segments.shift() ?? '';
  if (!bucket) fail('no bucket name (expected s3:https://host/bucket/prefix)');
  if (!/^[a-z0-9][a-z0-9._-]{1,254}$/i.test(bucket) || bucket.includes('..')) fail(`invalid bucket name ${JSON.stringify(bucket)}`);
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') fail(`invalid prefix ${JSON.stringify(segments.join('/'))} (empty, "." or ".." parts)`);
  }
  const aws = host === 'amazonaws.com' || host.endsWith('.amazonaws.com');
  const rm = /^s3[.-]([a-z0-9-]+)\.amazonaws\.com$/.exec(host);
  const region = rm && rm[1] !== 'external-1' ? rm[1] : undefined;
  return {
    endpoint: `${scheme}://${host}${port !== undefined ? `:${port}` : ''}`,
    host,
    bucket,
    prefix: segments.join('/'),
    aws,
    ...(region ? { region } : {}),
  };
}

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequests',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeoutException',
  'AbortError',
]);
const PERMANENT_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'NoSuchKey',
  'NotFound',
  'InvalidBucketName',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidRange',
  'NotFoundError',
]);
const TRANSIENT_CODES = new Set(['ETIMEDOUT', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAGAIN', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET']);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  transient?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  cause?: unknown;
}

/**
 * Whether an S3 error is worth another attempt (for `RetryingTarget`'s
 * `isTransient`): 5xx, 429 / SlowDown / throttling, timeouts, connection
 * resets and refusals are transient; authentication (403, AccessDenied,
 * InvalidAccessKeyId, SignatureDoesNotMatch), not found (404) and
 * NoSuchBucket are permanent. Unknown errors are permanent.
 */
export function isTransientS3Error(e: unknown, depth = 0): boolean {
  if (!e || typeof e !== 'object' || depth > 4) return false;
  if (e instanceof NotFoundError) return false;
  const err = e as ErrorShape;
  if (err.transient === true) return true;
  if (err.transient === false) return false;
  const name = typeof err.name === 'string' ? err.name : '';
  const code = typeof err.code === 'string' ? err.code : typeof err.Code === 'string' ? err.Code : '';
  if (PERMANENT_NAMES.has(name) || PERMANENT_NAMES.has(code)) return false;
  if (TRANSIENT_NAMES.has(name) || TRANSIENT_NAMES.has(code)) return true;
  if (TRANSIENT_CODES.has(code) || TRANSIENT_CODES.has(name)) return true;
  const status = err.$metadata?.httpStatusCode;
  if (typeof status === 'number') {
    if (status >= 500 || status === 429 || status === 408) return true;
    if (status >= 400) return false;
  }
  if (err.$retryable) return true;
  if (err.cause) return isTransientS3Error(err.cause, depth + 1);
  return false;
}

/** A counting semaphore: at most `n` holders at a time, first come first served. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** An error from the target, its message naming the target (never a secret); `transient` for RetryingTarget. */
export class S3TargetError extends Error {
  readonly transient: boolean;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'S3TargetError';
    this.transient = isTransientS3Error(cause);
  }
}

/** A range past the end of a file (permanent). */
class ShortReadError extends Error {
  readonly transient = false;
  override name = 'ShortReadError';
}

function statusOf(e: unknown): number | undefined {
  return (e as ErrorShape)?.$metadata?.httpStatusCode;
}

function isMissing(e: unknown): boolean {
  const err = e as ErrorShape;
  return err?.name === 'NoSuchKey' || err?.name === 'NotFound' || err?.Code === 'NoSuchKey' || (statusOf(e) === 404 && err?.name !== 'NoSuchBucket');
}

/** A short description of an SDK error: its S3 code or name, HTTP status and message (no credentials; the SDK never puts the secret in errors). */
function describeError(e: unknown, secret: string): string {
  const err = e as ErrorShape & { message?: unknown };
  const parts: string[] = [];
  const name = typeof err?.name === 'string' ? err.name : typeof err?.Code === 'string' ? err.Code : '';
  const code = typeof err?.code === 'string' ? err.code : '';
  if (name && name !== 'Error') parts.push(name);
  if (code && code !== name) parts.push(code);
  const status = statusOf(e);
  if (status) parts.push(`HTTP ${status}`);
  let msg = typeof err?.message === 'string' ? err.message : String(e);
  if (msg === 'UnknownError' || msg === name) msg = '';
  let text = parts.join(', ') + (msg ? `${parts.length ? ': ' : ''}${msg}` : '');
  if (secret && text.includes(secret)) text = text.split(secret).join('***');
  return text || 'unknown error';
}

/** Reads a GetObject body fully into one Buffer. */
async function readBody(body: unknown, expected: number | undefined): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const stream = body as AsyncIterable<Uint8Array>;
  if (expected !== undefined && expected >= 0) {
    const out = Buffer.allocUnsafe(expected);
    let got = 0;
    const extra: Buffer[] = [];
    for await (const chunk of stream) {
      if (got + chunk.length <= expected) {
        out.set(chunk, got);
        got += chunk.length;
      } else {
        extra.push(Buffer.from(chunk));
        got += chunk.length;
      }
    }
    if (got === expected) return out;
    if (got < expected) return out.subarray(0, got);
    return Buffer.concat([out, ...extra]).subarray(0, got);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * A repository in an S3 bucket (AWS or S3-compatible: MinIO, Backblaze B2,
 * Wasabi), under an optional key prefix, in restic's default layout:
 * `<prefix>/config`, `<prefix>/keys/<id>`, `<prefix>/data/<xx>/<id>`, …
 * A PutObject is atomic by nature; objects over 16 MiB go up as a multipart
 * upload in 8 MiB parts (aborted on failure, so nothing partial is ever
 * visible). Requests are bounded by `connections`; the SDK's own retries are
 * off (RetryingTarget with `isTransientS3Error` retries). Errors name the
 * target and never contain the secret key.
 */
export class S3Target implements StorageTarget {
  readonly location: string;
  readonly connections: number;
  readonly bucket: string;
  readonly prefix: string;
  private readonly clientConfig: S3ClientConfig;
  private client: Promise<{ client: S3Client; aws: AwsS3 }> | undefined;
  private readonly sem: Semaphore;
  private readonly secret: string;
  private closed = false;
  private readonly agents: (http.Agent | https.Agent)[];

  constructor(location: string, opts: S3Options) {
    const loc = parseS3Location(location);
    this.bucket = loc.bucket;
    this.prefix = loc.prefix;
    this.location = `s3:${loc.endpoint}/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`;
    if (!opts || typeof opts.accessKeyId !== 'string' || !opts.accessKeyId) throw new Error(`repository ${this.location}: an S3 access key ID is required`);
    if (typeof opts.secretAccessKey !== 'string' || !opts.secretAccessKey) throw new Error(`repository ${this.location}: an S3 secret access key is required`);
    const connections = opts.connections ?? 4;
    if (!Number.isInteger(connections) || connections < 1 || connections > 64) throw new Error(`repository ${this.location}: connections must be an integer from 1 to 64`);
    this.connections = connections;
    this.sem = new Semaphore(connections);
    this.secret = opts.secretAccessKey;
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: connections });
    const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: connections });
    this.agents = [httpAgent, httpsAgent];
    const plainAws = loc.aws && (loc.host === 's3.amazonaws.com' || loc.region !== undefined);
    this.clientConfig = {
      region: opts.region ?? loc.region ?? 'us-east-1',
      // Amazon's own endpoints are chosen by the SDK from the region; others are given as is.
      ...(plainAws ? {} : { endpoint: loc.endpoint }),
      forcePathStyle: opts.forcePathStyle ?? !loc.aws,
      credentials: {
        accessKeyId: opts.accessKeyId,
        secretAccessKey: opts.secretAccessKey,
        ...(opts.sessionToken ? { sessionToken: opts.sessionToken } : {}),
      },
      maxAttempts: 1,
      // S3-compatible stores do not all know the newer flexible checksums; we send Content-MD5 instead.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent,
        httpsAgent,
        requestTimeout: opts.requestTimeoutMs ?? 120_000,
        connectionTimeout: opts.connectionTimeoutMs ?? 30_000,
      },
    };
  }

  /** The AWS SDK client (created on first use), e.g. to add middleware that logs or counts requests. */
  async sdkClient(): Promise<S3Client> {
    return (await this.connection()).client;
  }

  /** The SDK client, created on first use. */
  private connection(): Promise<{ client: S3Client; aws: AwsS3 }> {
    this.client ??= loadAwsS3().then((aws) => ({ client: new aws.S3Client(this.clientConfig), aws }));
    return this.client;
  }

  /** The object key of a file. Throws on an invalid name. */
  key(h: FileHandle): string {
    const base = this.prefix ? `${this.prefix}/` : '';
    if (h.type === 'config') return `${base}config`;
    if (!DIRS.includes(h.type)) throw new Error(`invalid file type ${JSON.stringify(h.type)}`);
    if (typeof h.name !== 'string' || !ID_RE.test(h.name)) throw new Error(`invalid file name ${JSON.stringify(h.name)} for ${h.type}`);
    if (h.type === 'data') return `${base}data/${h.name.slice(0, 2)}/${h.name}`;
    return `${base}${h.type}/${h.name}`;
  }

  private check(): void {
    if (this.closed) throw new Error(`${this.location}: target is closed`);
  }

  private wrap(what: string, e: unknown, h?: FileHandle): Error {
    if (h && isMissing(e)) return new NotFoundError(h, this.location);
    if (e instanceof NotFoundError || e instanceof S3TargetError || e instanceof ShortReadError) return e;
    return new S3TargetError(`${what} on ${this.location}: ${describeError(e, this.secret)}`, e);
  }

  /** Runs one request within the connection bound, mapping its errors. */
  private async request<T>(what: string, fn: (client: S3Client, aws: AwsS3) => Promise<T>, h?: FileHandle): Promise<T> {
    this.check();
    try {
      return await this.sem.run(async () => {
        const { client, aws } = await this.connection();
        return fn(client, aws);
      });
    } catch (e) {
      throw this.wrap(what, e, h);
    }
  }

  private static what(h: FileHandle): string {
    return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
  }

  /**
   * Creates the bucket when it does not exist (as restic does), and refuses
   * when a config already exists. S3 has no folders: nothing else to make.
   */
  async create(): Promise<void> {
    this.check();
    const cfg: FileHandle = { type: 'config', name: '' };
    let exists = true;
    try {
      await this.stat(cfg);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      exists = false;
    }
    if (exists) throw new Error(`a repository already exists at ${this.location} (config file found)`);
    let bucketExists = true;
    try {
      await this.request('checking the bucket', (client, aws) => client.send(new aws.HeadBucketCommand({ Bucket: this.bucket })));
    } catch (e) {
      const cause = (e as { cause?: unknown }).cause;
      if (statusOf(cause) === 404 || (cause as ErrorShape)?.name === 'NoSuchBucket' || (cause as ErrorShape)?.name === 'NotFound') bucketExists = false;
      else throw e;
    }
    if (!bucketExists) {
      try {
        await this.request(`creating bucket ${this.bucket}`, (client, aws) => client.send(new aws.CreateBucketCommand({ Bucket: this.bucket })));
      } catch (e) {
        const name = ((e as { cause?: unknown }).cause as ErrorShape)?.name;
        if (name !== 'BucketAlreadyOwnedByYou') throw e;
      }
    }
  }

  async save(h: FileHandle, data: Uint8Array): Promise<void> {
    this.check();
    const key = this.key(h);
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const what = `saving ${S3Target.what(h)}`;
    if (body.length <= MULTIPART_THRESHOLD) {
      const md5 = createHash('md5').update(body).digest('base64');
      await this.request(what, (client, aws) =>
        client.send(new aws.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: md5, ContentType: 'application/octet-stream' })),
      );
      return;
    }
    const created = await this.request(what, (client, aws) => client.send(new aws.CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: 'application/octet-stream' })));
    const uploadId = created.UploadId;
    if (!uploadId) throw new S3TargetError(`${what} on ${this.location}: the server returned no upload ID`, undefined);
    try {
      const count = Math.ceil(body.length / PART_SIZE);
      const parts: CompletedPart[] = new Array<CompletedPart>(count);
      // Every part settles before the upload is completed or aborted (an abort
      // racing a part still in flight could leave that part stored).
      const settled = await Promise.allSettled(
        Array.from({ length: count }, async (_, i) => {
          const part = body.subarray(i * PART_SIZE, Math.min(body.length, (i + 1) * PART_SIZE));
          const md5 = createHash('md5').update(part).digest('base64');
          const r = await this.request(`${what} (part ${i + 1} of ${count})`, (client, aws) =>
            client.send(new aws.UploadPartCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, Body: part, ContentLength: part.length, ContentMD5: md5 })),
          );
          parts[i] = { PartNumber: i + 1, ETag: r.ETag };
        }),
      );
      const failed = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failed) throw failed.reason;
      await this.request(what, (client, aws) =>
        client.send(new aws.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } })),
      );
    } catch (e) {
      if (!this.closed) {
        await this.sem
          .run(async () => {
            const { client, aws } = await this.connection();
            return client.send(new aws.AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
          })
          .catch(() => {});
      }
      throw e;
    }
  }

  async load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    this.check();
    const key = this.key(h);
    if (!Number.isInteger(length) || length < 0 || !Number.isInteger(offset) || offset < 0) {
      throw new Error(`loading ${S3Target.what(h)}: invalid range (length ${length}, offset ${offset})`);
    }
    const what = `loading ${S3Target.what(h)}`;
    const range = length > 0 ? `bytes=${offset}-${offset + length - 1}` : offset > 0 ? `bytes=${offset}-` : undefined;
    const short = (have: number) => new ShortReadError(`short read of ${S3Target.what(h)} on ${this.location}: wanted ${length || 'the rest'} bytes at ${offset}, file has ${have}`);
    let data: Buffer;
    try {
      data = await this.request(
        what,
        async (client, aws) => {
          const r = await client.send(new aws.GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: range } : {}) }));
          const body = await readBody(r.Body, r.ContentLength);
          if (r.ContentLength !== undefined && body.length !== r.ContentLength) {
            throw Object.assign(new Error(`${what}: connection ended after ${body.length} of ${r.ContentLength} bytes`), { code: 'ECONNRESET' });
          }
          // Where the returned bytes start: a server may return more than asked (or ignore Range).
          let start = 0;
          let total: number | undefined;
          const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(r.ContentRange ?? '');
          if (cr) {
            start = Number(cr[1]);
            if (cr[3] !== '*') total = Number(cr[3]);
          } else if (!range) {
            total = body.length;
          }
          if (start > offset) throw new Error(`${what}: the server returned bytes from ${start}, asked from ${offset}`);
          const from = offset - start;
          if (length > 0) {
            if (from + length > body.length) throw short(total ?? start + body.length);
            return body.subarray(from, from + length);
          }
          return body.subarray(Math.min(from, body.length));
        },
        h,
      );
    } catch (e) {
      const cause = e instanceof S3TargetError ? e.cause : e;
      if ((cause as ErrorShape)?.name !== 'InvalidRange' && statusOf(cause) !== 416) throw e;
      // Past the end: "to the end" from exactly the end is an empty read; anything else is short.
      const st = await this.stat(h);
      if (length === 0 && offset === st.size) data = Buffer.alloc(0);
      else throw short(st.size);
    }
    return await consume(data);
  }

  async stat(h: FileHandle): Promise<FileInfo> {
    this.check();
    const key = this.key(h);
    const r = await this.request(`stat of ${S3Target.what(h)}`, (client, aws) => client.send(new aws.HeadObjectCommand({ Bucket: this.bucket, Key: key })), h);
    return { name: h.name, size: r.ContentLength ?? 0 };
  }

  async list(type: FileType): Promise<FileInfo[]> {
    this.check();
    if (type === 'config') return [];
    if (!DIRS.includes(type)) throw new Error(`invalid file type ${JSON.stringify(type)}`);
    const dir = `${this.prefix ? `${this.prefix}/` : ''}${type}/`;
    const out: FileInfo[] = [];
    let token: string | undefined;
    do {
      const r = await this.request(`listing ${type}`, (client, aws) =>
        client.send(new aws.ListObjectsV2Command({ Bucket: this.bucket, Prefix: dir, ...(token ? { ContinuationToken: token } : {}) })),
      );
      for (const o of r.Contents ?? []) {
        const rel = (o.Key ?? '').slice(dir.length);
        let name: string;
        if (type === 'data') {
          const m = /^([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(rel);
          if (!m) continue;
          name = m[2]!;
        } else {
          if (!ID_RE.test(rel)) continue;
          name = rel;
        }
        out.push({ name, size: o.Size ?? 0 });
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** Deletes a file; a missing one rejects with NotFoundError (S3 itself would succeed silently). */
  async remove(h: FileHandle): Promise<void> {
    this.check();
    const key = this.key(h);
    await this.stat(h);
    await this.request(`removing ${S3Target.what(h)}`, (client, aws) => client.send(new aws.DeleteObjectCommand({ Bucket: this.bucket, Key: key })), h);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client) (await this.client.catch(() => undefined))?.client.destroy();
    for (const a of this.agents) a.destroy();
  }
}
