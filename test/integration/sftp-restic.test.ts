/**
 * SftpTarget against a real OpenSSH server on 127.0.0.1 (test/helpers/sshd.ts),
 * with Debian's restic as the oracle: restic checks and restores a repository
 * Lifeboat wrote over SFTP, and Lifeboat restores one restic wrote over SFTP.
 * Also: restic's location forms, host keys pinned on first use and refused
 * when changed, every authentication method (key, key with passphrase,
 * ssh-agent, password), the session pool, timeouts, dropped connections
 * and the transient/permanent classification a retry wrapper relies on.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backup } from '../../main/engine/backup.js';
import { Repository } from '../../main/engine/repository.js';
import { restore } from '../../main/engine/restore.js';
import { HostKeyChangedError, KnownHosts, describeHostKey } from '../../main/engine/targets/known-hosts.js';
import { openTarget } from '../../main/engine/targets/open-target.js';
import { SftpError, SftpTarget, formatSftpLocation, isTransientSftpError, parseSftpLocation, type SftpOptions } from '../../main/engine/targets/sftp.js';
import { NotFoundError, loadAll, type FileHandle } from '../../main/engine/targets/target.js';
import { makeSourceTree } from '../fixtures/source-tree.js';
import { fingerprintOf, createPasswordUser, sshKeygen, startAgent, startSshd, type Sshd } from '../helpers/sshd.js';
import { describeTree, diffTrees } from '../helpers/tree-compare.js';
import { PROJECT_ROOT, ok, requireTool, restic, scratch } from '../helpers/tools.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const isRoot = process.getuid?.() === 0;

let sshd: Sshd;
let work: string;
let n = 0;

beforeAll(async () => {
  sshd = await startSshd();
  work = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-sftp-'));
});
afterAll(async () => {
  await sshd?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A fresh folder (below `work`) and its sftp:// location on `server`. */
function place(server: Sshd = sshd, user = server.user): { dir: string; location: string; knownHostsFile: string } {
  const dir = path.join(work, `t${n++}`);
  mkdirSync(dir, { recursive: true });
  return { dir, location: `sftp://${user}@127.0.0.1:${server.port}/${path.join(dir, 'repo')}`, knownHostsFile: path.join(dir, 'known_hosts.json') };
}

function keyTarget(p: ReturnType<typeof place>, extra: Partial<SftpOptions> = {}, server: Sshd = sshd): SftpTarget {
  return new SftpTarget(p.location, { privateKey: readFileSync(server.userKeyFile), knownHostsFile: p.knownHostsFile, ...extra });
}

async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );
}

function file(size = 1000): { h: FileHandle; data: Buffer } {
  const data = randomBytes(size);
  return { h: { type: 'data', name: sha(data) }, data };
}

describe('sftp locations (restic forms)', () => {
  it('parses sftp:user@host:/path, sftp:host:path and sftp://user@host:port/path', () => {
    expect(parseSftpLocation('sftp:backup@nas:/srv/restic')).toEqual({ user: 'backup', host: 'nas', port: 22, path: '/srv/restic' });
    expect(parseSftpLocation('sftp:nas.local:/srv/restic/')).toEqual({ host: 'nas.local', port: 22, path: '/srv/restic' });
    expect(parseSftpLocation('sftp:nas:backups/repo')).toEqual({ host: 'nas', port: 22, path: 'backups/repo' });
    // restic: the first slash after host[:port] ends the authority, so an absolute path needs two
    expect(parseSftpLocation('sftp://backup@nas:2222//srv/restic')).toEqual({ user: 'backup', host: 'nas', port: 2222, path: '/srv/restic' });
    expect(parseSftpLocation('sftp://backup@nas:2222/repo')).toEqual({ user: 'backup', host: 'nas', port: 2222, path: 'repo' });
    expect(parseSftpLocation('sftp://nas/repo')).toEqual({ host: 'nas', port: 22, path: 'repo' });
    expect(parseSftpLocation('sftp://[fd00::1]:2200//r')).toEqual({ host: 'fd00::1', port: 2200, path: '/r' });
    expect(parseSftpLocation('sftp:me@[::1]:/r')).toEqual({ user: 'me', host: '::1', port: 22, path: '/r' });
    expect(parseSftpLocation('sftp://us%40er@nas//a%20b')).toEqual({ user: 'us@er', host: 'nas', port: 22, path: '/a b' });
    expect(parseSftpLocation('sftp:a@b@nas:/r')).toEqual({ user: 'a@b', host: 'nas', port: 22, path: '/r' });
  });

  it('formats a canonical location that parses back to the same thing', () => {
    for (const l of ['sftp:backup@nas:/srv/restic', 'sftp://backup@nas:2222//srv/restic', 'sftp://nas:2222/rel/repo', 'sftp:[::1]:/r', 'sftp:nas:rel']) {
      const parsed = parseSftpLocation(l);
      expect(parseSftpLocation(formatSftpLocation(parsed)), l).toEqual(parsed);
    }
    expect(formatSftpLocation(parseSftpLocation('sftp://backup@nas:22//srv/x/'))).toBe('sftp:backup@nas:/srv/x');
  });

  it('refuses malformed locations with errors that name them, never echoing a password', () => {
    const cases: [string, RegExp][] = [
      ['sftp:nas', /expected sftp:user@host:\/folder/],
      ['sftp:nas:', /no folder/],
      ['sftp::/srv', /no host/],
      ['sftp://nas', /no folder after the host/],
      ['sftp://nas:99999//r', /port "99999"/],
      ['sftp://nas:abc//r', /cannot read host and port/],
      ['sftp:nas:~/repo', /starts with "~"/],
      ['sftp:nas:../up', /above it/],
      ['sftp:nas:.', /login folder itself/],
      ['sftp:bad host:/r', /is not a host name/],
    ];
    for (const [loc, re] of cases) {
      const e = (() => {
        try {
          parseSftpLocation(loc);
        } catch (err) {
          return err as Error;
        }
        throw new Error(`${loc} was accepted`);
      })();
      expect(e.message, loc).toMatch(re);
      expect(e.message, loc).toContain(JSON.stringify(loc));
    }
    const withPassword = 'sftp://backup:hunter2secret@nas//srv';
    expect(() => parseSftpLocation(withPassword)).toThrow(/a password in the location is not accepted/);
    try {
      parseSftpLocation(withPassword);
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2secret');
      expect((e as Error).message).toContain('sftp://backup:***@nas//srv');
    }
  });

  it('needs a known-hosts file and some authentication', async () => {
    expect(() => new SftpTarget('sftp:nas:/r', { knownHostsFile: '' })).toThrow(/known-hosts file is required/);
    expect(() => new SftpTarget('sftp:nas:/r', { knownHostsFile: '/x', connections: 0 })).toThrow(/connections: must be 1 to 64/);
    expect(() => new SftpTarget('sftp:nas:/r', { knownHostsFile: '/x', connections: 40, sshConnections: 2 })).toThrow(/more than 10 per connection/);
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const p = place();
      const t = new SftpTarget(p.location, { knownHostsFile: p.knownHostsFile });
      const e = await failure(t.stat({ type: 'config', name: '' }));
      expect(e.message).toMatch(/no SSH authentication configured/);
      expect(isTransientSftpError(e)).toBe(false);
      await t.close();
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });
});

describe('error classification for the retry wrapper', () => {
  it('calls resets, drops and timeouts transient; auth, permissions, not found and failures permanent', () => {
    const err = (props: Record<string, unknown>, message = 'x') => Object.assign(new Error(message), props);
    for (const e of [
      err({ code: 'ECONNRESET' }),
      err({ code: 'ECONNREFUSED' }),
      err({ code: 'ETIMEDOUT' }),
      err({ code: 'EPIPE' }),
      err({ level: 'client-timeout' }, 'Timed out while waiting for handshake'),
      err({ level: 'client-socket' }),
      err({ code: 7 }, 'Connection lost'),
      err({ code: 6 }, 'No connection'),
      new Error('No response from server'),
      new Error('Keepalive timeout'),
      new SftpError('x', true),
    ]) {
      expect(isTransientSftpError(e), e.message).toBe(true);
    }
    for (const e of [
      err({ level: 'client-authentication' }, 'All configured authentication methods failed'),
      err({ code: 2 }, 'No such file'),
      err({ code: 3 }, 'Permission denied'),
      err({ code: 4 }, 'Failure'),
      err({ code: 8 }, 'Operation unsupported'),
      err({ code: 'ENOSPC' }),
      new NotFoundError({ type: 'config', name: '' }, 'x'),
      new HostKeyChangedError('nas:22', { keyType: 'a', fingerprint: 'SHA256:a' }, { keyType: 'a', fingerprint: 'SHA256:b' }, '/f'),
      new SftpError('x', false),
      new Error('something else'),
      'a string',
      undefined,
    ]) {
      expect(isTransientSftpError(e), String(e)).toBe(false);
    }
  });
});

describe('host keys: pinned on first use, verified after', () => {
  let server: Sshd;
  beforeAll(async () => {
    server = await startSshd({ hostKeyType: 'ecdsa' });
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('pins an unknown host, reports its fingerprint once, then accepts it silently', async () => {
    const p = place(server);
    const seen: { fingerprint: string; hostPort: string; keyType: string }[] = [];
    const onNewHostKey: SftpOptions['onNewHostKey'] = (fingerprint, info) => seen.push({ fingerprint, hostPort: info.hostPort, keyType: info.keyType });
    const t = keyTarget(p, { onNewHostKey, connections: 4 }, server);
    await t.create();
    await Promise.all(Array.from({ length: 8 }, () => t.list('data'))); // several SSH connections at once
    expect(t.stats.sshConnections).toBeGreaterThan(1);
    await t.close();
    const expected = fingerprintOf(path.join(server.dir, 'ssh_host_ecdsa_key.pub'));
    expect(expected.keyType).toBe('ecdsa-sha2-nistp256');
    expect(seen).toEqual([{ fingerprint: expected.fingerprint, hostPort: `127.0.0.1:${server.port}`, keyType: 'ecdsa-sha2-nistp256' }]);
    const pinned = JSON.parse(readFileSync(p.knownHostsFile, 'utf8')) as { version: number; hosts: Record<string, { keyType: string; fingerprint: string; pinnedAt: string }> };
    expect(pinned.version).toBe(1);
    expect(pinned.hosts[`127.0.0.1:${server.port}`]).toMatchObject({ keyType: 'ecdsa-sha2-nistp256', fingerprint: expected.fingerprint });
    expect(statSync(p.knownHostsFile).mode & 0o777).toBe(0o600);
    expect(readdirSync(p.dir).filter((f) => f.includes('tmp'))).toEqual([]);

    const again = keyTarget(p, { onNewHostKey }, server);
    await again.list('keys');
    await again.close();
    expect(seen).toHaveLength(1);
  });

  it('refuses a changed host key, naming host, both fingerprints and the pin file', async () => {
    const p = place(server);
    const t = keyTarget(p, {}, server);
    await t.create();
    const { h, data } = file();
    await t.save(h, data);
    await t.close();
    const old = server.hostFingerprint;
    const pinBefore = readFileSync(p.knownHostsFile, 'utf8');

    await server.restart({ newHostKey: true });
    expect(server.hostFingerprint).not.toBe(old);
    const t2 = keyTarget(p, { onNewHostKey: () => expect.unreachable('not a new host') }, server);
    const e = await failure(loadAll(t2, h));
    expect(e).toBeInstanceOf(HostKeyChangedError);
    expect(e.message).toContain(`host key for 127.0.0.1:${server.port} changed`);
    expect(e.message).toContain(old);
    expect(e.message).toContain(server.hostFingerprint);
    expect(e.message).toContain('refusing to connect');
    expect(e.message).toContain(`remove its entry "127.0.0.1:${server.port}" from ${p.knownHostsFile}`);
    expect(isTransientSftpError(e)).toBe(false);
    expect(readFileSync(p.knownHostsFile, 'utf8')).toBe(pinBefore);
    await t2.close();

    // After the admin removes the entry, the new key is pinned.
    expect(await new KnownHosts(p.knownHostsFile).remove(`127.0.0.1:${server.port}`)).toBe(true);
    const pinnedNow: string[] = [];
    const t3 = keyTarget(p, { onNewHostKey: (fp) => pinnedNow.push(fp) }, server);
    expect((await loadAll(t3, h)).equals(data)).toBe(true);
    await t3.close();
    expect(pinnedNow).toEqual([server.hostFingerprint]);
  });

  it('refuses a server that no longer offers the pinned key type', async () => {
    const p = place(server);
    writeFileSync(
      p.knownHostsFile,
      JSON.stringify({ version: 1, hosts: { [`127.0.0.1:${server.port}`]: { keyType: 'ssh-ed25519', fingerprint: 'SHA256:AAAA', pinnedAt: '2026-01-01T00:00:00.000Z' } } }),
    );
    const t = keyTarget(p, {}, server);
    const e = await failure(t.list('keys'));
    expect(e.message).toMatch(/does not offer the pinned ssh-ed25519 host key \(SHA256:AAAA\); refusing to connect/);
    expect(e.message).toContain(p.knownHostsFile);
    expect(isTransientSftpError(e)).toBe(false);
    await t.close();
  });

  it('refuses to connect with a damaged pin file, and leaves it alone', async () => {
    const p = place(server);
    writeFileSync(p.knownHostsFile, '{ not json');
    const t = keyTarget(p, {}, server);
    const e = await failure(t.list('keys'));
    expect(e.message).toMatch(/known-hosts file .* is damaged/);
    expect(isTransientSftpError(e)).toBe(false);
    expect(readFileSync(p.knownHostsFile, 'utf8')).toBe('{ not json');
    await t.close();
  });

  it('computes OpenSSH fingerprints', () => {
    const line = readFileSync(`${server.userKeyFile}.pub`, 'utf8').trim().split(/\s+/);
    const d = describeHostKey(Buffer.from(line[1]!, 'base64'));
    expect(d).toEqual(fingerprintOf(`${server.userKeyFile}.pub`));
  });
});

describe('authentication', () => {
  it('uses a private key with a passphrase, and says clearly when the passphrase is wrong or missing', async () => {
    const key = sshKeygen(path.join(work, 'encrypted_key'), 'ed25519', 'open sesame');
    sshd.authorize(readFileSync(`${key}.pub`, 'utf8'));
    const p = place();
    const t = new SftpTarget(p.location, { privateKeyFile: key, passphrase: 'open sesame', knownHostsFile: p.knownHostsFile });
    await t.create();
    await t.close();
    for (const [passphrase, re] of [
      ['wrong', /cannot use private key file .*: wrong passphrase/],
      [undefined, /it is encrypted and no passphrase was given/],
    ] as const) {
      const bad = new SftpTarget(p.location, { privateKeyFile: key, ...(passphrase ? { passphrase } : {}), knownHostsFile: p.knownHostsFile });
      const e = await failure(bad.list('keys'));
      expect(e.message).toMatch(re);
      expect(isTransientSftpError(e)).toBe(false);
      await bad.close();
    }
  });

  it('fails a key the server does not know with a clear, permanent error that shows no secret', async () => {
    const stranger = sshKeygen(path.join(work, 'stranger_key'));
    const p = place();
    const keyText = readFileSync(stranger, 'utf8');
    const t = new SftpTarget(p.location, { privateKey: keyText, knownHostsFile: p.knownHostsFile });
    const e = await failure(t.create());
    expect(e).toBeInstanceOf(SftpError);
    expect(e.message).toContain(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/`);
    expect(e.message).toMatch(new RegExp(`connecting to 127.0.0.1:${sshd.port} as ${sshd.user}: authentication failed \\(tried publickey\\)`));
    expect(isTransientSftpError(e)).toBe(false);
    const body = keyText.split('\n')[1]!;
    expect(e.message).not.toContain(body.slice(0, 20));
    await t.close();
  });

  it('authenticates through ssh-agent (a socket path, or $SSH_AUTH_SOCK by default)', async () => {
    const agent = await startAgent(work, [sshd.userKeyFile]);
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      const p = place();
      const t = new SftpTarget(p.location, { agent: agent.socket, knownHostsFile: p.knownHostsFile });
      await t.create();
      await t.close();
      process.env.SSH_AUTH_SOCK = agent.socket;
      for (const opts of [{ agent: true }, {}]) {
        const t2 = new SftpTarget(p.location, { ...opts, knownHostsFile: p.knownHostsFile });
        expect(await t2.list('keys')).toEqual([]);
        await t2.close();
      }
      // an agent without the right key
      const empty = await startAgent(work, []);
      const t3 = new SftpTarget(p.location, { agent: empty.socket, knownHostsFile: p.knownHostsFile });
      const e = await failure(t3.list('keys'));
      expect(e.message).toMatch(/authentication failed \(tried ssh-agent\)/);
      await t3.close();
      empty.stop();
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.stop();
    }
  });

  it.skipIf(!isRoot)('authenticates with a password (a test user made for it, as root); wrong passwords and permissions fail for good', async () => {
    const server = await startSshd({ passwordAuthentication: true });
    const home = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-sftp-home-'));
    const user = createPasswordUser(home);
    try {
      const kh = path.join(work, `pw-${n++}.json`);
      const location = `sftp://${user.name}@127.0.0.1:${server.port}/${home}/repo`;
      const t = new SftpTarget(location, { password: user.password, knownHostsFile: kh });
      await t.create();
      const { h, data } = file(100_000);
      await t.save(h, data);
      expect((await loadAll(t, h)).equals(data)).toBe(true);
      await t.close();
      expect(statSync(path.join(home, 'repo', 'data', h.name.slice(0, 2), h.name)).uid).toBe(user.uid);

      const wrong = new SftpTarget(location, { password: 'not-' + user.password, knownHostsFile: kh });
      const e = await failure(wrong.list('keys'));
      expect(e.message).toMatch(/authentication failed \(tried password\)/);
      expect(e.message).not.toContain(user.password);
      expect(isTransientSftpError(e)).toBe(false);
      await wrong.close();

      // A folder the user may not write to: permission denied, permanent.
      const forbidden = new SftpTarget(`sftp://${user.name}@127.0.0.1:${server.port}/${server.dir}/repo`, { password: user.password, knownHostsFile: kh });
      const e2 = await failure(forbidden.create());
      expect(e2.message).toMatch(/create failed: permission denied/);
      expect(e2.message).not.toContain(user.password);
      expect(isTransientSftpError(e2)).toBe(false);
      await forbidden.close();
    } finally {
      user.remove();
      rmSync(home, { recursive: true, force: true });
      await server.dispose();
    }
  });
});

describe('sessions, timeouts and dropped connections', () => {
  it('never runs more sessions than connections, spread over SSH connections', async () => {
    const p = place();
    const t = keyTarget(p, { connections: 3 });
    await t.create();
    let maxSessions = 0;
    const files = Array.from({ length: 20 }, () => file(200_000));
    await Promise.all(
      files.map(async (f) => {
        await t.save(f.h, f.data);
        maxSessions = Math.max(maxSessions, t.stats.sessions);
      }),
    );
    expect(maxSessions).toBeLessThanOrEqual(3);
    expect(t.stats.sshConnections).toBe(3);
    await t.close();
    expect(t.stats).toEqual({ sshConnections: 0, sessions: 0, idleSessions: 0 });

    const one = keyTarget(p, { connections: 4, sshConnections: 1 });
    const loaded = await Promise.all(files.map((f) => loadAll(one, f.h)));
    loaded.forEach((b, i) => expect(b.equals(files[i]!.data)).toBe(true));
    expect(one.stats).toMatchObject({ sshConnections: 1, sessions: 4 });
    await one.close();
  });

  it('close() during a connect ends it too: the operation fails saying the target is closed', async () => {
    const p = place();
    const t = keyTarget(p);
    const pending = failure(t.list('keys'));
    await t.close();
    const e = await pending;
    expect(e.message).toMatch(/the target is closed/);
    expect(isTransientSftpError(e)).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.stats).toEqual({ sshConnections: 0, sessions: 0, idleSessions: 0 });
  });

  it('creates a missing data/XX folder on save, and a missing repository folder tree on create', async () => {
    const p = place();
    const deep = new SftpTarget(`${p.location}/a/b`, { privateKey: readFileSync(sshd.userKeyFile), knownHostsFile: p.knownHostsFile });
    await deep.create();
    const root = path.join(p.dir, 'repo', 'a', 'b');
    expect(statSync(path.join(root, 'data', 'ff')).isDirectory()).toBe(true);
    expect(statSync(path.join(root, 'keys')).mode & 0o777).toBe(0o700);
    rmSync(path.join(root, 'data'), { recursive: true });
    const { h, data } = file();
    await deep.save(h, data);
    expect(readFileSync(path.join(root, 'data', h.name.slice(0, 2), h.name)).equals(data)).toBe(true);
    expect(statSync(path.join(root, 'data', h.name.slice(0, 2), h.name)).mode & 0o777).toBe(0o600);
    await deep.close();
  });

  it('reconnects on the next operation after the server dropped an idle connection', async () => {
    const p = place();
    const t = keyTarget(p, { connections: 2 });
    await t.create();
    const { h, data } = file();
    await t.save(h, data);
    sshd.dropConnections();
    for (let i = 0; i < 100 && t.stats.sshConnections > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(t.stats.sshConnections).toBe(0);
    expect((await loadAll(t, h)).equals(data)).toBe(true);
    expect(t.stats.sshConnections).toBe(1);
    await t.close();
  });

  it('times out a request the server never answers (transient), then reconnects', async () => {
    const p = place();
    const t = keyTarget(p, { connections: 1, operationTimeout: 1500 });
    await t.create();
    const { h, data } = file();
    await t.save(h, data);
    sshd.pauseConnections();
    let e: Error;
    const started = Date.now();
    try {
      e = await failure(t.stat(h));
    } finally {
      sshd.resumeConnections();
    }
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e.message).toMatch(/stat .* timed out after 1500 ms/);
    expect(e.message).toContain(t.location);
    expect(isTransientSftpError(e)).toBe(true);
    expect(await t.stat(h)).toEqual({ name: h.name, size: data.length });
    await t.close();
  });

  it('times out a handshake that never comes (transient)', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const t = new SftpTarget(`sftp://u@127.0.0.1:${port}//r`, { password: 'pw', knownHostsFile: path.join(work, 'silent.json'), connectTimeout: 500 });
      const e = await failure(t.list('keys'));
      expect(e.message).toMatch(/connecting to 127\.0\.0\.1:\d+ as u failed: Timed out while waiting for handshake/);
      expect(isTransientSftpError(e)).toBe(true);
      await t.close();
    } finally {
      silent.close();
    }
  });

  it('does not keep the process alive when idle (no close needed to exit)', async () => {
    const p = place();
    const script = path.join(p.dir, 'idle.mts');
    writeFileSync(
      script,
      `import { SftpTarget } from ${JSON.stringify(path.join(PROJECT_ROOT, 'main/engine/targets/sftp.js'))};
import { readFileSync } from 'node:fs';
const t = new SftpTarget(${JSON.stringify(p.location)}, { privateKey: readFileSync(${JSON.stringify(sshd.userKeyFile)}), knownHostsFile: ${JSON.stringify(p.knownHostsFile)} });
await t.create();
await t.save({ type: 'keys', name: 'a'.repeat(64) }, Buffer.from('x'));
console.log('saved', t.stats.sshConnections);
`,
    );
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out).toContain('saved 1');
    expect(code, out).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('sshd stopped mid-operation', () => {
  let server: Sshd;
  beforeAll(async () => {
    server = await startSshd();
  });
  afterAll(async () => {
    await server?.dispose();
  });

  it('fails the save with a transient error naming the target and operation, leaves no final file, and works again after a restart', async () => {
    const p = place(server);
    const t = keyTarget(p, { connections: 2 }, server);
    await t.create();
    const big = randomBytes(96 * 1024 * 1024);
    const h: FileHandle = { type: 'data', name: sha(big) };
    const folder = path.join(p.dir, 'repo', 'data', h.name.slice(0, 2));
    const saving = t.save(h, big).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // stop the server once the temp file is being written
    for (let i = 0; i < 500 && !readdirSync(folder).some((f) => f.startsWith('.tmp-') && statSync(path.join(folder, f)).size > 0); i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await server.stop();
    const e = await saving;
    expect(e, 'the save should have been cut off').toBeInstanceOf(Error);
    expect(e!.message).toContain(t.location);
    expect(e!.message).toContain(`save data/${h.name} failed`);
    expect(isTransientSftpError(e), e!.message).toBe(true);
    expect(existsSync(path.join(folder, h.name))).toBe(false);

    // while the server is down: connection refused, transient
    const down = await failure(t.stat(h));
    expect(down.message).toMatch(/ECONNREFUSED|connect/);
    expect(isTransientSftpError(down), down.message).toBe(true);

    await server.restart();
    const small = file(5000);
    await t.save(small.h, small.data);
    expect((await loadAll(t, small.h)).equals(small.data)).toBe(true);
    await t.close();
  });
});

describe('restic reads what Lifeboat wrote over SFTP, and the other way round', () => {
  let s: ReturnType<typeof scratch>;
  let src: string;
  const PASSWORD = 'correct horse battery staple';

  beforeAll(() => {
    requireTool('restic');
    s = scratch('lifeboat-sftp-restic-');
    src = path.join(s.dir, 'src');
    makeSourceTree(src);
  });
  afterAll(() => s?.dispose());

  const sftpOptions = () => ({ privateKey: readFileSync(sshd.userKeyFile), knownHostsFile: path.join(s.dir, 'known_hosts.json') });

  it('restic check --read-data and restore accept a repository Lifeboat wrote over SFTP', async () => {
    const repoPath = path.join(s.dir, 'lb-repo');
    const loc = `sftp://${sshd.user}@127.0.0.1:${sshd.port}/${repoPath}`;
    const repo = await Repository.init(openTarget(loc, { connections: 4, sftp: sftpOptions() }), PASSWORD);
    const res = await backup(repo, { paths: [src], workers: 2, tags: ['sftp'] });
    expect(res.partial).toBe(false);
    await repo.close();

    const resticRepo = ['-r', `sftp:${sshd.user}@127.0.0.1:${repoPath}`, '-o', `sftp.command=${sshd.sshCommand()}`];
    const check = restic([...resticRepo, 'check', '--read-data'], s.passwordFile);
    expect(check.stdout + check.stderr).toContain('no errors were found');
    expect(check.status).toBe(0);
    const snaps = JSON.parse(ok(restic([...resticRepo, 'snapshots', '--json'], s.passwordFile), 'restic snapshots').stdout) as { id: string; tags: string[] }[];
    expect(snaps.map((x) => x.id)).toEqual([res.snapshot.id]);
    expect(snaps[0]!.tags).toEqual(['sftp']);
    const out = path.join(s.dir, 'restic-restore');
    ok(restic([...resticRepo, 'restore', res.snapshot.id, '--target', out], s.passwordFile), 'restic restore');
    expect(diffTrees(describeTree(src), describeTree(path.join(out, src)))).toEqual([]);
  });

  it('Lifeboat restores over SFTP what restic backed up over SFTP', async () => {
    const repoPath = path.join(s.dir, 'restic-repo');
    const resticRepo = ['-r', `sftp:${sshd.user}@127.0.0.1:${repoPath}`, '-o', `sftp.command=${sshd.sshCommand()}`];
    ok(restic([...resticRepo, 'init'], s.passwordFile), 'restic init');
    ok(restic([...resticRepo, 'backup', src], s.passwordFile), 'restic backup');
    const repo = await Repository.open(openTarget(`sftp://${sshd.user}@127.0.0.1:${sshd.port}/${repoPath}`, { sftp: sftpOptions() }), PASSWORD);
    const snap = await repo.findSnapshot('latest');
    const out = path.join(s.dir, 'lb-restore');
    const r = await restore(repo, snap, { target: out, workers: 2 });
    expect(r.errors).toEqual([]);
    await repo.close();
    expect(diffTrees(describeTree(src), describeTree(path.join(out, src)))).toEqual([]);
  });
});
