import { readFile } from 'node:fs/promises';
import { ValidationError } from '../../shared/validation.js';
import type { SecretStore } from './secret-stores.js';

/**
 * Resolves a secret reference (what the database stores) to the secret
 * (which it never stores). Supported references:
 * - `file:/absolute/path`: a file holding the secret (a single trailing newline is dropped), like restic's --password-file;
 * - `env:NAME`: an environment variable of the service process;
 * - `keychain:ACCOUNT`: the OS keychain; `vault:ACCOUNT`: Lifeboat's encrypted secrets file
 *   (each through its SecretStore, when one is configured).
 * Error messages name the reference, never the secret.
 */
export interface SecretResolver {
  resolve(ref: string): Promise<string>;
}

/** Validates the form of a secret reference; throws ValidationError naming `field`. */
export function validateSecretRef(ref: unknown, field = 'passwordRef'): string {
  if (typeof ref !== 'string' || !ref.trim()) throw new ValidationError(field, 'must name where the password is kept, e.g. file:/etc/lifeboat/nas.password');
  const m = /^(file|env|keychain|vault):(.+)$/.exec(ref);
  // The value is not repeated: a secret pasted where its reference belongs must not reach an error text.
  if (!m) throw new ValidationError(field, 'is not a supported reference (file:/path, env:NAME, keychain:ACCOUNT or vault:ACCOUNT)');
  if (m[1] === 'file' && !m[2]!.startsWith('/')) throw new ValidationError(field, 'a file reference needs an absolute path');
  if (m[1] === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[2]!)) throw new ValidationError(field, 'env: must be followed by an environment variable name');
  return ref;
}

export class DefaultSecretResolver implements SecretResolver {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env, private readonly stores: readonly SecretStore[] = []) {}

  async resolve(ref: string): Promise<string> {
    validateSecretRef(ref);
    const [scheme, rest] = [ref.slice(0, ref.indexOf(':')), ref.slice(ref.indexOf(':') + 1)];
    if (scheme === 'keychain' || scheme === 'vault') {
      const store = this.stores.find((st) => st.scheme === scheme);
      if (!store) throw new Error(`password (${ref}): ${scheme === 'keychain' ? 'no OS keychain is available to this process' : 'the encrypted secrets file is not open (give its passphrase at start)'}`);
      return store.get(ref);
    }
    if (scheme === 'file') {
      let text: string;
      try {
        text = await readFile(rest, 'utf8');
      } catch (e) {
        throw new Error(`password (${ref}): cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
      const secret = text.replace(/\r?\n$/, '');
      if (!secret) throw new Error(`password (${ref}): the file is empty`);
      return secret;
    }
    const v = this.env[rest];
    if (!v) throw new Error(`password (${ref}): the environment variable is not set`);
    return v;
  }
}
