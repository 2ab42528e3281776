/**
 * A real OpenSSH server (Debian's /usr/sbin/sshd) on 127.0.0.1 for the SFTP
 * tests: its own temp folder with a generated host key and user key, a free
 * port, `Subsystem sftp internal-sftp`, run in the foreground (`-D -e`) as a
 * child process. Missing sshd fails the test with the install command (never
 * a skip).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

const SSHD = '/usr/sbin/sshd';

export interface SshdOptions {
  /** Allow password authentication (default false: keys only). */
  passwordAuthentication?: boolean;
  /** Host key type (default ed25519). */
  hostKeyType?: 'ed25519' | 'ecdsa' | 'rsa';
  /** Extra sshd_config lines. */
  extraConfig?: string[];
}

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The temp folder holding keys, config and pid file (removed by `dispose`). */
  readonly dir: string;
  /** The user the tests log in as: the one running the tests. */
  readonly user: string;
  /** Private key (no passphrase) in authorized_keys. */
  readonly userKeyFile: string;
  /** Host key fingerprint as `ssh-keygen -l` prints it ("SHA256:…") and its type ("ssh-ed25519"). */
  hostFingerprint: string;
  hostKeyType: string;
  /** What sshd printed (stderr), for failure messages. */
  log(): string;
  /** Adds a public key line to the authorized keys file. */
  authorize(publicKeyLine: string): void;
  /** The `ssh` command restic's `-o sftp.command=` needs to reach this server with the user key. */
  sshCommand(): string;
  /** Kills the per-connection server processes (drops every open connection); the listener stays. */
  dropConnections(): void;
  /** Freezes (SIGSTOP) the per-connection server processes: connections stay open but nothing answers. */
  pauseConnections(): void;
  /** Lets frozen per-connection processes run again (SIGCONT). */
  resumeConnections(): void;
  /** Stops the server and drops every connection. */
  stop(): Promise<void>;
  /** Starts it again on the same port; with `newHostKey`, after generating a new host key. */
  restart(opts?: { newHostKey?: boolean }): Promise<void>;
  /** Stops the server and removes its folder. */
  dispose(): Promise<void>;
}

/** Fails (never skips) when sshd or ssh-keygen is missing. */
export function requireSshd(): void {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is required for the SFTP tests: install it with \`apt-get install -y openssh-server openssh-client\``);
  const r = spawnSync('sh', ['-c', 'command -v ssh-keygen && command -v ssh']);
  if (r.status !== 0) throw new Error('ssh-keygen and ssh are required for the SFTP tests: install them with `apt-get install -y openssh-client`');
}

function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Generates an OpenSSH key pair; returns the private key path (the public key is `${path}.pub`). */
export function sshKeygen(file: string, type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519', passphrase = ''): string {
  rmSync(file, { force: true });
  rmSync(`${file}.pub`, { force: true });
  run('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', passphrase, '-C', 'lifeboat-test', '-f', file]);
  return file;
}

/** "SHA256:…" fingerprint and the key's type name of a public key file, from ssh-keygen itself. */
export function fingerprintOf(pubFile: string): { fingerprint: string; keyType: string } {
  const out = run('ssh-keygen', ['-l', '-E', 'sha256', '-f', pubFile]).trim();
  const fingerprint = out.split(/\s+/)[1]!;
  const keyType = readFileSync(pubFile, 'utf8').trim().split(/\s+/)[0]!;
  return { fingerprint, keyType };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** All descendants of `pid` (children first found via /proc). */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(pid);
  return out;
}

function killAll(pids: number[], signal: NodeJS.Signals = 'SIGKILL'): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      /* already gone */
    }
  }
}

export async function startSshd(opts: SshdOptions = {}): Promise<Sshd> {
  requireSshd();
  // sshd's privilege separation folder (Debian's service creates it at boot).
  try {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  } catch (e) {
    // Only a root sshd needs it (privilege separation); a non-root one runs without.
    if (process.getuid?.() === 0 && !existsSync('/run/sshd')) throw new Error(`sshd needs /run/sshd, which cannot be created (${(e as Error).message})`);
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lifeboat-sshd-'));
  chmodSync(dir, 0o755);
  const hostKeyType = opts.hostKeyType ?? 'ed25519';
  const hostKey = path.join(dir, `ssh_host_${hostKeyType}_key`);
  sshKeygen(hostKey, hostKeyType);
  const userKeyFile = sshKeygen(path.join(dir, 'user_key'));
  const authorizedKeys = path.join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${userKeyFile}.pub`, 'utf8'), { mode: 0o644 });
  const port = await freePort();
  const user = os.userInfo().username;
  const config = path.join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `PasswordAuthentication ${opts.passwordAuthentication ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'Subsystem sftp internal-sftp',
      'MaxSessions 20',
      'MaxStartups 50:30:100',
      'LogLevel VERBOSE',
      ...(opts.extraConfig ?? []),
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let paused: number[] = [];
  let logText = '';
  const state = { hostFingerprint: '', hostKeyType: '' };
  const readHostKey = () => Object.assign(state, (({ fingerprint, keyType }) => ({ hostFingerprint: fingerprint, hostKeyType: keyType }))(fingerprintOf(`${hostKey}.pub`)));
  readHostKey();

  const start = async () => {
    const proc = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start listening within 15 s:\n${buffered}`)), 15_000);
      proc.stderr!.setEncoding('utf8');
      proc.stderr!.on('data', (d: string) => {
        buffered += d;
        logText += d;
        if (logText.length > 200_000) logText = logText.slice(-100_000);
        if (buffered.includes(`Server listening on 127.0.0.1 port ${port}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      proc.on('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited (${code ?? signal}) before listening:\n${buffered}`));
      });
    });
    // and it accepts connections
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  };

  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    killAll(paused, 'SIGCONT');
    paused = [];
    const kids = descendants(proc.pid!);
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    killAll(kids);
    await exited;
    // per-connection processes started meanwhile (re-parented once the listener is gone)
    killAll(kids.flatMap((k) => descendants(k)));
  };

  await start();

  return {
    host: '127.0.0.1',
    port,
    dir,
    user,
    userKeyFile,
    get hostFingerprint() {
      return state.hostFingerprint;
    },
    get hostKeyType() {
      return state.hostKeyType;
    },
    log: () => logText,
    authorize(line: string) {
      writeFileSync(authorizedKeys, readFileSync(authorizedKeys, 'utf8') + line.trim() + '\n');
    },
    sshCommand: () =>
      `ssh -p ${port} -i ${userKeyFile} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR ${user}@127.0.0.1 -s sftp`,
    dropConnections() {
      if (child?.pid) killAll(descendants(child.pid));
    },
    pauseConnections() {
      if (child?.pid) {
        paused = descendants(child.pid);
        killAll(paused, 'SIGSTOP');
      }
    },
    resumeConnections() {
      killAll(paused, 'SIGCONT');
      paused = [];
    },
    stop,
    async restart(o: { newHostKey?: boolean } = {}) {
      await stop();
      if (o.newHostKey) {
        sshKeygen(hostKey, hostKeyType);
        readHostKey();
      }
      await start();
    },
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A local user with a random password, for password authentication (root's
 * password is unknown). Only as root: `useradd`, `chpasswd`; `remove()` runs
 * `userdel`. Its home is `home` (created, owned by it).
 */
export function createPasswordUser(home: string): { name: string; password: string; uid: number; remove(): void } {
  if (process.getuid?.() !== 0) throw new Error('creating a test user for password authentication needs root');
  const name = `lbsftp${randomBytes(3).toString('hex')}`;
  const password = randomBytes(12).toString('base64url');
  mkdirSync(home, { recursive: true });
  run('useradd', ['-M', '-d', home, '-s', '/bin/sh', name]);
  try {
    run('chpasswd', [], `${name}:${password}\n`);
    const uid = Number(run('id', ['-u', name]).trim());
    run('chown', [`${name}:`, home]);
    return { name, password, uid, remove: () => void spawnSync('userdel', ['-f', name]) };
  } catch (e) {
    spawnSync('userdel', ['-f', name]);
    throw e;
  }
}

/** An ssh-agent on its own socket holding `keys`; `stop()` ends it. */
export async function startAgent(dir: string, keys: string[]): Promise<{ socket: string; stop(): void }> {
  const socket = path.join(dir, `agent-${randomBytes(4).toString('hex')}.sock`);
  const proc = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
  if (!existsSync(socket)) {
    proc.kill();
    throw new Error('ssh-agent did not create its socket');
  }
  for (const k of keys) {
    const r = spawnSync('ssh-add', [k], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: socket } });
    if (r.status !== 0) throw new Error(`ssh-add ${k}: ${r.stderr}`);
  }
  return { socket, stop: () => void proc.kill() };
}
