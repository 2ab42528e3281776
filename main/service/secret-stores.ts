import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

/**
 * Where secrets (repository passwords, SFTP passwords, key passphrases, S3
 * keys) live. The database keeps only the reference `put` returns. Error
 * messages name references, never secrets.
 */
export interface SecretStore {
  /** What the admin is told: "the OS keychain" or "the encrypted secrets file at ...". */
  readonly description: string;
  /** The reference scheme this store answers (`keychain`, `vault`). */
  readonly scheme: string;
  /** Stores `secret` under `account` (replacing an older one) and returns its reference. */
  put(account: string, secret: string): Promise<string>;
  /** The secret for a reference of this store's scheme. */
  get(ref: string): Promise<string>;
  delete(ref: string): Promise<void>;
}

const SERVICE = 'Lifeboat';

function accountOf(ref: string, scheme: string): string {
  if (!ref.startsWith(`${scheme}:`) || ref.length <= scheme.length + 1) throw new Error(`secret reference ${JSON.stringify(ref)} is not a ${scheme}: reference`);
  return ref.slice(scheme.length + 1);
}

interface KeyringEntry {
  setPassword(p: string): void;
  getPassword(): string | null | undefined;
  deletePassword(): boolean;
}

/**
 * The OS keychain: Secret Service on Linux (GNOME Keyring, KWallet),
 * Keychain on macOS, Credential Manager on Windows, through @napi-rs/keyring.
 */
export class KeychainSecretStore implements SecretStore {
  readonly description = 'the OS keychain';
  readonly scheme = 'keychain';
  private readonly Entry: new (service: string, account: string) => KeyringEntry;

  constructor() {
    this.Entry = (createRequire(import.meta.url)('@napi-rs/keyring') as { Entry: new (s: string, a: string) => KeyringEntry }).Entry;
  }

  /** True when a keychain answers here (a probe entry is written, read and removed). */
  static async available(): Promise<boolean> {
    try {
      const store = new KeychainSecretStore();
      const ref = await store.put('lifeboat-probe', randomBytes(8).toString('hex'));
      await store.get(ref);
      await store.delete(ref);
      return true;
    } catch {
      return false;
    }
  }

  async put(account: string, secret: string): Promise<string> {
    if (!secret) throw new Error(`secret for ${account}: must not be empty`);
    try {
      new this.Entry(SERVICE, account).setPassword(secret);
    } catch (e) {
      throw new Error(`the OS keychain refused to store the secret for ${account}: ${(e as Error).message}`);
    }
    return `keychain:${account}`;
  }

  async get(ref: string): Promise<string> {
    const account = accountOf(ref, 'keychain');
    let v: string | null | undefined;
    try {
      v = new this.Entry(SERVICE, account).getPassword();
    } catch (e) {
      throw new Error(`the OS keychain could not be read for ${ref}: ${(e as Error).message}`);
    }
    if (!v) throw new Error(`no secret in the OS keychain for ${ref}`);
    return v;
  }

  async delete(ref: string): Promise<void> {
    try {
      new this.Entry(SERVICE, accountOf(ref, 'keychain')).deletePassword();
    } catch {
      // already gone
    }
  }
}

interface VaultFile {
  version: 1;
  kdf: { N: number; r: number; p: number; salt: string };
  /** account -> base64(iv 12 | ciphertext | tag 16), AES-256-GCM with the account as associated data. */
  entries: Record<string, string>;
}

const CHECK = '\u0000check';

/**
 * For a box without a keychain (the headless host): secrets in one file,
 * encrypted with AES-256-GCM under a key derived (scrypt) from a passphrase
 * the admin gives at start. A wrong passphrase is detected, never used to
 * overwrite the file. Never plaintext.
 */
export class EncryptedFileSecretStore implements SecretStore {
  readonly scheme = 'vault';
  readonly description: string;

  private constructor(private readonly file: string, private readonly key: Buffer, private data: VaultFile) {
    this.description = `the encrypted secrets file at ${file}`;
  }

  /** Opens (or creates) the vault; throws when the passphrase does not open an existing one. */
  static async open(file: string, passphrase: string): Promise<EncryptedFileSecretStore> {
    if (!passphrase) throw new Error('secrets passphrase: must not be empty');
    let data: VaultFile;
    try {
      data = JSON.parse(await fsp.readFile(file, 'utf8')) as VaultFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`secrets file ${file} is unreadable: ${(e as Error).message}`);
      data = { version: 1, kdf: { N: 32768, r: 8, p: 1, salt: randomBytes(32).toString('base64') }, entries: {} };
    }
    const key = await new Promise<Buffer>((resolve, reject) =>
      scrypt(passphrase, Buffer.from(data.kdf.salt, 'base64'), 32, { N: data.kdf.N, r: data.kdf.r, p: data.kdf.p, maxmem: 256 * 1024 * 1024 }, (err, k) => (err ? reject(err) : resolve(k))),
    );
    const store = new EncryptedFileSecretStore(file, key, data);
    if (data.entries[CHECK]) {
      try {
        store.decrypt(CHECK);
      } catch {
        throw new Error(`the passphrase does not open the secrets file ${file}`);
      }
    } else {
      data.entries[CHECK] = store.encrypt(CHECK, 'lifeboat');
      await store.save();
    }
    return store;
  }

  private encrypt(account: string, secret: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(account));
    const ct = Buffer.concat([c.update(secret, 'utf8'), c.final()]);
    return Buffer.concat([iv, ct, c.getAuthTag()]).toString('base64');
  }

  private decrypt(account: string): string {
    const raw = Buffer.from(this.data.entries[account] ?? '', 'base64');
    if (raw.length < 28) throw new Error(`${this.description} holds no secret "${account}"`);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      d.setAAD(Buffer.from(account));
      d.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]).toString('utf8');
    } catch {
      throw new Error(`the secret "${account}" in ${this.description} is damaged (it does not decrypt)`);
    }
  }

  private async save(): Promise<void> {
    await fsp.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${randomBytes(6).toString('hex')}`;
    await fsp.writeFile(tmp, JSON.stringify(this.data), { mode: 0o600 });
    await fsp.rename(tmp, this.file);
  }

  async put(account: string, secret: string): Promise<string> {
    if (!secret) throw new Error(`secret for ${account}: must not be empty`);
    if (account === CHECK) throw new Error('reserved account name');
    this.data.entries[account] = this.encrypt(account, secret);
    await this.save();
    return `vault:${account}`;
  }

  async get(ref: string): Promise<string> {
    const account = accountOf(ref, 'vault');
    if (!this.data.entries[account]) throw new Error(`no secret in ${this.description} for ${ref}`);
    return this.decrypt(account);
  }

  async delete(ref: string): Promise<void> {
    delete this.data.entries[accountOf(ref, 'vault')];
    await this.save();
  }
}
