import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CIPHERTEXT_OVERHEAD,
  IntegrityError,
  InvalidKeyFileError,
  POLY1305_R_MASK,
  WrongPasswordError,
  createKeyFile,
  deriveUserKey,
  macPoly1305Aes,
  masterKeyFromJSON,
  masterKeyToJSON,
  newRandomKey,
  open,
  openInto,
  openKeyFile,
  UserKeyCache,
  parseKeyFile,
  seal,
  sealInto,
  verifyPoly1305Aes,
  type KdfParams,
  type MasterKey,
} from '../../workers/crypto/crypto.js';
import { loadNative, nativeAddonPath, projectRoot } from '../../workers/crypto/native.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s:]/g, ''), 'hex');
const native = loadNative();

/** Cheap scrypt parameters so key-file tests stay fast. */
const FAST_KDF: KdfParams = { N: 1024, r: 8, p: 1 };

// ---------------------------------------------------------------------------
// Slow, obviously-correct Poly1305 (RFC 8439 section 2.5.1) on bigints.

function leToBigInt(bytes: Uint8Array): bigint {
  let x = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(bytes[i]!);
  return x;
}

function referencePoly1305(key: Uint8Array, msg: Uint8Array): Buffer {
  const p = (1n << 130n) - 5n;
  const r = leToBigInt(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = leToBigInt(key.subarray(16, 32));
  let acc = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const block = msg.subarray(i, Math.min(i + 16, msg.length));
    const n = leToBigInt(block) + (1n << BigInt(8 * block.length));
    acc = ((acc + n) * r) % p;
  }
  let tag = (acc + s) & ((1n << 128n) - 1n);
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(tag & 0xffn);
    tag >>= 8n;
  }
  return out;
}

// ---------------------------------------------------------------------------
// RFC 8439 vectors (section 2.5.2 and appendix A.3)

const IETF_TEXT = Buffer.from(
  'Any submission to the IETF intended by the Contributor for publication as all or part of an IETF ' +
    'Internet-Draft or RFC and any statement made within the context of an IETF activity is considered ' +
    'an "IETF Contribution". Such statements include oral statements in IETF sessions, as well as ' +
    'written and electronic communications made at any time or place, which are addressed to',
);
const JABBERWOCKY = Buffer.from(
  "'Twas brillig, and the slithy toves\nDid gyre and gimble in the wabe:\nAll mimsy were the borogoves,\nAnd the mome raths outgrabe.",
);
const ZERO16 = '00'.repeat(16);

const rfcVectors: { name: string; key: Buffer; msg: Buffer; tag: Buffer }[] = [
  {
    name: '2.5.2 Cryptographic Forum Research Group',
    key: hex('85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b'),
    msg: Buffer.from('Cryptographic Forum Research Group'),
    tag: hex('a8061dc1305136c6c22b8baf0c0127a9'),
  },
  { name: 'A.3 #1 all zero', key: Buffer.alloc(32), msg: Buffer.alloc(64), tag: Buffer.alloc(16) },
  {
    name: 'A.3 #2 r = 0',
    key: hex(ZERO16 + '36e5f6b5c5e06070f0efca96227a863e'),
    msg: IETF_TEXT,
    tag: hex('36e5f6b5c5e06070f0efca96227a863e'),
  },
  {
    name: 'A.3 #3 s = 0',
    key: hex('36e5f6b5c5e06070f0efca96227a863e' + ZERO16),
    msg: IETF_TEXT,
    tag: hex('f3477e7cd95417af89a6b8794c310cf0'),
  },
  {
    name: 'A.3 #4 Jabberwocky',
    key: hex('1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0'),
    msg: JABBERWOCKY,
    tag: hex('4541669a7eaaee61e708dc7cbcc5eb62'),
  },
  {
    name: 'A.3 #5 h reaches p',
    key: hex('02' + '00'.repeat(15) + ZERO16),
    msg: hex('ff'.repeat(16)),
    tag: hex('03' + '00'.repeat(15)),
  },
  {
    name: 'A.3 #6 h + s overflows 2^128',
    key: hex('02' + '00'.repeat(15) + 'ff'.repeat(16)),
    msg: hex('02' + '00'.repeat(15)),
    tag: hex('03' + '00'.repeat(15)),
  },
  {
    name: 'A.3 #7 carry across limbs',
    key: hex('01' + '00'.repeat(15) + ZERO16),
    msg: hex('ff'.repeat(16) + 'f0' + 'ff'.repeat(15) + '11' + '00'.repeat(15)),
    tag: hex('05' + '00'.repeat(15)),
  },
  {
    name: 'A.3 #8 h equals p exactly',
    key: hex('01' + '00'.repeat(15) + ZERO16),
    msg: hex('ff'.repeat(16) + 'fb' + 'fe'.repeat(15) + '01'.repeat(16)),
    tag: Buffer.alloc(16),
  },
  {
    name: 'A.3 #9 h = p - 1 style',
    key: hex('02' + '00'.repeat(15) + ZERO16),
    msg: hex('fd' + 'ff'.repeat(15)),
    tag: hex('fa' + 'ff'.repeat(15)),
  },
  {
    name: 'A.3 #10 reduction with high bits',
    key: hex('0100000000000000' + '0400000000000000' + ZERO16),
    msg: hex(
      'e33594d7505e43b9' + '0000000000000000' + '3394d7505e4379cd' + '0100000000000000' + '00'.repeat(16) + '01' + '00'.repeat(15),
    ),
    tag: hex('1400000000000000' + '5500000000000000'),
  },
  {
    name: 'A.3 #11 reduction with high bits',
    key: hex('0100000000000000' + '0400000000000000' + ZERO16),
    msg: hex('e33594d7505e43b9' + '0000000000000000' + '3394d7505e4379cd' + '0100000000000000' + '00'.repeat(16)),
    tag: hex('1300000000000000' + '0000000000000000'),
  },
];

describe('native addon', () => {
  it('is found under the project root', () => {
    expect(existsSync(path.join(projectRoot(), 'package.json'))).toBe(true);
    expect(nativeAddonPath()).toBe(path.join(projectRoot(), 'native', 'build', 'Release', 'lifeboat_native.node'));
    expect(['64x64', '26x5']).toContain(native.poly1305Impl);
  });

  it.each(rfcVectors)('poly1305 matches RFC 8439 $name', ({ key, msg, tag }) => {
    expect(native.poly1305(key, msg).toString('hex')).toBe(tag.toString('hex'));
    expect(referencePoly1305(key, msg).toString('hex')).toBe(tag.toString('hex'));
    expect(native.poly1305Verify(key, msg, tag)).toBe(true);
    const bad = Buffer.from(tag);
    bad[15]! ^= 0x80;
    expect(native.poly1305Verify(key, msg, bad)).toBe(false);
  });

  it('rejects bad arguments', () => {
    expect(() => native.poly1305(Buffer.alloc(31), Buffer.alloc(1))).toThrow(RangeError);
    expect(() => native.poly1305(Buffer.alloc(32), 'text' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => native.poly1305(new Uint16Array(16) as unknown as Uint8Array, Buffer.alloc(1))).toThrow(TypeError);
    expect(native.poly1305Verify(Buffer.alloc(32), Buffer.alloc(0), Buffer.alloc(15))).toBe(false);
  });

  it('handles views into larger buffers (byteOffset)', () => {
    const v = rfcVectors[4]!;
    const keyBacking = Buffer.alloc(32 + 7, 0xaa);
    v.key.copy(keyBacking, 5);
    const msgBacking = new Uint8Array(v.msg.length + 13).fill(0x55);
    msgBacking.set(v.msg, 3);
    const tagBacking = new Uint8Array(16 + 9);
    tagBacking.set(v.tag, 9);
    const key = keyBacking.subarray(5, 37);
    const msg = msgBacking.subarray(3, 3 + v.msg.length);
    expect(native.poly1305(key, msg).toString('hex')).toBe(v.tag.toString('hex'));
    expect(native.poly1305Verify(key, msg, tagBacking.subarray(9))).toBe(true);
    // A view into a pooled small Buffer (Buffer.from copies into a shared slab).
    const pooled = Buffer.from(v.msg);
    expect(native.poly1305(key, pooled).toString('hex')).toBe(v.tag.toString('hex'));
  });

  it('agrees with a bigint reference on random keys and messages', () => {
    const lengths: number[] = [];
    for (let n = 0; n <= 300; n++) lengths.push(n);
    for (let i = 0; i < 700; i++) lengths.push(Math.floor(Math.random() * 301));
    lengths.push(4096, 65536 + 5, 200_003);
    for (const [i, len] of lengths.entries()) {
      const key = randomBytes(32);
      const msg = randomBytes(len);
      // Every fourth case uses saturated bytes to stress carries and the final reduction.
      if (i % 4 === 1) msg.fill(0xff);
      if (i % 4 === 2) key.fill(0xff);
      if (i % 4 === 3) {
        key.fill(0xff);
        msg.fill(0xff);
      }
      const want = referencePoly1305(key, msg).toString('hex');
      const got = native.poly1305(key, msg).toString('hex');
      if (got !== want) throw new Error(`mismatch at len ${len}: key ${key.toString('hex')} msg ${msg.toString('hex')}`);
    }
  });
});

// ---------------------------------------------------------------------------

describe('AES-256-CTR counter', () => {
  // Node's aes-256-ctr (OpenSSL) must increment the whole 16-byte counter as one
  // big-endian integer, like Go's cipher.NewCTR, or long restic blobs would not decrypt.
  function ecbBlock(key: Buffer, block: bigint): Buffer {
    const input = Buffer.from(block.toString(16).padStart(32, '0'), 'hex');
    const c = createCipheriv('aes-256-ecb', key, null);
    c.setAutoPadding(false);
    return c.update(input);
  }

  it.each([
    ['carry across the 64-bit boundary', 0x0000000000000000ffffffffffffffffn],
    ['carry through several bytes', 0x0102030405060708090a0b0cfffffffen],
    ['wrap-around of all 128 bits', 0xffffffffffffffffffffffffffffffffn],
  ])('%s', (_name, start) => {
    const key = randomBytes(32);
    const iv = Buffer.from(start.toString(16).padStart(32, '0'), 'hex');
    const keystream = createCipheriv('aes-256-ctr', key, iv).update(Buffer.alloc(48));
    const mod = 1n << 128n;
    const expected = Buffer.concat([0n, 1n, 2n].map((i) => ecbBlock(key, (start + i) % mod)));
    expect(keystream.toString('hex')).toBe(expected.toString('hex'));
  });
});

// ---------------------------------------------------------------------------

describe('Poly1305-AES', () => {
  // Bernstein, "The Poly1305-AES message-authentication code" (2005), appendix B.
  const vectors = [
    {
      msg: 'f3f6',
      r: '851fc40c3467ac0be05cc20404f3f700',
      k: 'ec074c835580741701425b623235add6',
      nonce: 'fb447350c4e868c52ac3275cf9d4327e',
      mac: 'f4c633c3044fc145f84f335cb81953de',
    },
    {
      msg: '',
      r: 'a0f3080000f46400d0c7e9076c834403',
      k: '75deaa25c09f208e1dc4ce6b5cad3fbf',
      nonce: '61ee09218d29b0aaed7e154a2c5509cc',
      mac: 'dd3fab2251f11ac759f0887129cc2ee7',
    },
    {
      msg: '663cea190ffb83d89593f3f476b6bc24d7e679107ea26adb8caf6652d0656136',
      r: '48443d0bb0d21109c89a100b5ce2c208',
      k: '6acb5f61a7176dd320c5c1eb2edcdc74',
      nonce: 'ae212a5539972959 5dea458bc621ff0e',
      mac: '0ee1c16bb73f0f4fd19881753c01cdbe',
    },
    {
      msg:
        'ab0812724a7f1e342742cbed374d94d136c6b8795d45b3819830f2c04491faf0' +
        '990c62e48b8018b2c3e4a0fa3134cb67fa83e158c994d961c4cb21095c1bf9',
      r: '12976a08c4426d0ce8a82407c4f48207',
      k: 'e1a5668a4d5b66a5f68cc5424ed5982d',
      nonce: '9ae831e743978d3a23527c7128149e3a',
      mac: '5154ad0d2cb26e01274fc51148491f1b',
    },
  ];

  it.each(vectors)('matches the paper for a $msg.length-hex-digit message', (v) => {
    const key: MasterKey = { encrypt: randomBytes(32), macK: hex(v.k), macR: hex(v.r) };
    expect(macPoly1305Aes(key, hex(v.nonce), hex(v.msg)).toString('hex')).toBe(v.mac);
    expect(verifyPoly1305Aes(key, hex(v.nonce), hex(v.msg), hex(v.mac))).toBe(true);
    expect(verifyPoly1305Aes(key, hex(v.nonce), hex(v.msg), randomBytes(16))).toBe(false);
  });

  it('gives the same MAC for masked and unmasked r and notices a mutated key', () => {
    const key = newRandomKey();
    const unmasked: MasterKey = { ...key, macR: Buffer.from(key.macR) };
    for (const i of [3, 7, 11, 15]) unmasked.macR[i]! |= 0xf0;
    for (const i of [4, 8, 12]) unmasked.macR[i]! |= 0x03;
    const nonce = randomBytes(16);
    const msg = randomBytes(100);
    const mac = macPoly1305Aes(key, nonce, msg);
    expect(macPoly1305Aes(unmasked, nonce, msg).equals(mac)).toBe(true);
    key.macK[0]! ^= 1;
    expect(macPoly1305Aes(key, nonce, msg).equals(mac)).toBe(false);
  });

  it('newRandomKey stores r clamped', () => {
    for (let i = 0; i < 20; i++) {
      const key = newRandomKey();
      expect(key.encrypt.length).toBe(32);
      expect(key.macK.length).toBe(16);
      for (let j = 0; j < 16; j++) expect(key.macR[j]! & ~POLY1305_R_MASK[j]!).toBe(0);
    }
  });
});

// ---------------------------------------------------------------------------

describe('seal / open', () => {
  const key = newRandomKey();

  it.each([0, 1, 15, 16, 17, 1024 * 1024 + 3])('round-trips %i bytes', (size) => {
    const plaintext = randomBytes(size);
    const sealed = seal(key, plaintext);
    expect(sealed.length).toBe(size + CIPHERTEXT_OVERHEAD);
    if (size >= 16) expect(sealed.subarray(16, 32).equals(plaintext.subarray(0, 16))).toBe(false);
    expect(open(key, sealed).equals(plaintext)).toBe(true);
  });

  it('uses a fresh IV each time', () => {
    const plaintext = Buffer.from('same plaintext');
    const a = seal(key, plaintext);
    const b = seal(key, plaintext);
    expect(a.subarray(0, 16).equals(b.subarray(0, 16))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it.each([77, 32 * 1024 + 1, 100_003])('lays out IV || AES-256-CTR ciphertext || Poly1305-AES(ciphertext) (%i bytes)', (size) => {
    const plaintext = randomBytes(size);
    const sealed = seal(key, plaintext);
    const iv = sealed.subarray(0, 16);
    const ct = sealed.subarray(16, 16 + size);
    expect(createCipheriv('aes-256-ctr', key.encrypt, iv).update(plaintext).equals(ct)).toBe(true);
    expect(macPoly1305Aes(key, iv, ct).equals(sealed.subarray(16 + size))).toBe(true);
  });

  it('opens restic\'s known-answer ciphertext (unmasked r)', () => {
    const k: MasterKey = {
      encrypt: hex('303e8687b1d7db18421bdc6bb8588ccadac4d59ee87b8ff70c44e635790cafef'),
      macK: hex('ef4d8824cb80b2bcc5fbff8a9b12a42c'),
      macR: hex('cc8d4b948ee0ebfe1d415de921d10353'),
    };
    const sealed = hex(
      '69fb41c62d12def4593bd71757138606338f621aeaeb39da0fe4f99233f8037a54ea63338a813bcf3f75d8c3cc75dddf8750',
    );
    expect(open(k, sealed).toString()).toBe('Dies ist ein Test!');
  });

  it('throws IntegrityError when any single byte of IV, ciphertext or MAC changes', () => {
    const plaintext = randomBytes(40);
    const sealed = seal(key, plaintext);
    for (let i = 0; i < sealed.length; i++) {
      const tampered = Buffer.from(sealed);
      tampered[i]! ^= 1 + Math.floor(Math.random() * 255);
      expect(() => open(key, tampered), `byte ${i}`).toThrow(IntegrityError);
    }
    expect(() => open(key, sealed.subarray(0, sealed.length - 1))).toThrow(IntegrityError);
    expect(() => open(newRandomKey(), sealed)).toThrow(IntegrityError);
    expect(() => open(key, sealed)).not.toThrow();
  });

  it('throws IntegrityError with the restic message for short or zero-IV input', () => {
    for (const len of [0, 1, 31]) expect(() => open(key, Buffer.alloc(len))).toThrow(IntegrityError);
    expect(() => open(key, Buffer.alloc(31))).toThrow(/ciphertext verification failed/);
    const sealed = seal(key, Buffer.from('x'));
    sealed.fill(0, 0, 16);
    expect(() => open(key, sealed)).toThrow(IntegrityError);
    const flipped = seal(key, Buffer.from('y'));
    flipped[16]! ^= 0x40;
    expect(() => open(key, flipped)).toThrow(/^ciphertext verification failed$/);
  });

  it('opens views into larger buffers and seals into a caller buffer', () => {
    const plaintext = randomBytes(1000);
    const out = Buffer.alloc(5 + plaintext.length + CIPHERTEXT_OVERHEAD + 9, 0xee);
    expect(sealInto(key, plaintext, out, 5)).toBe(plaintext.length + CIPHERTEXT_OVERHEAD);
    expect(out[4]).toBe(0xee);
    expect(out[out.length - 9]).toBe(0xee);
    const view = out.subarray(5, 5 + plaintext.length + CIPHERTEXT_OVERHEAD);
    expect(open(key, view).equals(plaintext)).toBe(true);
    expect(() => sealInto(key, plaintext, Buffer.alloc(plaintext.length + 31))).toThrow(RangeError);
  });

  it.each([64, 100_000])('seals and opens %i bytes in place and with shifted overlap', (size) => {
    const plaintext = randomBytes(size);
    for (const shift of [16, 0, 40, 3]) {
      // Plaintext placed at buf[shift]; the sealed object is written at buf[0].
      const buf = Buffer.alloc(Math.max(shift + size, size + CIPHERTEXT_OVERHEAD));
      plaintext.copy(buf, shift);
      sealInto(key, buf.subarray(shift, shift + size), buf, 0);
      const sealed = Buffer.from(buf.subarray(0, size + CIPHERTEXT_OVERHEAD));
      expect(open(key, sealed).equals(plaintext), `shift ${shift}`).toBe(true);
    }
    // openInto in place (plaintext over the ciphertext) and shifted back over the IV.
    const sealed = seal(key, plaintext);
    const inPlace = Buffer.from(sealed);
    expect(openInto(key, inPlace, inPlace, 16)).toBe(size);
    expect(inPlace.subarray(16, 16 + size).equals(plaintext)).toBe(true);
    const shifted = Buffer.from(sealed);
    openInto(key, shifted, shifted, 0);
    expect(shifted.subarray(0, size).equals(plaintext)).toBe(true);
    // Nothing is written when verification fails.
    const bad = Buffer.from(sealed);
    bad[bad.length - 1]! ^= 1;
    const before = Buffer.from(bad);
    expect(() => openInto(key, bad, bad, 16)).toThrow(IntegrityError);
    expect(bad.equals(before)).toBe(true);
    expect(() => openInto(key, sealed, Buffer.alloc(size - 1))).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------

describe('master key JSON', () => {
  it('round-trips in restic\'s layout', () => {
    const key = newRandomKey();
    const json = masterKeyToJSON(key).toString();
    expect(json).toBe(
      `{"mac":{"k":"${key.macK.toString('base64')}","r":"${key.macR.toString('base64')}"},"encrypt":"${key.encrypt.toString('base64')}"}`,
    );
    const back = masterKeyFromJSON(json);
    expect(back.encrypt.equals(key.encrypt) && back.macK.equals(key.macK) && back.macR.equals(key.macR)).toBe(true);
  });

  it('rejects malformed keys', () => {
    const good = JSON.parse(masterKeyToJSON(newRandomKey()).toString()) as {
      mac: { k: string; r: string };
      encrypt: string;
    };
    expect(() => masterKeyFromJSON('nope')).toThrow(InvalidKeyFileError);
    expect(() => masterKeyFromJSON(JSON.stringify({ ...good, encrypt: Buffer.alloc(16, 1).toString('base64') }))).toThrow(
      InvalidKeyFileError,
    );
    expect(() => masterKeyFromJSON(JSON.stringify({ ...good, mac: { ...good.mac, r: Buffer.alloc(16).toString('base64') } }))).toThrow(
      InvalidKeyFileError,
    );
    expect(() => masterKeyFromJSON(JSON.stringify({ encrypt: good.encrypt }))).toThrow(InvalidKeyFileError);
  });
});

describe('key files', () => {
  it('derives the user key as scrypt bytes 0..32 / 32..48 / 48..64', async () => {
    const salt = randomBytes(64);
    const user = await deriveUserKey('pw', salt, FAST_KDF);
    const { scryptSync } = await import('node:crypto');
    const raw = scryptSync('pw', salt, 64, { N: 1024, r: 8, p: 1 });
    expect(user.encrypt.equals(raw.subarray(0, 32))).toBe(true);
    expect(user.macK.equals(raw.subarray(32, 48))).toBe(true);
    expect(user.macR.equals(raw.subarray(48, 64))).toBe(true);
  });

  it('round-trips a master key through a key file', async () => {
    const master = newRandomKey();
    const now = new Date('2024-05-06T07:08:09.123Z');
    const created = await createKeyFile('correct horse', master, { username: 'alice', hostname: 'box', now, params: FAST_KDF });
    expect(created.id).toBe(createHash('sha256').update(created.json).digest('hex'));
    const text = created.json.toString();
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['created', 'username', 'hostname', 'kdf', 'N', 'r', 'p', 'salt', 'data']);
    const kf = parseKeyFile(created.json);
    expect(kf).toMatchObject({ created: '2024-05-06T07:08:09.123Z', username: 'alice', hostname: 'box', kdf: 'scrypt', N: 1024, r: 8, p: 1 });
    expect(Buffer.from(kf.salt, 'base64').length).toBe(64);
    expect(Buffer.from(kf.data, 'base64').length).toBe(masterKeyToJSON(master).length + CIPHERTEXT_OVERHEAD);

    const opened = await openKeyFile('correct horse', created.json);
    expect(opened.encrypt.equals(master.encrypt)).toBe(true);
    expect(opened.macK.equals(master.macK)).toBe(true);
    expect(opened.macR.equals(master.macR)).toBe(true);
    // The recovered key decrypts what the original sealed.
    expect(open(opened, seal(master, Buffer.from('hello'))).toString()).toBe('hello');
  });

  it('uses restic-style calibrated scrypt parameters by default', async () => {
    const created = await createKeyFile('pw', newRandomKey(), { username: 'u', hostname: 'h' });
    const kf = parseKeyFile(created.json);
    // restic's policy: N from a 60 MiB budget (32768), halved only on a very slow machine.
    expect([8192, 16384, 32768]).toContain(kf.N);
    expect(kf.r).toBe(8);
    expect(kf.p).toBeGreaterThanOrEqual(1);
    expect(Number.isNaN(Date.parse(kf.created))).toBe(false);
    await expect(openKeyFile('pw', created.json)).resolves.toBeDefined();
  });

  it('a UserKeyCache derives once per password and key file; other passwords, other key files and tampered data still fail', async () => {
    const master = newRandomKey();
    const cache = new UserKeyCache(2);
    const created = await createKeyFile('right', master, { username: 'u', hostname: 'h', params: FAST_KDF });
    const first = await openKeyFile('right', created.json, cache);
    const second = await openKeyFile('right', created.json, cache);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
    expect(second.encrypt.equals(master.encrypt) && second.macK.equals(master.macK) && second.macR.equals(master.macR)).toBe(true);
    expect(first.encrypt.equals(second.encrypt)).toBe(true);

    // A wrong password never finds the right one's key, and is not cached.
    await expect(openKeyFile('wrong', created.json, cache)).rejects.toThrow(WrongPasswordError);
    await expect(openKeyFile('wrong', created.json, cache)).rejects.toThrow(WrongPasswordError);
    expect(cache.misses).toBe(3);
    // The same password on another key file (its own salt) derives again.
    const other = await createKeyFile('right', master, { username: 'u', hostname: 'h', params: FAST_KDF });
    await openKeyFile('right', other.json, cache);
    expect(cache.misses).toBe(4);
    // Tampered data fails its MAC even when the user key comes from the cache.
    const doc = JSON.parse(created.json.toString()) as Record<string, unknown>;
    const data = Buffer.from(doc.data as string, 'base64');
    data[20]! ^= 1;
    await expect(openKeyFile('right', Buffer.from(JSON.stringify({ ...doc, data: data.toString('base64') })), cache)).rejects.toThrow(WrongPasswordError);
    expect(cache.hits).toBe(2);
    // Capacity 2: a third key file pushes out the least recently used (the second: the first was just used), which derives again.
    const third = await createKeyFile('right', master, { username: 'u', hostname: 'h', params: FAST_KDF });
    await openKeyFile('right', third.json, cache);
    const misses = cache.misses;
    await openKeyFile('right', created.json, cache);
    expect(cache.misses).toBe(misses);
    await openKeyFile('right', other.json, cache);
    expect(cache.misses).toBe(misses + 1);
    // A password given as bytes is the same password.
    await openKeyFile(Buffer.from('right', 'utf8'), other.json, cache);
    expect(cache.misses).toBe(misses + 1);
    cache.clear();
    await openKeyFile('right', other.json, cache);
    expect(cache.misses).toBe(misses + 2);
  });

  it('throws WrongPasswordError for a wrong password or tampered data', async () => {
    const created = await createKeyFile('right', newRandomKey(), { username: 'u', hostname: 'h', params: FAST_KDF });
    await expect(openKeyFile('wrong', created.json)).rejects.toThrow(WrongPasswordError);
    await expect(openKeyFile('wrong', created.json)).rejects.toThrow(/wrong password or no key found/);
    const doc = JSON.parse(created.json.toString()) as Record<string, unknown>;
    const data = Buffer.from(doc.data as string, 'base64');
    data[20]! ^= 1;
    const tampered = Buffer.from(JSON.stringify({ ...doc, data: data.toString('base64') }));
    await expect(openKeyFile('right', tampered)).rejects.toThrow(WrongPasswordError);
  });

  it('throws InvalidKeyFileError for malformed key files', async () => {
    const created = await createKeyFile('pw', newRandomKey(), { username: 'u', hostname: 'h', params: FAST_KDF });
    const doc = JSON.parse(created.json.toString()) as Record<string, unknown>;
    const variants: Record<string, unknown>[] = [
      { ...doc, kdf: 'argon2' },
      { ...doc, N: 1000 },
      { ...doc, N: 2 ** 22, r: 1024 },
      { ...doc, salt: Buffer.alloc(16, 1).toString('base64') },
      { ...doc, data: 'not base64!' },
      { ...doc, data: Buffer.alloc(10).toString('base64') },
      { ...doc, p: 'one' },
    ];
    for (const v of variants) {
      await expect(openKeyFile('pw', Buffer.from(JSON.stringify(v)))).rejects.toThrow(InvalidKeyFileError);
    }
    await expect(openKeyFile('pw', Buffer.from('{'))).rejects.toThrow(InvalidKeyFileError);
  });
});
