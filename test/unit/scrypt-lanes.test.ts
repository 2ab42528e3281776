import { scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveUserKey } from '../../workers/crypto/crypto.js';
import { loadNative } from '../../workers/crypto/native.js';

// Keys with p > 1 are derived with their lanes in parallel (native ROMix + node:crypto PBKDF2).
// The result must be exactly node:crypto's (OpenSSL's) scrypt, which Go's and restic's equal.
describe('scrypt with parallel lanes', () => {
  it('is built into the native addon (else keys fall back to node:crypto and the tests below compare it with itself)', () => {
    expect(loadNative().scryptLanes).toBeTypeOf('function');
  });

  it('matches RFC 7914 test vector 3 (N=16384, r=8, p=1 is node:crypto; N=1024, r=8, p=16 is ours)', async () => {
    const key = await deriveUserKey('password', Buffer.from('NaCl'), { N: 1024, r: 8, p: 16 });
    expect(Buffer.concat([key.encrypt, key.macK, key.macR]).toString('hex')).toBe(
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    );
  });

  it.each([
    { N: 2, r: 1, p: 2 },
    { N: 16, r: 1, p: 3 },
    { N: 1024, r: 2, p: 5 },
    { N: 4096, r: 8, p: 2 },
    { N: 32768, r: 8, p: 4 },
  ])('equals node:crypto scrypt for N=$N r=$r p=$p', async (params) => {
    const salt = Buffer.from('a salt of restic key files is 64 random bytes; any length works here');
    for (const password of ['correct horse', 'pässwörd ✓', '']) {
      const ours = await deriveUserKey(password, salt, params);
      const openssl = scryptSync(password, salt, 64, { ...params, maxmem: 256 * 1024 * 1024 });
      expect(Buffer.concat([ours.encrypt, ours.macK, ours.macR]).toString('hex')).toBe(openssl.toString('hex'));
    }
  });

  it('runs several lanes in one call exactly as one call per lane', async () => {
    const lanes = loadNative().scryptLanes!;
    const r = 2;
    const input = Buffer.from(Array.from({ length: 3 * 128 * r }, (_, i) => (i * 37) & 0xff));
    const together = Uint8Array.from(input);
    await lanes(together, 256, r);
    const oneByOne = Uint8Array.from(input);
    for (let i = 0; i < 3; i++) await lanes(oneByOne.subarray(i * 128 * r, (i + 1) * 128 * r), 256, r);
    expect(Buffer.from(together).equals(Buffer.from(oneByOne))).toBe(true);
    expect(Buffer.from(together).equals(input)).toBe(false);
  });

  it('refuses malformed lane arguments with a clear error', () => {
    const lanes = loadNative().scryptLanes!;
    expect(() => lanes(new Uint8Array(100), 1024, 1)).toThrow(/multiple of 128\*r bytes/);
    expect(() => lanes(new Uint8Array(0), 1024, 1)).toThrow(/multiple of 128\*r bytes/);
    expect(() => lanes(new Uint8Array(128), 1000, 1)).toThrow(/N must be a power of two/);
    expect(() => lanes('x' as unknown as Uint8Array, 16, 1)).toThrow(/blocks must be a Uint8Array/);
  });
});
