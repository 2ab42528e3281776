import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type ssh2 from 'ssh2';
import type { AnyAuthMethod, Client as SshClient, ConnectConfig, FileEntryWithStats, ParsedKey, ServerHostKeyAlgorithm, SFTPWrapper, Stats } from 'ssh2';
import type { FileType } from '../../../shared/repo/types.js';
import { describeHostKey, hostPortKey, HostKeyChangedError, HostKeyNotConfirmedError, KnownHosts, KnownHostsFileError } from './known-hosts.js';
import { NotFoundError, TEMPORARY_PREFIX, type FileHandle, type FileInfo, type StorageTarget } from './target.js';

type Ssh2 = typeof ssh2;
let ssh2Module: Promise<Ssh2> | undefined;
/** ssh2 is loaded on the first connection: most commands never reach an SFTP server, and it costs ~0.1 s to load. */
function loadSsh2(): Promise<Ssh2> {
  ssh2Module ??= import('ssh2').then((m) => m.default);
  return ssh2Module;
}
const posix = path.posix;

/** SFTP status codes (draft-ietf-secsh-filexfer-02, what OpenSSH speaks). */
const FX = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, BAD_MESSAGE: 5, NO_CONNECTION: 6, CONNECTION_LOST: 7, OP_UNSUPPORTED: 8 } as const;

const DIRS: FileType[] = ['data', 'index', 'keys', 'locks', 'snapshots'];
const ID = /^[0-9a-f]{64}$/;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

// ---------------------------------------------------------------------------
// Locations

/** A parsed `sftp:` repository location. */
export interface SftpLocation {
  /** Login name, if the location names one. */
  user?: string;
  host: string;
  port: number;
  /** The repository folder on the server: absolute, or relative to the login folder (as restic). */
  path: string;
}

/**
 * Parses restic's SFTP location forms:
 * - `sftp:user@host:/srv/repo`, `sftp:host:/srv/repo`, `sftp:user@host:relative/repo`
 *   (a relative path is relative to the login folder; port 22; `[::1]` for IPv6 literals);
 * - `sftp://user@host:2222//srv/repo` (absolute) and `sftp://user@host:2222/relative/repo`:
 *   as in restic, the first slash after host[:port] separates the path, so an absolute
 *   path needs two. The user part is optional in both forms.
 * Passwords in the location are refused (they would end up in logs and the database).
 */
export function parseSftpLocation(location: string): SftpLocation {
  const where = redactLocation(location);
  const bad = (why: string): never => {
    throw new Error(`repository: invalid sftp location ${JSON.stringify(where)}: ${why}`);
  };
  let user: string | undefined;
  let host: string;
  let port = 22;
  let dir: string;
  if (/^sftp:\/\//i.test(location)) {
    const rest = location.slice('sftp://'.length);
    const slash = rest.indexOf('/');
    if (slash < 0) bad('no folder after the host (sftp://user@host:port/folder)');
    const authority = rest.slice(0, slash);
    dir = decodeURIComponentSafe(rest.slice(slash + 1), bad);
    const at = authority.lastIndexOf('@');
    let hostPort = authority;
    if (at >= 0) {
      const userinfo = authority.slice(0, at);
      if (userinfo.includes(':')) bad('a password in the location is not accepted; pass it as an SFTP option (it is kept in the keychain)');
      user = decodeURIComponentSafe(userinfo, bad);
      hostPort = authority.slice(at + 1);
    }
    const m = /^(\[[^\]]+\]|[^:[\]]*)(?::(\d*))?$/.exec(hostPort);
    if (!m) bad('cannot read host and port');
    host = m![1]!.replace(/^\[(.*)\]$/, '$1');
    if (m![2] !== undefined) {
      if (!/^\d{1,5}$/.test(m![2]) || Number(m![2]) < 1 || Number(m![2]) > 65535) bad(`port ${JSON.stringify(m![2])} is not a number from 1 to 65535`);
      port = Number(m![2]);
    }
  } else if (/^sftp:/i.test(location)) {
    const rest = location.slice('sftp:'.length);
    let hostPart: string;
    // user@[v6::addr]:path
    const v6 = /^((?:.*@)?)\[([^\]]+)\]:(.*)$/s.exec(rest);
    if (v6) {
      hostPart = v6[1]!.replace(/@$/, '');
      host = v6[2]!;
      dir = v6[3]!;
      if (hostPart) user = hostPart;
    } else {
      const colon = rest.indexOf(':');
      if (colon < 0) bad('expected sftp:user@host:/folder');
      hostPart = rest.slice(0, colon);
      dir = rest.slice(colon + 1);
      const at = hostPart.lastIndexOf('@');
      if (at >= 0) {
        user = hostPart.slice(0, at);
        host = hostPart.slice(at + 1);
      } else host = hostPart;
    }
  } else {
    return bad('expected sftp:user@host:/folder or sftp://user@host:port/folder');
  }
  if (!host) bad('no host');
  if (/[\s/\\@]/.test(host)) bad(`host ${JSON.stringify(host)} is not a host name or address`);
  if (user !== undefined && (!user || /[\s:/]/.test(user))) bad(`user ${JSON.stringify(user)} is not a login name`);
  if (!dir) bad('no folder (a repository at the login folder needs a name: sftp:host:repo)');
  if (dir.includes('\0') || /[\r\n]/.test(dir)) bad('the folder contains control characters');
  let p = posix.normalize(dir);
  if (p.length > 1) p = p.replace(/\/+$/, '');
  if (p.startsWith('~')) bad('the folder starts with "~", which most SFTP servers do not expand; use a relative folder (relative to the login folder)');
  if (p === '.' || p === '..' || p.startsWith('../')) bad('the folder must not be the login folder itself or above it');
  return user === undefined ? { host, port, path: p } : { user, host, port, path: p };
}

function decodeURIComponentSafe(s: string, bad: (why: string) => never): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return bad('invalid %-escape');
  }
}

/** The location with any `user:password@` reduced to `user@` (for error texts). */
export function redactLocation(location: string): string {
  return location.replace(/^(sftp:\/\/)([^@/]*):[^@/]*@/i, '$1$2:***@');
}

/** The canonical, displayable form: `sftp:user@host:/path` on port 22, else `sftp://user@host:port/…`. */
export function formatSftpLocation(l: SftpLocation): string {
  const u = l.user === undefined ? '' : `${l.user}@`;
  const h = l.host.includes(':') ? `[${l.host}]` : l.host;
  if (l.port === 22) return `sftp:${u}${h}:${l.path}`;
  return `sftp://${u}${h}:${l.port}/${l.path}`;
}

// ---------------------------------------------------------------------------
// Options and errors

export interface SftpOptions {
  /** Login name when the location names none (default: the local user name, like ssh). */
  user?: string;
  /** Password authentication (also answers keyboard-interactive password prompts). */
  password?: string;
  /** A private key in OpenSSH/PEM form (its contents, not a path). */
  privateKey?: string | Buffer;
  /** A private key file to read at connect time (when `privateKey` is not given). */
  privateKeyFile?: string;
  /** The private key's passphrase. */
  passphrase?: string;
  /**
   * ssh-agent: a socket path, or true for $SSH_AUTH_SOCK. When no method at all
   * is given, the agent at $SSH_AUTH_SOCK is used if there is one.
   */
  agent?: string | boolean;
  /** Lifeboat's host-key pin file (see known-hosts.ts). Required. */
  knownHostsFile: string;
  /** Parallel SFTP sessions (1 to 64; default 4). */
  connections?: number;
  /**
   * SSH connections the sessions are spread over (default min(connections, 4)).
   * Each connection has its own server process, so several use several server
   * cores; at most 10 sessions go over one connection (OpenSSH's MaxSessions).
   */
  sshConnections?: number;
  /**
   * The host key fingerprint the admin confirmed (e.g. after a connection
   * test): a server presenting any other key is refused, and nothing pinned.
   */
  confirmedHostKey?: string;
  /** Called when a host is met for the first time and its key was pinned. */
  onNewHostKey?: (fingerprint: string, info: { hostPort: string; keyType: string; file: string }) => void;
  /** SSH handshake and authentication timeout, ms (default 20 s). */
  connectTimeout?: number;
  /** Timeout of one SFTP request (open, a read or write, rename…), ms (default 60 s). */
  operationTimeout?: number;
}

/** An SFTP failure, naming the target and the operation; `transient` tells a retry wrapper what to do. */
export class SftpError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    readonly code?: string | number,
    options?: { cause: unknown },
  ) {
    super(message, options);
    this.name = 'SftpError';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'EAI_AGAIN', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_SOCKET_CLOSED',
]);
const TRANSIENT_MESSAGES = /no response from server|connection lost|not connected|channel (?:is )?closed|keepalive timeout|timed out|socket (?:hang up|closed)|write after end|connection (?:reset|closed)|unable to start subsystem|channel open failure/i;

/**
 * Classifies an error from an SFTP target for a retry wrapper: connection
 * resets, drops, refusals and timeouts are transient; authentication, host
 * keys, permission denied, no such file, no space and other server-side
 * failures are permanent.
 */
export function isTransientSftpError(e: unknown): boolean {
  if (e instanceof NotFoundError) return false;
  if (e instanceof SftpError || e instanceof HostKeyChangedError || e instanceof HostKeyNotConfirmedError || e instanceof KnownHostsFileError) return e.transient;
  const err = e as { code?: unknown; level?: unknown; message?: unknown } | null;
  if (!err || typeof err !== 'object') return false;
  if (typeof err.code === 'number') return err.code === FX.NO_CONNECTION || err.code === FX.CONNECTION_LOST;
  if (typeof err.code === 'string' && TRANSIENT_CODES.has(err.code)) return true;
  if (err.level === 'client-authentication') return false;
  if (err.level === 'client-timeout' || err.level === 'client-socket') return true;
  return typeof err.message === 'string' && TRANSIENT_MESSAGES.test(err.message);
}

// ---------------------------------------------------------------------------
// The target

interface Session {
  link: Link;
  sftp: SFTPWrapper;
  alive: boolean;
  noFsync?: boolean;
  noPosixRename?: boolean;
}

interface Link {
  id: number;
  client?: SshClient;
  socket?: net.Socket;
  ready?: Promise<SshClient>;
  alive: boolean;
  sessions: number;
  busy: number;
  /** Why the connection ended, for the errors of requests it took down. */
  lostReason?: string;
}

type Cb<T> = (err: Error | null | undefined, value?: T) => void;

const DEFAULT_CONNECTIONS = 4;
/** Bytes per SFTP read/write request (OpenSSH takes up to 255 KiB; ssh2 splits for smaller limits). */
const CHUNK = 248 * 1024;
/** Requests in flight per transfer: 8 × 248 KiB fills ssh2's 2 MiB channel window. */
const PIPELINE = 8;

/**
 * A repository on an SFTP server (ssh2), in restic's layout (data/XX/ID),
 * readable by `restic -r sftp:…`. Up to `connections` SFTP sessions work in
 * parallel (a simple pool, sessions opened on demand and kept); host keys are
 * pinned on first use in Lifeboat's own pin file and verified after. Saves
 * are atomic: a temp file in the destination folder, fsync@openssh.com when
 * the server has it, then posix-rename@openssh.com over the final name.
 * Every SFTP request has a timeout; a dropped connection is noticed and the
 * next operation reconnects. Retries are not done here: errors carry
 * `transient` (see isTransientSftpError) for a retry wrapper.
 *
 * An idle target does not keep the process alive (its sockets are unref'd
 * between operations); `close()` ends the SSH connections.
 */
export class SftpTarget implements StorageTarget {
  readonly location: string;
  readonly connections: number;
  readonly spec: Readonly<SftpLocation>;
  readonly user: string;
  readonly hostPort: string;
  private readonly opts: SftpOptions;
  private readonly knownHosts: KnownHosts;
  private readonly perLink: number;
  private readonly maxLinks: number;
  private readonly connectTimeout: number;
  private readonly opTimeout: number;
  private links: Link[] = [];
  private nextLinkId = 0;
  private idle: Session[] = [];
  private permits: number;
  private waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private closed = false;

  constructor(location: string | SftpLocation, options: SftpOptions) {
    this.spec = typeof location === 'string' ? parseSftpLocation(location) : { ...location };
    this.location = formatSftpLocation(this.spec);
    const connections = options.connections ?? DEFAULT_CONNECTIONS;
    if (!Number.isInteger(connections) || connections < 1 || connections > 64) throw new Error(`sftp connections: must be 1 to 64, got ${connections}`);
    const maxLinks = options.sshConnections ?? Math.min(connections, 4);
    if (!Number.isInteger(maxLinks) || maxLinks < 1 || maxLinks > connections) throw new Error(`sftp sshConnections: must be 1 to ${connections} (the connections), got ${maxLinks}`);
    const perLink = Math.ceil(connections / maxLinks);
    if (perLink > 10) throw new Error(`sftp: ${connections} sessions over ${maxLinks} SSH connections is more than 10 per connection (OpenSSH's MaxSessions); use more SSH connections`);
    if (!options.knownHostsFile) throw new Error(`${this.location}: a known-hosts file is required to pin the server's host key (sftp option knownHostsFile)`);
    this.connections = connections;
    this.permits = connections;
    this.perLink = perLink;
    this.maxLinks = maxLinks;
    this.opts = { ...options };
    this.user = this.spec.user ?? options.user ?? os.userInfo().username;
    this.hostPort = hostPortKey(this.spec.host, this.spec.port);
    this.knownHosts = new KnownHosts(options.knownHostsFile);
    this.connectTimeout = options.connectTimeout ?? 20_000;
    this.opTimeout = options.operationTimeout ?? 60_000;
  }

  /** Live SSH connections and SFTP sessions (for tests and diagnostics). */
  get stats(): { sshConnections: number; sessions: number; idleSessions: number } {
    const live = this.links.filter((l) => l.alive);
    return { sshConnections: live.length, sessions: live.reduce((n, l) => n + l.sessions, 0), idleSessions: this.idle.length };
  }

  // ---- paths

  private filename(h: FileHandle): string {
    if (h.type === 'config') return posix.join(this.spec.path, 'config');
    if (!DIRS.includes(h.type)) throw new Error(`invalid file type ${JSON.stringify(h.type)}`);
    if (!ID.test(h.name)) throw new Error(`invalid file name ${JSON.stringify(h.name)} for ${h.type}`);
    if (h.type === 'data') return posix.join(this.spec.path, 'data', h.name.slice(0, 2), h.name);
    return posix.join(this.spec.path, h.type, h.name);
  }

  private static describe(h: FileHandle): string {
    return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
  }

  // ---- errors

  private error(op: string, e: unknown, s?: Session): Error {
    if (e instanceof SftpError || e instanceof NotFoundError || e instanceof HostKeyChangedError || e instanceof HostKeyNotConfirmedError || e instanceof KnownHostsFileError) return e;
    const err = e as Error & { code?: unknown; level?: unknown };
    const lost = s && !s.alive;
    let transient = isTransientSftpError(e) || !!lost;
    let reason = err?.message ?? String(e);
    if (typeof err?.code === 'number') {
      if (err.code === FX.PERMISSION_DENIED) reason = `permission denied (${reason})`;
      else if (err.code === FX.FAILURE) reason = `the server reported a failure (${reason}; a full disk, an existing folder or a server-side error)`;
      else if (err.code === FX.OP_UNSUPPORTED) reason = `the server does not support this (${reason})`;
    }
    if (lost) {
      transient = true;
      reason = `connection lost${s.link.lostReason ? ` (${s.link.lostReason})` : ''}: ${reason}`;
    }
    return new SftpError(`${this.location}: ${op} failed: ${reason}`, transient, typeof err?.code === 'number' || typeof err?.code === 'string' ? err.code : undefined, { cause: e });
  }

  private closedError(): SftpError {
    return new SftpError(`${this.location}: the target is closed`, false, 'ECLOSED');
  }

  // ---- connections

  private authMethods(utils: Ssh2['utils']): { methods: AnyAuthMethod[]; names: string[] } {
    const o = this.opts;
    const username = this.user;
    const methods: AnyAuthMethod[] = [];
    const names: string[] = [];
    let key: string | Buffer | undefined = o.privateKey;
    let keyWhat = 'the private key';
    if (key === undefined && o.privateKeyFile) {
      keyWhat = `private key file ${o.privateKeyFile}`;
      try {
        key = readFileSync(o.privateKeyFile);
      } catch (e) {
        throw new SftpError(`${this.location}: cannot read ${keyWhat} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, false);
      }
    }
    if (key !== undefined) {
      const parsed = utils.parseKey(key, o.passphrase);
      if (parsed instanceof Error) {
        const encrypted = /encrypted|passphrase|bad decrypt/i.test(parsed.message);
        throw new SftpError(
          `${this.location}: cannot use ${keyWhat}: ${encrypted ? (o.passphrase ? 'wrong passphrase' : 'it is encrypted and no passphrase was given') : 'not a supported private key (OpenSSH or PEM format expected)'}`,
          false,
        );
      }
      const one: ParsedKey = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
      if (!one.isPrivateKey()) throw new SftpError(`${this.location}: ${keyWhat} is a public key, not a private key`, false);
      methods.push({ type: 'publickey', username, key: one });
      names.push('publickey');
    }
    const agent = o.agent === true || (o.agent === undefined && o.password === undefined && key === undefined) ? process.env.SSH_AUTH_SOCK : o.agent || undefined;
    if (o.agent === true && !agent) throw new SftpError(`${this.location}: ssh-agent requested but SSH_AUTH_SOCK is not set`, false);
    if (agent) {
      methods.push({ type: 'agent', username, agent });
      names.push('ssh-agent');
    }
    if (o.password !== undefined) {
      const password = o.password;
      methods.push({ type: 'password', username, password });
      methods.push({
        type: 'keyboard-interactive',
        username,
        prompt: (_name, _instructions, _lang, prompts, finish) => finish(prompts.map((p) => (p.echo ? '' : password))),
      });
      names.push('password');
    }
    if (methods.length === 0) {
      throw new SftpError(`${this.location}: no SSH authentication configured: give a password, a private key or an ssh-agent (SSH_AUTH_SOCK)`, false);
    }
    return { methods, names };
  }

  private async connect(link: Link): Promise<SshClient> {
    const pinned = await this.knownHosts.get(this.hostPort);
    if (this.closed) throw this.closedError();
    const { Client, utils } = await loadSsh2();
    if (this.closed) throw this.closedError();
    const { methods, names } = this.authMethods(utils);
    return new Promise<SshClient>((resolve, reject) => {
      const client = new Client();
      let hostKeyError: Error | undefined;
      let settled = false;
      const socket = net.connect({ host: this.spec.host, port: this.spec.port });
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 15_000);
      link.socket = socket;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        link.alive = false;
        socket.destroy();
        client.end();
        reject(e);
      };
      const where = `${this.location}: connecting to ${this.hostPort} as ${this.user}`;
      client.on('ready', () => {
        if (settled) return;
        if (this.closed) return fail(this.closedError()); // closed while connecting
        settled = true;
        link.alive = true;
        resolve(client);
      });
      client.on('error', (e: Error & { level?: string; code?: unknown }) => {
        if (!settled) {
          if (hostKeyError) return fail(hostKeyError);
          if (e.level === 'client-authentication') {
            return fail(new SftpError(`${where}: authentication failed (tried ${names.join(', ')}); check the key, password or the server's authorized_keys`, false, 'EAUTH', { cause: e }));
          }
          if (pinned && /host key|no matching/i.test(e.message)) {
            return fail(
              new SftpError(
                `${where}: the server does not offer the pinned ${pinned.keyType} host key (${pinned.fingerprint}); refusing to connect; if the server was reinstalled, remove its entry "${this.hostPort}" from ${this.knownHosts.file}`,
                false,
                'EHOSTKEY',
                { cause: e },
              ),
            );
          }
          const transient = isTransientSftpError(e) || e.level === 'protocol' || e.level === 'handshake';
          return fail(new SftpError(`${where} failed: ${e.message}`, transient, typeof e.code === 'string' ? e.code : undefined, { cause: e }));
        }
        link.lostReason = e.message;
      });
      client.on('close', () => {
        link.alive = false;
        link.lostReason ??= 'the connection closed';
        if (!settled) fail(new SftpError(`${where} failed: the connection closed during the handshake`, true, 'ECONNRESET'));
        this.dropLink(link);
      });
      const cfg: ConnectConfig = {
        sock: socket,
        username: this.user,
        readyTimeout: this.connectTimeout,
        keepaliveInterval: 0,
        authHandler: methods,
        hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
          const presented = describeHostKey(key);
          this.knownHosts.check(this.hostPort, presented, new Date(), this.opts.confirmedHostKey).then(
            (r) => {
              if (r.status === 'new') this.opts.onNewHostKey?.(presented.fingerprint, { hostPort: this.hostPort, keyType: presented.keyType, file: this.knownHosts.file });
              verify(true);
            },
            (e: Error) => {
              hostKeyError = e;
              verify(false);
            },
          );
        },
      };
      if (pinned) cfg.algorithms = { serverHostKey: hostKeyAlgorithms(pinned.keyType) };
      socket.on('error', () => {}); // reported through the client
      try {
        client.connect(cfg);
      } catch (e) {
        fail(new SftpError(`${where} failed: ${(e as Error).message}`, false, undefined, { cause: e }));
      }
      link.client = client;
    });
  }

  private dropLink(link: Link): void {
    link.alive = false;
    this.links = this.links.filter((l) => l !== link);
    this.idle = this.idle.filter((s) => s.link !== link);
  }

  private async linkReady(link: Link): Promise<SshClient> {
    link.ready ??= this.connect(link);
    try {
      return await link.ready;
    } catch (e) {
      this.dropLink(link);
      throw e;
    }
  }

  private async openSession(): Promise<Session> {
    // Spread sessions: a new link while there are fewer than maxLinks and none is
    // empty, else the usable link with the fewest sessions.
    const usable = this.links.filter((l) => (l.alive || !l.client) && l.sessions < this.perLink).sort((a, b) => a.sessions - b.sessions);
    let link = usable[0];
    if (!link || (link.sessions > 0 && this.links.length < this.maxLinks)) {
      link = { id: this.nextLinkId++, alive: false, sessions: 0, busy: 0 };
      this.links.push(link);
    }
    link.sessions++;
    link.busy++;
    this.updateRef(link);
    try {
      const client = await this.linkReady(link);
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
        const timer = setTimeout(() => {
          link.lostReason = `no SFTP session within ${this.opTimeout} ms`;
          link.socket?.destroy();
          this.dropLink(link);
          reject(new SftpError(`${this.location}: opening an SFTP session timed out after ${this.opTimeout} ms`, true, 'ETIMEDOUT'));
        }, this.opTimeout);
        client.sftp((err, sftp) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(sftp);
        });
      });
      const s: Session = { link, sftp, alive: true };
      const die = () => {
        if (!s.alive) return;
        s.alive = false;
        link.sessions--;
        this.idle = this.idle.filter((x) => x !== s);
      };
      sftp.on('close', die);
      sftp.on('end', die);
      sftp.on('error', () => die());
      return s;
    } catch (e) {
      link.sessions--;
      throw this.error('opening an SFTP session', e);
    } finally {
      link.busy--;
      this.updateRef(link);
    }
  }

  /** Sockets hold the process open only while operations are in flight. */
  private updateRef(link: Link): void {
    if (!link.socket) return;
    if (link.busy > 0) link.socket.ref();
    else link.socket.unref();
  }

  private async acquire(): Promise<void> {
    if (this.closed) throw this.closedError();
    if (this.permits > 0) {
      this.permits--;
      return;
    }
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  private release(): void {
    const w = this.waiters.shift();
    if (w) w.resolve();
    else this.permits++;
  }

  /** Runs `fn` with one session from the pool (opened on demand). */
  private async withSession<T>(op: string, fn: (s: Session) => Promise<T>): Promise<T> {
    await this.acquire();
    let s: Session | undefined;
    try {
      while ((s = this.idle.pop()) && (!s.alive || !s.link.alive));
      if (!s) s = await this.openSession();
      s.link.busy++;
      this.updateRef(s.link);
      try {
        return await fn(s);
      } catch (e) {
        throw this.error(op, e, s);
      } finally {
        s.link.busy--;
        this.updateRef(s.link);
      }
    } catch (e) {
      throw e instanceof SftpError || e instanceof NotFoundError ? e : this.error(op, e, s);
    } finally {
      if (s?.alive && s.link.alive && !this.closed) this.idle.push(s);
      this.release();
    }
  }

  /** One SFTP request with a timeout; a timed-out session is ended (its state is unknown). */
  private req<T>(s: Session, what: string, start: (cb: Cb<T>) => void): Promise<T> {
    if (!s.alive) return Promise.reject(new SftpError(`${this.location}: ${what}: connection lost${s.link.lostReason ? ` (${s.link.lostReason})` : ''}`, true, 'ECONNRESET'));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        // No answer: the connection is presumed dead; drop it whole so the next
        // operation reconnects instead of queueing behind it.
        s.alive = false;
        s.link.lostReason = `no answer to ${what} within ${this.opTimeout} ms`;
        s.link.alive = false;
        s.link.socket?.destroy();
        this.dropLink(s.link);
        reject(new SftpError(`${this.location}: ${what} timed out after ${this.opTimeout} ms`, true, 'ETIMEDOUT'));
      }, this.opTimeout);
      try {
        start((err, value) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (err) reject(err);
          else resolve(value as T);
        });
      } catch (e) {
        done = true;
        clearTimeout(timer);
        reject(e as Error);
      }
    });
  }

  private stat_(s: Session, p: string): Promise<Stats> {
    return this.req<Stats>(s, `stat ${p}`, (cb) => s.sftp.stat(p, cb));
  }

  private async isDir(s: Session, p: string): Promise<boolean> {
    try {
      return ((await this.stat_(s, p)).mode & S_IFMT) === S_IFDIR;
    } catch (e) {
      if ((e as { code?: unknown }).code === FX.NO_SUCH_FILE) return false;
      throw e;
    }
  }

  private async mkdirp(s: Session, dir: string): Promise<void> {
    try {
      await this.req<void>(s, `mkdir ${dir}`, (cb) => s.sftp.mkdir(dir, { mode: 0o700 }, cb));
      return;
    } catch (e) {
      const parent = posix.dirname(dir);
      if ((e as { code?: unknown }).code === FX.NO_SUCH_FILE && parent !== dir) {
        await this.mkdirp(s, parent);
        try {
          await this.req<void>(s, `mkdir ${dir}`, (cb) => s.sftp.mkdir(dir, { mode: 0o700 }, cb));
          return;
        } catch (e2) {
          if (await this.isDir(s, dir)) return;
          throw e2;
        }
      }
      if (await this.isDir(s, dir)) return; // it exists (OpenSSH answers FAILURE)
      throw e;
    }
  }

  private readdir(s: Session, dir: string): Promise<FileEntryWithStats[]> {
    return this.req<FileEntryWithStats[]>(s, `readdir ${dir}`, (cb) => s.sftp.readdir(dir, cb)).catch((e: unknown) => {
      if ((e as { code?: unknown }).code === FX.NO_SUCH_FILE) return [];
      throw e;
    });
  }

  private closeHandle(s: Session, handle: Buffer, what: string): Promise<void> {
    return this.req<void>(s, `close ${what}`, (cb) => s.sftp.close(handle, cb));
  }

  /** Writes `data` at offset 0 with up to PIPELINE requests in flight. */
  private async writeAll(s: Session, handle: Buffer, data: Buffer, what: string): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < data.length) {
        const off = next;
        const len = Math.min(CHUNK, data.length - off);
        next += len;
        await this.req<void>(s, `write ${what}`, (cb) => s.sftp.write(handle, data, off, len, off, (err) => cb(err)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(PIPELINE, Math.ceil(data.length / CHUNK)) }, worker));
  }

  /** Reads `len` bytes at `offset` into a new buffer, with up to PIPELINE requests in flight. */
  private async readRange(s: Session, handle: Buffer, offset: number, len: number, what: string): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(len);
    const queue: [number, number][] = [];
    for (let o = 0; o < len; o += CHUNK) queue.push([o, Math.min(CHUNK, len - o)]);
    let short: number | undefined;
    const worker = async () => {
      for (let seg = queue.shift(); seg && short === undefined; seg = queue.shift()) {
        const [o, n] = seg;
        const got = await this.req<number>(s, `read ${what}`, (cb) => s.sftp.read(handle, buf, o, n, offset + o, (err, bytesRead) => cb(err, bytesRead)));
        if (got === 0) short = o;
        else if (got < n) queue.push([o + got, n - got]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PIPELINE, Math.max(1, queue.length)) }, worker));
    if (short !== undefined) throw new SftpError(`${this.location}: short read of ${what}: wanted ${len} bytes at ${offset}, file ends before ${offset + short + 1}`, false, 'ESHORT');
    return buf;
  }

  // ---- StorageTarget

  async create(): Promise<void> {
    await this.withSession('create', async (s) => {
      const config = posix.join(this.spec.path, 'config');
      try {
        await this.stat_(s, config);
        throw new SftpError(`a repository already exists at ${this.location} (config file found)`, false, 'EEXIST');
      } catch (e) {
        if ((e as { code?: unknown }).code !== FX.NO_SUCH_FILE) throw e;
      }
      await this.mkdirp(s, this.spec.path);
      await Promise.all(DIRS.map((d) => this.mkdirp(s, posix.join(this.spec.path, d))));
      const data = posix.join(this.spec.path, 'data');
      const have = new Set((await this.readdir(s, data)).map((e) => e.filename));
      const missing = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0')).filter((p) => !have.has(p));
      await Promise.all(missing.map((p) => this.mkdirp(s, posix.join(data, p))));
    });
  }

  async save(h: FileHandle, data: Uint8Array): Promise<void> {
    const final = this.filename(h);
    const dir = posix.dirname(final);
    const what = SftpTarget.describe(h);
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    await this.withSession(`save ${what}`, async (s) => {
      const tmp = posix.join(dir, `${TEMPORARY_PREFIX}${randomBytes(8).toString('hex')}`);
      const open = () => this.req<Buffer>(s, `open ${what} (temp)`, (cb) => s.sftp.open(tmp, 'wx', { mode: 0o600 }, cb));
      let handle: Buffer | undefined;
      let created = false;
      try {
        try {
          handle = await open();
        } catch (e) {
          if ((e as { code?: unknown }).code !== FX.NO_SUCH_FILE) throw e;
          await this.mkdirp(s, dir); // a data/XX folder made lazily
          handle = await open();
        }
        created = true;
        await this.writeAll(s, handle, buf, what);
        if (!s.noFsync) {
          try {
            await this.req<unknown>(s, `fsync ${what}`, (cb) => s.sftp.ext_openssh_fsync(handle!, (err) => cb(err)));
          } catch (e) {
            if (!/does not support/i.test((e as Error).message)) throw e;
            s.noFsync = true;
          }
        }
        const h0 = handle;
        handle = undefined;
        await this.closeHandle(s, h0, what);
        await this.rename(s, tmp, final, what);
        created = false;
      } catch (e) {
        // SFTP v3 has no "disk full" status: a failed write with little space left on the server's disk is one (permanent, said plainly).
        const full = s.alive && (e as { code?: unknown }).code === FX.FAILURE ? await this.freeBytes(s, dir) : undefined;
        if (s.alive) {
          if (handle) await this.closeHandle(s, handle, what).catch(() => {});
          if (created) await this.req<void>(s, `unlink temp of ${what}`, (cb) => s.sftp.unlink(tmp, cb)).catch(() => {});
        }
        if (full !== undefined && full < buf.length) {
          throw new SftpError(`${this.location}: save ${what} failed: no space left on the server's disk (${full} bytes free, ${buf.length} needed)`, false, 'ENOSPC', { cause: e });
        }
        throw e;
      }
    });
  }

  /** Bytes available to us on the server's file system holding `dir` (statvfs@openssh.com), or undefined when the server cannot say. */
  private async freeBytes(s: Session, dir: string): Promise<number | undefined> {
    try {
      const fs = await this.req<{ f_bavail: number | bigint; f_frsize: number | bigint }>(s, 'statvfs', (cb) => s.sftp.ext_openssh_statvfs(dir, cb as never));
      const free = Number(fs.f_bavail) * Number(fs.f_frsize);
      return Number.isFinite(free) ? free : undefined;
    } catch {
      return undefined;
    }
  }

  private async rename(s: Session, from: string, to: string, what: string): Promise<void> {
    if (!s.noPosixRename) {
      try {
        await this.req<void>(s, `rename ${what}`, (cb) => s.sftp.ext_openssh_rename(from, to, cb));
        return;
      } catch (e) {
        if (!/does not support/i.test((e as Error).message)) throw e;
        s.noPosixRename = true;
      }
    }
    // SFTP v3 rename refuses an existing destination: unlink it first (not atomic; only
    // for servers without posix-rename@openssh.com, as restic does).
    try {
      await this.req<void>(s, `rename ${what}`, (cb) => s.sftp.rename(from, to, cb));
    } catch (e) {
      try {
        await this.stat_(s, to);
      } catch {
        throw e;
      }
      await this.req<void>(s, `unlink ${what}`, (cb) => s.sftp.unlink(to, cb));
      await this.req<void>(s, `rename ${what}`, (cb) => s.sftp.rename(from, to, cb));
    }
  }

  async load<T>(h: FileHandle, length: number, offset: number, consume: (data: Buffer) => T | Promise<T>): Promise<T> {
    const file = this.filename(h);
    const what = SftpTarget.describe(h);
    if (!Number.isInteger(length) || length < 0 || !Number.isInteger(offset) || offset < 0) throw new Error(`load ${what}: invalid range (length ${length}, offset ${offset})`);
    const buf = await this.withSession(`load ${what}`, async (s) => {
      let handle: Buffer;
      try {
        handle = await this.req<Buffer>(s, `open ${what}`, (cb) => s.sftp.open(file, 'r', cb));
      } catch (e) {
        if ((e as { code?: unknown }).code === FX.NO_SUCH_FILE) throw new NotFoundError(h, this.location);
        throw e;
      }
      try {
        let len = length;
        if (len === 0) {
          const st = await this.req<Stats>(s, `fstat ${what}`, (cb) => s.sftp.fstat(handle, cb));
          len = st.size - offset;
          if (len < 0) throw new SftpError(`${this.location}: short read of ${what}: offset ${offset} is past the end (${st.size} bytes)`, false, 'ESHORT');
        }
        return len === 0 ? Buffer.alloc(0) : await this.readRange(s, handle, offset, len, what);
      } finally {
        if (s.alive) await this.closeHandle(s, handle, what).catch(() => {});
      }
    });
    return consume(buf);
  }

  async stat(h: FileHandle): Promise<FileInfo> {
    const file = this.filename(h);
    const what = SftpTarget.describe(h);
    return this.withSession(`stat ${what}`, async (s) => {
      try {
        const st = await this.stat_(s, file);
        return { name: h.name, size: st.size };
      } catch (e) {
        if ((e as { code?: unknown }).code === FX.NO_SUCH_FILE) throw new NotFoundError(h, this.location);
        throw e;
      }
    });
  }

  async list(type: FileType): Promise<FileInfo[]> {
    if (type === 'config') return [];
    if (!DIRS.includes(type)) throw new Error(`invalid file type ${JSON.stringify(type)}`);
    const files = (entries: FileEntryWithStats[]): FileInfo[] =>
      entries.filter((e) => ID.test(e.filename) && (e.attrs.mode & S_IFMT) === S_IFREG).map((e) => ({ name: e.filename, size: e.attrs.size }));
    const base = posix.join(this.spec.path, type);
    if (type !== 'data') return this.withSession(`list ${type}`, async (s) => files(await this.readdir(s, base)));
    const prefixes = await this.withSession('list data', async (s) =>
      (await this.readdir(s, base)).filter((e) => /^[0-9a-f]{2}$/.test(e.filename) && (e.attrs.mode & S_IFMT) === S_IFDIR).map((e) => e.filename),
    );
    const out: FileInfo[] = [];
    // A few folders per session request, all sessions at once.
    const perTask = Math.max(1, Math.ceil(prefixes.length / (this.connections * 4)));
    const tasks: string[][] = [];
    for (let i = 0; i < prefixes.length; i += perTask) tasks.push(prefixes.slice(i, i + perTask));
    await Promise.all(
      tasks.map((group) =>
        this.withSession('list data', async (s) => {
          const lists = await Promise.all(group.map((p) => this.readdir(s, posix.join(base, p))));
          for (const l of lists) out.push(...files(l));
        }),
      ),
    );
    return out;
  }

  async removeLeftovers(olderThan: number): Promise<number> {
    return this.withSession('remove leftovers', async (s) => {
      const dataDir = posix.join(this.spec.path, 'data');
      const folders = [this.spec.path, ...DIRS.map((d) => posix.join(this.spec.path, d))];
      for (const e of await this.readdir(s, dataDir)) {
        if (/^[0-9a-f]{2}$/.test(e.filename) && (e.attrs.mode & S_IFMT) === S_IFDIR) folders.push(posix.join(dataDir, e.filename));
      }
      let removed = 0;
      for (const dir of folders) {
        const entries = await this.readdir(s, dir);
        for (const e of entries) {
          // SFTP gives whole seconds: a file is old enough when its last second ended before `olderThan`.
          if (!e.filename.startsWith(TEMPORARY_PREFIX) || (e.attrs.mode & S_IFMT) !== S_IFREG || (e.attrs.mtime + 1) * 1000 > olderThan) continue;
          const file = posix.join(dir, e.filename);
          await this.req<void>(s, `unlink ${file}`, (cb) => s.sftp.unlink(file, cb)).catch((err: unknown) => {
            if ((err as { code?: unknown }).code !== FX.NO_SUCH_FILE) throw err;
          });
          removed++;
        }
      }
      return removed;
    });
  }

  async remove(h: FileHandle): Promise<void> {
    const file = this.filename(h);
    const what = SftpTarget.describe(h);
    await this.withSession(`remove ${what}`, async (s) => {
      try {
        await this.req<void>(s, `unlink ${what}`, (cb) => s.sftp.unlink(file, cb));
      } catch (e) {
        if ((e as { code?: unknown }).code === FX.NO_SUCH_FILE) throw new NotFoundError(h, this.location);
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(this.closedError());
    const links = this.links.splice(0);
    this.idle = [];
    await Promise.all(
      links.map(
        (l) =>
          new Promise<void>((resolve) => {
            const c = l.client;
            if (!c || !l.socket || l.socket.destroyed) {
              l.socket?.destroy();
              return resolve();
            }
            const t = setTimeout(() => {
              l.socket?.destroy();
              resolve();
            }, 2000);
            t.unref();
            c.once('close', () => {
              clearTimeout(t);
              resolve();
            });
            c.end();
          }),
      ),
    );
  }
}

/** The host-key algorithms that make the server present a key of the pinned type. */
function hostKeyAlgorithms(keyType: string): ServerHostKeyAlgorithm[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return [keyType as ServerHostKeyAlgorithm];
}
