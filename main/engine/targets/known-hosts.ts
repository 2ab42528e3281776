import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * Lifeboat's own record of SSH host keys: trust on first use, verified after.
 * Kept apart from ~/.ssh/known_hosts (which belongs to the user's ssh) in a
 * JSON file:
 *
 *     { "version": 1,
 *       "hosts": { "nas:22": { "keyType": "ssh-ed25519",
 *                              "fingerprint": "SHA256:…", "pinnedAt": "2026-…Z" } } }
 *
 * Fingerprints are OpenSSH's (`ssh-keygen -l`): "SHA256:" and the unpadded
 * base64 of the SHA-256 of the key blob. Writes are atomic (temp file in the
 * same folder, fsync, rename) and serialised within the process; a damaged
 * file is never overwritten, it stops connections until a person looks.
 */

export interface HostKey {
  /** The key blob's own type name, e.g. "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256". */
  keyType: string;
  /** "SHA256:" + unpadded base64 of SHA-256(key blob), as `ssh-keygen -lf` prints it. */
  fingerprint: string;
}

export interface PinnedHostKey extends HostKey {
  /** ISO time of the first connection. */
  pinnedAt: string;
}

/** The outcome of checking a presented key against the pin file. */
export type HostKeyCheck = { status: 'known'; pinned: PinnedHostKey } | { status: 'new'; pinned: PinnedHostKey };

/** The host key presented for `hostPort` differs from the pinned one: refuse to connect. */
export class HostKeyChangedError extends Error {
  readonly transient = false;
  constructor(
    readonly hostPort: string,
    readonly pinned: HostKey,
    readonly presented: HostKey,
    readonly file: string,
  ) {
    super(
      `host key for ${hostPort} changed: pinned ${pinned.keyType} ${pinned.fingerprint}, ` +
        `server presented ${presented.keyType} ${presented.fingerprint}; refusing to connect ` +
        `(this may be an attack); if the server was reinstalled, remove its entry "${hostPort}" from ${file}`,
    );
    this.name = 'HostKeyChangedError';
  }
}

/**
 * The admin confirmed one key for a host met for the first time, and the
 * server presented another: nothing is pinned and the connection is refused.
 */
export class HostKeyNotConfirmedError extends Error {
  readonly transient = false;
  constructor(
    readonly hostPort: string,
    readonly confirmed: string,
    readonly presented: HostKey,
  ) {
    super(
      `host key for ${hostPort} is not the one confirmed: confirmed ${confirmed}, server presented ` +
        `${presented.keyType} ${presented.fingerprint}; refusing to connect (this may be an attack); test the connection again`,
    );
    this.name = 'HostKeyNotConfirmedError';
  }
}

/** The pin file cannot be read or parsed. */
export class KnownHostsFileError extends Error {
  readonly transient = false;
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
    this.name = 'KnownHostsFileError';
  }
}

/** Fingerprint and type of an SSH public key blob (the wire format: string type, then key data). */
export function describeHostKey(blob: Buffer): HostKey {
  let keyType = 'unknown';
  if (blob.length >= 4) {
    const n = blob.readUInt32BE(0);
    if (n > 0 && n < 64 && 4 + n <= blob.length) keyType = blob.subarray(4, 4 + n).toString('latin1');
  }
  const fingerprint = 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return { keyType, fingerprint };
}

/** The pin file's key for a host: "host:port", IPv6 literals in brackets, host names in lower case. */
export function hostPortKey(host: string, port: number): string {
  const h = host.toLowerCase();
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

interface FileShape {
  version: 1;
  hosts: Record<string, PinnedHostKey>;
}

/** One queue per file, so concurrent connections in this process never lose each other's pins. */
const queues = new Map<string, Promise<unknown>>();

function serialised<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
}

export class KnownHosts {
  readonly file: string;

  constructor(file: string) {
    if (!file) throw new KnownHostsFileError('known-hosts file: a path is required');
    this.file = path.resolve(file);
  }

  private async read(): Promise<FileShape> {
    let text: string;
    try {
      text = await fsp.readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, hosts: {} };
      throw new KnownHostsFileError(`known-hosts file ${this.file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
    }
    if (!text.trim()) return { version: 1, hosts: {} };
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new KnownHostsFileError(`known-hosts file ${this.file} is damaged (not JSON: ${(e as Error).message}); fix or remove it`, { cause: e });
    }
    const d = data as Partial<FileShape> | null;
    if (!d || typeof d !== 'object' || d.version !== 1 || !d.hosts || typeof d.hosts !== 'object' || Array.isArray(d.hosts)) {
      throw new KnownHostsFileError(`known-hosts file ${this.file} is damaged (expected {"version":1,"hosts":{…}}); fix or remove it`);
    }
    for (const [k, v] of Object.entries(d.hosts)) {
      if (!v || typeof v.keyType !== 'string' || typeof v.fingerprint !== 'string' || !v.fingerprint.startsWith('SHA256:')) {
        throw new KnownHostsFileError(`known-hosts file ${this.file} is damaged (entry "${k}" has no keyType/fingerprint); fix or remove it`);
      }
    }
    return d as FileShape;
  }

  private async write(data: FileShape): Promise<void> {
    const dir = path.dirname(this.file);
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = path.join(dir, `.${path.basename(this.file)}.tmp-${randomBytes(6).toString('hex')}`);
    const fh = await fsp.open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(data, null, 2) + '\n');
      await fh.sync();
      await fh.close();
      await fsp.rename(tmp, this.file);
    } catch (e) {
      await fh.close().catch(() => {});
      await fsp.rm(tmp, { force: true }).catch(() => {});
      throw e;
    }
  }

  /** The pinned key of `hostPort`, if any. */
  async get(hostPort: string): Promise<PinnedHostKey | undefined> {
    return serialised(this.file, async () => (await this.read()).hosts[hostPort]);
  }

  /** All pins, keyed by "host:port". */
  async entries(): Promise<Record<string, PinnedHostKey>> {
    return serialised(this.file, async () => (await this.read()).hosts);
  }

  /**
   * Checks the key `hostPort` presented: pins it when the host is new,
   * accepts it when it matches, throws HostKeyChangedError when it differs.
   * With `confirmed` (a fingerprint the admin accepted), any other key is
   * refused with HostKeyNotConfirmedError before anything is pinned.
   */
  async check(hostPort: string, presented: HostKey, now = new Date(), confirmed?: string): Promise<HostKeyCheck> {
    if (confirmed !== undefined && presented.fingerprint !== confirmed) throw new HostKeyNotConfirmedError(hostPort, confirmed, presented);
    return serialised(this.file, async () => {
      const data = await this.read();
      const pinned = data.hosts[hostPort];
      if (pinned) {
        if (pinned.keyType === presented.keyType && pinned.fingerprint === presented.fingerprint) return { status: 'known', pinned };
        throw new HostKeyChangedError(hostPort, pinned, presented, this.file);
      }
      const entry: PinnedHostKey = { keyType: presented.keyType, fingerprint: presented.fingerprint, pinnedAt: now.toISOString() };
      data.hosts[hostPort] = entry;
      await this.write(data);
      return { status: 'new', pinned: entry };
    });
  }

  /** Forgets the pin of `hostPort` (after a server was reinstalled); true if there was one. */
  async remove(hostPort: string): Promise<boolean> {
    return serialised(this.file, async () => {
      const data = await this.read();
      if (!data.hosts[hostPort]) return false;
      delete data.hosts[hostPort];
      await this.write(data);
      return true;
    });
  }
}
