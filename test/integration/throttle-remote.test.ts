/**
 * Upload bandwidth limits measured end to end: a real backup (engine workers,
 * PackUploader) through the real ThrottledTarget into a real loopback server
 * (OpenSSH's sshd over SFTP, s3rver over S3), with the buckets owned by the
 * service's BandwidthController (re-applied every second). The achieved rate is
 * what the server acknowledged over time, fitted by least squares; it must be
 * within 10% of the limit, and a limit changed mid-run must hold within a second.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { S3Target } from '../../main/engine/targets/s3.js';
import { SftpTarget } from '../../main/engine/targets/sftp.js';
import { ThrottledTarget } from '../../main/engine/targets/throttle.js';
import type { FileHandle, StorageTarget } from '../../main/engine/targets/target.js';
import { BandwidthController } from '../../main/service/bandwidth.js';
import type { BandwidthSetting } from '../../shared/bandwidth.js';
import { startS3Server, type S3Server } from '../helpers/s3-server.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

const KiB = 1024;
let sshd: Sshd;
let s3: S3Server;
let work: string;
let small: string;
let large: string;
let n = 0;

beforeAll(async () => {
  [sshd, s3] = await Promise.all([startSshd(), startS3Server()]);
  work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-throttle-'));
  // Incompressible files of 64 KiB: each is one blob, so 256 KiB packs reach the
  // target every half second at 512 KiB/s and the rate can be sampled finely.
  const tree = (name: string, files: number) => {
    const dir = path.join(work, name);
    mkdirSync(dir);
    for (let i = 0; i < files; i++) writeFileSync(path.join(dir, `f${i}.bin`), randomBytes(64 * KiB));
    return dir;
  };
  small = tree('small', 56); // 3.5 MiB: 7 s at 512 KiB/s
  large = tree('large', 112); // 7 MiB
}, 60_000);
afterAll(async () => {
  await Promise.all([sshd?.dispose(), s3?.dispose()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

/** When the server acknowledged each data pack (wall clock, ms) and its size. */
interface Delivery {
  at: number;
  bytes: number;
}

/** Sits between the throttle and the real target and notes when each data pack is stored. */
function recordDeliveries(inner: StorageTarget, log: Delivery[]): StorageTarget {
  return new Proxy(inner, {
    get(t, prop) {
      if (prop === 'save') {
        return async (h: FileHandle, data: Uint8Array) => {
          await t.save(h, data);
          if (h.type === 'data') log.push({ at: performance.now(), bytes: data.length });
        };
      }
      const v = Reflect.get(t, prop, t) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/** Least-squares slope of cumulative bytes over time: the achieved rate in KiB/s. */
function rateKiBps(d: readonly Delivery[]): number {
  if (d.length < 4) throw new Error(`too few deliveries to measure a rate (${d.length})`);
  let sum = 0;
  const pts = d.map((x) => ({ t: x.at / 1000, b: (sum += x.bytes) / KiB }));
  const mt = pts.reduce((a, p) => a + p.t, 0) / pts.length;
  const mb = pts.reduce((a, p) => a + p.b, 0) / pts.length;
  const cov = pts.reduce((a, p) => a + (p.t - mt) * (p.b - mb), 0);
  const vt = pts.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return cov / vt;
}

type Kind = 'sftp' | 's3';

function remote(kind: Kind): StorageTarget {
  const name = `repo${n++}`;
  if (kind === 'sftp') {
    return new SftpTarget(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${path.join(work, name)}`, {
      privateKey: readFileSync(sshd.userKeyFile),
      knownHostsFile: path.join(work, `${name}.known_hosts.json`),
      connections: 2,
    });
  }
  return new S3Target(`s3:${s3.endpoint}/${s3.bucket}/${name}`, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, connections: 2 });
}

/**
 * Runs a backup through a job's throttled target; `setting` is read by the
 * controller every second, as the service does. Returns the deliveries.
 */
async function throttledBackup(kind: Kind, source: string, setting: () => BandwidthSetting, during?: (first: Promise<number>) => void): Promise<Delivery[]> {
  const controller = new BandwidthController(() => ({ limitKiBps: null, windows: [] }), 'UTC');
  controller.start();
  const log: Delivery[] = [];
  const buckets = controller.acquire(1, setting);
  const throttled = new ThrottledTarget(recordDeliveries(remote(kind), log), buckets, [], () => controller.release(1));
  const repo = await Repository.init(throttled, 'pw');
  let firstDelivery: (t: number) => void = () => {};
  const first = new Promise<number>((r) => (firstDelivery = r));
  during?.(first);
  const watch = setInterval(() => log.length > 0 && firstDelivery(log[0]!.at), 20);
  try {
    await backup(repo, { paths: [source], packSize: 256 * KiB, uploadConnections: 2, workers: 1 });
  } finally {
    clearInterval(watch);
    controller.stop();
    await repo.close();
  }
  return log;
}

describe.each<Kind>(['sftp', 's3'])('upload limit against a real %s server', (kind) => {
  it('holds a backup to 512 KiB/s within 10%', async () => {
    const log = await throttledBackup(kind, small, () => ({ limitKiBps: 512, windows: [] }));
    const rate = rateKiBps(log);
    const seconds = (log.at(-1)!.at - log[0]!.at) / 1000;
    console.log(`${kind}: ${log.length} packs over ${seconds.toFixed(1)} s: ${rate.toFixed(0)} KiB/s (limit 512)`);
    expect(seconds).toBeGreaterThan(5);
    expect(rate).toBeGreaterThan(512 * 0.9);
    expect(rate).toBeLessThan(512 * 1.1);
  }, 60_000);

  it('applies a limit changed mid-run within a second', async () => {
    let limit = 512;
    let changedAt = 0;
    const log = await throttledBackup(
      kind,
      large,
      () => ({ limitKiBps: limit, windows: [] }),
      (first) =>
        void first.then(() =>
          setTimeout(() => {
            limit = 1024; // as if the job were edited; the controller picks it up within its one-second tick
            changedAt = performance.now();
          }, 3000),
        ),
    );
    expect(changedAt).toBeGreaterThan(0);
    const before = log.filter((d) => d.at <= changedAt);
    // From one second after the edit: the new limit must already be in force.
    const after = log.filter((d) => d.at >= changedAt + 1000);
    const rBefore = rateKiBps(before);
    const rAfter = rateKiBps(after);
    console.log(`${kind}: ${rBefore.toFixed(0)} KiB/s before (512), ${rAfter.toFixed(0)} KiB/s from 1 s after the change (1024)`);
    expect(rBefore).toBeGreaterThan(512 * 0.9);
    expect(rBefore).toBeLessThan(512 * 1.1);
    expect(rAfter).toBeGreaterThan(1024 * 0.9);
    expect(rAfter).toBeLessThan(1024 * 1.1);
  }, 90_000);
});
