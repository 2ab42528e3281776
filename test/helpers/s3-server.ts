/**
 * An S3-compatible server for the S3 tests: s3rver (in-process) on 127.0.0.1
 * with a free port, its objects in a temp folder, one bucket created up front,
 * silent. Credentials are s3rver's built-in account (S3RVER / S3RVER).
 *
 * s3rver writes an object in place (object file, then its metadata file), so
 * a reader racing a PutObject can see a torn object; real S3 never does
 * (every PUT is atomic). The helper makes s3rver's store behave like S3: new
 * objects are written to a temp file first, then renamed into place together
 * with their metadata while reads of metadata and object are held off.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { promises as fsp, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const require = createRequire(import.meta.url);

interface S3rverObject {
  bucket: string;
  key: string;
  content: Readable | Buffer;
  metadata: Record<string, string>;
}

interface FilesystemStore {
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  getMetadata(bucket: string, key: string): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjects(bucket: string, options: unknown): Promise<unknown>;
}

interface S3rverInstance {
  store: FilesystemStore;
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

type S3rverCtor = new (options: Record<string, unknown>) => S3rverInstance;

export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

export interface S3Server {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** A bucket that exists from the start. */
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Stops listening (existing objects stay); `start` again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  dispose(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Reader-preferring readers-writer lock (readers may nest). */
class RwLock {
  private readers = 0;
  private writer = false;
  private queue: (() => void)[] = [];
  private wake(): void {
    const q = this.queue;
    this.queue = [];
    for (const f of q) f();
  }
  async read<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer) await new Promise<void>((r) => this.queue.push(r));
    this.readers++;
    try {
      return await fn();
    } finally {
      this.readers--;
      if (this.readers === 0) this.wake();
    }
  }
  async write<T>(fn: () => Promise<T>): Promise<T> {
    while (this.writer || this.readers > 0) await new Promise<void>((r) => this.queue.push(r));
    this.writer = true;
    try {
      return await fn();
    } finally {
      this.writer = false;
      this.wake();
    }
  }
}

/** Makes s3rver's object writes atomic, as S3's are (see the file comment). */
function makeAtomic(store: FilesystemStore, tmpDir: string): void {
  const lock = new RwLock();
  const origGetObject = store.getObject.bind(store);
  const origGetMetadata = store.getMetadata.bind(store);
  const origDelete = store.deleteObject.bind(store);
  const origList = store.listObjects.bind(store);
  store.getObject = (bucket, key, options) => lock.read(() => origGetObject(bucket, key, options));
  store.getMetadata = (bucket, key) => lock.read(() => origGetMetadata(bucket, key));
  store.listObjects = (bucket, options) => lock.read(() => origList(bucket, options));
  store.deleteObject = (bucket, key) => lock.write(() => origDelete(bucket, key));
  store.putObject = async (object) => {
    const tmp = path.join(tmpDir, randomBytes(12).toString('hex'));
    const md5 = createHash('md5');
    let size = 0;
    try {
      const content = Buffer.isBuffer(object.content) ? [object.content] : object.content;
      await pipeline(
        content,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            md5.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        }),
        createWriteStream(tmp),
      );
      const digest = md5.digest('hex');
      const objectPath = store.getResourcePath(object.bucket, object.key, 'object');
      await lock.write(async () => {
        await fsp.mkdir(path.dirname(objectPath), { recursive: true });
        await fsp.rename(tmp, objectPath);
        await store.putMetadata(object.bucket, object.key, object.metadata, digest);
      });
      return { size, md5: digest };
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  };
}

/** Starts s3rver on 127.0.0.1 with a fresh folder and one bucket. */
export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3Server> {
  const S3rver = require('s3rver') as S3rverCtor;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-s3rver-'));
  const storeDir = path.join(dir, 'store');
  const tmpDir = path.join(dir, 'tmp');
  await fsp.mkdir(storeDir);
  await fsp.mkdir(tmpDir);
  const bucket = opts.bucket ?? 'lifeboat-test';
  const port = await freePort();
  let server: S3rverInstance | undefined;
  const start = async () => {
    const s = new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: storeDir,
      configureBuckets: [{ name: bucket }],
      vhostBuckets: false,
    });
    makeAtomic(s.store, tmpDir);
    await s.run();
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (s) await s.close();
  };
  await start();
  return {
    host: '127.0.0.1',
    port,
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: S3RVER_ACCESS_KEY,
    secretAccessKey: S3RVER_SECRET_KEY,
    stop,
    start,
    async dispose() {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A front for an S3Server that checks request signatures (s3rver checks only the key ID). */
export interface SignatureCheckingFront {
  /** `http://127.0.0.1:PORT`: the same buckets, behind the check. */
  readonly endpoint: string;
  /** Requests answered with SignatureDoesNotMatch so far. */
  readonly refused: number;
  close(): Promise<void>;
}

const rfc3986 = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/**
 * The AWS Signature Version 4 a request should carry with `secretAccessKey`,
 * computed from the request as received (header-signed requests; the payload
 * hash is taken from x-amz-content-sha256, as S3 does), or null when it is not
 * a header-signed SigV4 request.
 */
export function expectedSigV4(req: http.IncomingMessage, secretAccessKey: string): { given: string; expected: string } | null {
  const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
  const amzDate = req.headers['x-amz-date'];
  if (!auth || typeof amzDate !== 'string') return null;
  const [, , day, region, service, signedHeaders, given] = auth as unknown as string[];
  const [rawPath, rawQuery = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
  const query = rawQuery
    .split('&')
    .filter(Boolean)
    .map((kv) => {
      const [k, v = ''] = kv.split('=', 2) as [string, string?];
      return [rfc3986(decodeURIComponent(k)), rfc3986(decodeURIComponent(v))] as const;
    })
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders!.split(';');
  const headers = names.map((n) => {
    const v = req.headers[n];
    return `${n}:${(Array.isArray(v) ? v.join(',') : (v ?? '')).trim().replace(/\s+/g, ' ')}\n`;
  });
  const canonical = [req.method, rawPath, query, headers.join(''), signedHeaders, req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD'].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, day!), region!), service!), 'aws4_request');
  return { given: given!, expected: hmac(key, toSign).toString('hex') };
}

/**
 * Puts a SigV4 check in front of `server`: requests signed with another secret
 * are answered as S3 does (403, code SignatureDoesNotMatch); the rest go
 * through unchanged.
 */
export async function startSignatureCheckingFront(server: S3Server): Promise<SignatureCheckingFront> {
  let refused = 0;
  const front = http.createServer((req, res) => {
    const sig = expectedSigV4(req, server.secretAccessKey);
    if (sig && sig.given !== sig.expected) {
      refused++;
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message></Error>');
      return;
    }
    const upstream = http.request({ host: server.host, port: server.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const port = (front.address() as net.AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get refused() {
      return refused;
    },
    close: () => new Promise<void>((resolve) => front.close(() => resolve())),
  };
}
