/**
 * restic-compatible cryptography (repository format versions 1 and 2).
 *
 * Every file in a restic repository except the key files is stored as the
 * following (pack files hold one such object per blob, back to back):
 *
 *     IV (16 bytes) || AES-256-CTR(encrypt key, IV, plaintext) || MAC (16 bytes)
 *
 * where the MAC is Poly1305-AES over the ciphertext only: the Poly1305 key is
 * r || s with r = the master key's MAC "r" (clamped as Poly1305 requires) and
 * s = AES-128(MAC "k", IV). The IV doubles as the Poly1305-AES nonce and as
 * the initial 128-bit counter block of CTR mode, which is incremented as one
 * big-endian 128-bit integer (Go's cipher.NewCTR and OpenSSL agree on this).
 *
 * Key files (`keys/<sha256 of the file>`) are JSON documents holding scrypt
 * parameters, a salt and `data`, the master key JSON sealed as above with a
 * user key derived from the password: scrypt output bytes 0..32 are the
 * encryption key, 32..48 the MAC "k", 48..64 the MAC "r".
 *
 * The Poly1305 core is Lifeboat's native addon (see `native.ts`); AES and
 * scrypt come from node:crypto.
 */
import { createCipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, scrypt, type Cipher } from 'node:crypto';
import os from 'node:os';
import { loadNative, type NativeBinding } from './native.js';

/** Length of the IV / Poly1305-AES nonce at the start of every sealed object. */
export const IV_SIZE = 16;
/** Length of the Poly1305 tag at the end of every sealed object. */
export const MAC_SIZE = 16;
/** Bytes a plaintext grows by when sealed: IV + MAC. */
export const CIPHERTEXT_OVERHEAD = IV_SIZE + MAC_SIZE;

/** Length of the AES-256 encryption key. */
export const ENCRYPTION_KEY_SIZE = 32;
/** Length of the MAC key parts k (AES-128 key) and r (Poly1305 multiplier). */
export const MAC_KEY_PART_SIZE = 16;
/** restic only accepts key files whose salt is exactly this long. */
export const KEY_FILE_SALT_SIZE = 64;

/**
 * Repository (or user) keys. `encrypt` is the AES-256-CTR key; `macK` the
 * AES-128 key that turns each nonce into Poly1305's s; `macR` Poly1305's r,
 * stored as given (it is clamped whenever it is used).
 *
 * Treat the buffers as immutable; a changed key is detected (the per-key AES
 * cache compares its copy) but costs a re-setup.
 */
export interface MasterKey {
  /** 32 bytes. */
  encrypt: Buffer;
  /** 16 bytes. */
  macK: Buffer;
  /** 16 bytes. */
  macR: Buffer;
}

/** Thrown by {@link open} when the MAC does not match or the input cannot be a sealed object. */
export class IntegrityError extends Error {
  constructor(message = 'ciphertext verification failed') {
    super(message);
    this.name = 'IntegrityError';
  }
}

/** Thrown by {@link openKeyFile} when the password does not decrypt the key file. */
export class WrongPasswordError extends Error {
  constructor(message = 'wrong password or no key found') {
    super(message);
    this.name = 'WrongPasswordError';
  }
}

/** Thrown for key files or master key JSON that are malformed (not a password problem). */
export class InvalidKeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidKeyFileError';
  }
}

/**
 * The Poly1305 clamp (RFC 8439 section 2.5; Bernstein's Poly1305-AES paper):
 * the top four bits of r's bytes 3, 7, 11, 15 and the bottom two bits of
 * bytes 4, 8, 12 are cleared. restic up to 0.16 applied it to r when a key
 * was created or derived; newer versions rely on the Poly1305 implementation
 * doing it. Either way the MAC is the same, and our native Poly1305 clamps too.
 */
export const POLY1305_R_MASK: Readonly<Uint8Array> = Uint8Array.from([
  0xff, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0x0f,
]);

let native: NativeBinding | undefined;
function nativeBinding(): NativeBinding {
  native ??= loadNative();
  return native;
}

/** Returns a copy of r with the Poly1305 clamp applied. */
export function maskPoly1305R(r: Uint8Array): Buffer {
  if (r.length !== MAC_KEY_PART_SIZE) throw new RangeError(`Poly1305 r must be ${MAC_KEY_PART_SIZE} bytes`);
  const out = Buffer.allocUnsafe(MAC_KEY_PART_SIZE);
  for (let i = 0; i < MAC_KEY_PART_SIZE; i++) out[i] = r[i]! & POLY1305_R_MASK[i]!;
  return out;
}

/**
 * A fresh random master key. r is stored already clamped, as restic <= 0.16
 * wrote it (harmless either way, see {@link POLY1305_R_MASK}).
 */
export function newRandomKey(): MasterKey {
  const bytes = randomBytes(ENCRYPTION_KEY_SIZE + 2 * MAC_KEY_PART_SIZE);
  return {
    encrypt: bytes.subarray(0, 32),
    macK: bytes.subarray(32, 48),
    macR: maskPoly1305R(bytes.subarray(48, 64)),
  };
}

// ---------------------------------------------------------------------------
// Poly1305-AES

interface MacState {
  /** Copies of the key parts this state was built from (to notice mutation). */
  macK: Buffer;
  macR: Buffer;
  /** AES-128-ECB under macK, padding off; used only through update(). */
  ecb: Cipher;
  /** Scratch Poly1305 key: clamped r in 0..16, s of the current nonce in 16..32. */
  polyKey: Buffer;
}

const macStates = new WeakMap<MasterKey, MacState>();

function macState(key: MasterKey): MacState {
  const cached = macStates.get(key);
  if (cached !== undefined && cached.macK.equals(key.macK) && cached.macR.equals(key.macR)) return cached;
  if (key.macK.length !== MAC_KEY_PART_SIZE || key.macR.length !== MAC_KEY_PART_SIZE) {
    throw new RangeError('MAC key parts k and r must be 16 bytes each');
  }
  const ecb = createCipheriv('aes-128-ecb', key.macK, null);
  ecb.setAutoPadding(false);
  const polyKey = Buffer.alloc(32);
  maskPoly1305R(key.macR).copy(polyKey, 0);
  const state: MacState = { macK: Buffer.from(key.macK), macR: Buffer.from(key.macR), ecb, polyKey };
  macStates.set(key, state);
  return state;
}

/**
 * The one-time Poly1305 key r || s for this nonce. Returns a per-key scratch
 * buffer that is overwritten by the next call: use it synchronously.
 */
function poly1305KeyFor(key: MasterKey, nonce: Uint8Array): Buffer {
  if (nonce.length !== IV_SIZE) throw new RangeError(`nonce must be ${IV_SIZE} bytes`);
  const state = macState(key);
  // ECB with padding off turns every full block handed to update() into one
  // output block immediately and keeps no state between calls.
  const s = state.ecb.update(nonce);
  s.copy(state.polyKey, 16);
  return state.polyKey;
}

/**
 * Poly1305-AES of `ciphertext` (Bernstein's construction as restic uses it):
 * Poly1305 with r = clamp(key.macR) and s = AES-128-ECB(key.macK, nonce).
 * `nonce` is the 16-byte IV. Returns the 16-byte tag.
 */
export function macPoly1305Aes(key: MasterKey, nonce: Uint8Array, ciphertext: Uint8Array): Buffer {
  return nativeBinding().poly1305(poly1305KeyFor(key, nonce), ciphertext);
}

/** Checks a Poly1305-AES tag in constant time (see {@link macPoly1305Aes}). */
export function verifyPoly1305Aes(key: MasterKey, nonce: Uint8Array, ciphertext: Uint8Array, mac: Uint8Array): boolean {
  return nativeBinding().poly1305Verify(poly1305KeyFor(key, nonce), ciphertext, mac);
}

// ---------------------------------------------------------------------------
// Sealing

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i]!;
  return acc === 0;
}

function freshIv(): Buffer {
  // restic refuses the all-zero nonce; the chance is 2^-128 but it costs nothing to honour.
  for (;;) {
    const iv = randomBytes(IV_SIZE);
    if (!isAllZero(iv)) return iv;
  }
}

/**
 * Inputs are run through AES-CTR in pieces of this size. node:crypto's
 * update() allocates its output twice (with one spare byte, then trimmed by a
 * copy); for large inputs those are fresh mmap()ed regions whose page faults
 * cost more than the AES itself. Pieces this small are served from malloc's
 * reusable heap instead.
 */
const CTR_PIECE = 32 * 1024;

/** True when `a` and `b` share memory but do not start at the same byte. */
function overlapsInexactly(a: Uint8Array, b: Uint8Array): boolean {
  if (a.buffer !== b.buffer || a.length === 0 || b.length === 0) return false;
  const aStart = a.byteOffset;
  const bStart = b.byteOffset;
  if (aStart === bStart) return false;
  return aStart < bStart + b.length && bStart < aStart + a.length;
}

/**
 * AES-256-CTR of `input` under `key` / initial counter `iv`, written to `out`
 * at `outOffset`. CTR is its own inverse, so this both encrypts and decrypts.
 */
function ctrInto(key: Uint8Array, iv: Uint8Array, input: Uint8Array, out: Uint8Array, outOffset: number): void {
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const target = out.subarray(outOffset, outOffset + input.length);
  if (input.length <= CTR_PIECE || overlapsInexactly(input, target)) {
    out.set(cipher.update(input), outOffset);
    return;
  }
  // Exact aliasing (in place) is fine piecewise: each piece is read before it is overwritten.
  for (let pos = 0; pos < input.length; pos += CTR_PIECE) {
    out.set(cipher.update(input.subarray(pos, pos + CTR_PIECE)), outOffset + pos);
  }
}

/**
 * Encrypts and authenticates `plaintext` into `out` starting at `offset`,
 * writing IV || ciphertext || MAC (`plaintext.length + CIPHERTEXT_OVERHEAD`
 * bytes) with a fresh random IV. Returns the number of bytes written.
 * With a reused `out` this allocates no large buffers. `out` may overlap
 * `plaintext` in any way (sealing in place means plaintext at
 * `out[offset + 16]`). Throws RangeError when `out` is too small.
 */
export function sealInto(key: MasterKey, plaintext: Uint8Array, out: Uint8Array, offset = 0): number {
  const n = plaintext.length;
  const total = n + CIPHERTEXT_OVERHEAD;
  if (!Number.isInteger(offset) || offset < 0 || offset + total > out.length) {
    throw new RangeError(`sealInto: need ${total} bytes at offset ${offset}, output has ${out.length}`);
  }
  const iv = freshIv();
  const ctStart = offset + IV_SIZE;
  // All plaintext is consumed by ctrInto before the IV and the MAC are written.
  ctrInto(key.encrypt, iv, plaintext, out, ctStart);
  out.set(iv, offset);
  const ciphertext = out.subarray(ctStart, ctStart + n);
  out.set(macPoly1305Aes(key, iv, ciphertext), ctStart + n);
  return total;
}

/**
 * Encrypts and authenticates `plaintext` with a fresh random IV and returns
 * IV || AES-256-CTR ciphertext || Poly1305-AES MAC, i.e.
 * `plaintext.length + CIPHERTEXT_OVERHEAD` bytes, as restic stores files and blobs.
 */
export function seal(key: MasterKey, plaintext: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(plaintext.length + CIPHERTEXT_OVERHEAD);
  sealInto(key, plaintext, out, 0);
  return out;
}

/** Splits a sealed object, throwing IntegrityError unless the MAC verifies. */
function verifySealed(key: MasterKey, sealed: Uint8Array): { iv: Uint8Array; ciphertext: Uint8Array } {
  if (sealed.length < CIPHERTEXT_OVERHEAD) {
    throw new IntegrityError('ciphertext verification failed: input shorter than IV and MAC');
  }
  const iv = sealed.subarray(0, IV_SIZE);
  const ciphertext = sealed.subarray(IV_SIZE, sealed.length - MAC_SIZE);
  const mac = sealed.subarray(sealed.length - MAC_SIZE);
  if (isAllZero(iv)) throw new IntegrityError('ciphertext verification failed: all-zero IV');
  if (!verifyPoly1305Aes(key, iv, ciphertext, mac)) throw new IntegrityError();
  return { iv, ciphertext };
}

/**
 * Like {@link open}, but writes the plaintext (`sealed.length -
 * CIPHERTEXT_OVERHEAD` bytes) into `out` at `offset` and returns its length.
 * `out` may overlap `sealed` (e.g. decrypting in place at `sealed[16]`).
 * Nothing is written unless the MAC verifies. Throws RangeError when `out` is
 * too small, IntegrityError as {@link open} does.
 */
export function openInto(key: MasterKey, sealed: Uint8Array, out: Uint8Array, offset = 0): number {
  const { iv, ciphertext } = verifySealed(key, sealed);
  const n = ciphertext.length;
  if (!Number.isInteger(offset) || offset < 0 || offset + n > out.length) {
    throw new RangeError(`openInto: need ${n} bytes at offset ${offset}, output has ${out.length}`);
  }
  // createCipheriv copies the IV before anything is written, so out may cover it.
  ctrInto(key.encrypt, iv, ciphertext, out, offset);
  return n;
}

/**
 * Verifies and decrypts IV || ciphertext || MAC as written by {@link seal} or
 * restic. The MAC is checked (in constant time) before anything is
 * decrypted. Throws {@link IntegrityError} when the MAC does not match, the
 * input is shorter than {@link CIPHERTEXT_OVERHEAD} or the IV is all zero
 * (which restic never writes and refuses). Returns a new Buffer; `sealed` may
 * be a view into a larger buffer and is not modified.
 */
export function open(key: MasterKey, sealed: Uint8Array): Buffer {
  const { iv, ciphertext } = verifySealed(key, sealed);
  const out = Buffer.allocUnsafe(ciphertext.length);
  ctrInto(key.encrypt, iv, ciphertext, out, 0);
  return out;
}

// ---------------------------------------------------------------------------
// Master key JSON

interface MasterKeyJSON {
  mac: { k: string; r: string };
  encrypt: string;
}

/**
 * The master key as restic serialises it inside key files (and prints with
 * `restic cat masterkey`): `{"mac":{"k":<b64>,"r":<b64>},"encrypt":<b64>}`,
 * standard base64 with padding, compact, in that key order. Returns UTF-8 bytes.
 */
export function masterKeyToJSON(key: MasterKey): Buffer {
  assertKeyShape(key);
  const doc: MasterKeyJSON = {
    mac: { k: key.macK.toString('base64'), r: key.macR.toString('base64') },
    encrypt: key.encrypt.toString('base64'),
  };
  return Buffer.from(JSON.stringify(doc), 'utf8');
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function decodeBase64(value: unknown, what: string): Buffer {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64_RE.test(value)) {
    throw new InvalidKeyFileError(`${what} is not standard base64`);
  }
  return Buffer.from(value, 'base64');
}

/**
 * Parses master key JSON (see {@link masterKeyToJSON}). Throws
 * {@link InvalidKeyFileError} unless k and r are 16 bytes, encrypt 32 bytes,
 * and none of them is all zero (restic rejects such keys too).
 */
export function masterKeyFromJSON(json: Uint8Array | string): MasterKey {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof json === 'string' ? json : Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
  } catch {
    throw new InvalidKeyFileError('master key is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new InvalidKeyFileError('master key JSON is not an object');
  const d = doc as { mac?: { k?: unknown; r?: unknown }; encrypt?: unknown };
  if (typeof d.mac !== 'object' || d.mac === null) throw new InvalidKeyFileError('master key JSON has no "mac" object');
  const key: MasterKey = {
    encrypt: decodeBase64(d.encrypt, 'master key "encrypt"'),
    macK: decodeBase64(d.mac.k, 'master key "mac.k"'),
    macR: decodeBase64(d.mac.r, 'master key "mac.r"'),
  };
  assertKeyShape(key);
  if (isAllZero(key.encrypt) || isAllZero(key.macK) || isAllZero(key.macR)) {
    throw new InvalidKeyFileError('invalid master key: a key part is all zero');
  }
  return key;
}

function assertKeyShape(key: MasterKey): void {
  if (
    key.encrypt.length !== ENCRYPTION_KEY_SIZE ||
    key.macK.length !== MAC_KEY_PART_SIZE ||
    key.macR.length !== MAC_KEY_PART_SIZE
  ) {
    throw new InvalidKeyFileError('invalid master key: encrypt must be 32 bytes, mac.k and mac.r 16 bytes');
  }
}

// ---------------------------------------------------------------------------
// Key files and scrypt

/** scrypt cost parameters as stored in a key file. */
export interface KdfParams {
  /** CPU/memory cost, a power of two > 1. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
}

/**
 * A restic key file (`keys/<id>`), field for field as restic writes it.
 * `salt` and `data` are standard base64; `data` is the master key JSON sealed
 * with the user key derived from the password.
 */
export interface KeyFile {
  /** RFC 3339 timestamp. */
  created: string;
  username: string;
  hostname: string;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** Base64 of 64 random bytes. */
  salt: string;
  /** Base64 of IV || encrypted master key JSON || MAC. */
  data: string;
}

/**
 * restic's `DefaultKDFParams` (simple-scrypt's defaults). restic uses them
 * only as the starting point / fallback of its calibration; new keys get
 * calibrated parameters, see {@link calibrateKdfParams}.
 */
export const RESTIC_FALLBACK_KDF_PARAMS: Readonly<KdfParams> = Object.freeze({ N: 16384, r: 8, p: 1 });

/** Memory budget restic gives scrypt when calibrating (MiB) and its time target (ms). */
const CALIBRATE_MEMORY_MIB = 60;
const CALIBRATE_TARGET_MS = 500;

/** We refuse key files asking scrypt for more memory than this (restic's own stay at 32 MiB). */
const MAX_SCRYPT_MEMORY = 1024 * 1024 * 1024;

function scryptMemory(params: KdfParams): number {
  // OpenSSL's accounting: the V array (128 * r * (N + 2)) plus the B array (128 * r * p).
  return 128 * params.r * (params.N + 2) + 128 * params.r * params.p;
}

function checkKdfParams(params: KdfParams): void {
  const { N, r, p } = params;
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 30) {
    throw new InvalidKeyFileError(`invalid scrypt N ${String(N)}: must be a power of two > 1`);
  }
  if (!Number.isSafeInteger(r) || r < 1 || !Number.isSafeInteger(p) || p < 1 || r * p >= 2 ** 30) {
    throw new InvalidKeyFileError(`invalid scrypt r ${String(r)} / p ${String(p)}`);
  }
  if (scryptMemory(params) > MAX_SCRYPT_MEMORY) {
    throw new InvalidKeyFileError(`scrypt parameters N=${N} r=${r} need more than ${MAX_SCRYPT_MEMORY >> 20} MiB`);
  }
}

function runScrypt(password: string | Uint8Array, salt: Uint8Array, params: KdfParams, length: number): Promise<Buffer> {
  checkKdfParams(params);
  if (params.p > 1) {
    const lanes = nativeBinding().scryptLanes;
    if (lanes) return scryptParallel(lanes, password, salt, params, length);
  }
  const maxmem = Math.max(32 * 1024 * 1024, scryptMemory(params) + 1024 * 1024);
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/**
 * scrypt with its p lanes run in parallel (one thread per core at most, each
 * taking an equal share of consecutive lanes and allocating its memory once),
 * the same function as node:crypto's (which runs them one after another): the
 * lanes' ROMix in the native addon, the PBKDF2-HMAC-SHA256 steps around them
 * here. Same cost to an attacker per guess, a fraction of the wait for the owner.
 */
async function scryptParallel(
  scryptLanes: NonNullable<NativeBinding['scryptLanes']>,
  password: string | Uint8Array,
  salt: Uint8Array,
  { N, r, p }: KdfParams,
  length: number,
): Promise<Buffer> {
  const lane = 128 * r;
  const blocks = pbkdf2Sync(password, salt, 1, p * lane, 'sha256');
  const threads = Math.min(p, Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  const shares: Promise<void>[] = [];
  for (let t = 0, first = 0; t < threads; t++) {
    const count = Math.floor(p / threads) + (t < p % threads ? 1 : 0);
    shares.push(scryptLanes(blocks.subarray(first * lane, (first + count) * lane), N, r));
    first += count;
  }
  try {
    // Every share settles before the blocks are read or wiped: a failed one must not leave others writing.
    const settled = await Promise.allSettled(shares);
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    return pbkdf2Sync(password, blocks, 1, length, 'sha256');
  } finally {
    blocks.fill(0);
  }
}

/**
 * Derives the user key from a password like restic: scrypt(password as UTF-8,
 * salt, N, r, p) → 64 bytes = encryption key (32) || MAC k (16) || MAC r (16).
 * Runs on the libuv thread pool. Rejects with {@link InvalidKeyFileError} for
 * invalid or absurd (> 1 GiB) parameters.
 */
export async function deriveUserKey(password: string | Uint8Array, salt: Uint8Array, params: KdfParams): Promise<MasterKey> {
  const bytes = await runScrypt(password, salt, params, 64);
  return {
    encrypt: bytes.subarray(0, 32),
    macK: bytes.subarray(32, 48),
    macR: bytes.subarray(48, 64),
  };
}

let calibrated: Promise<KdfParams> | undefined;

/**
 * scrypt parameters for new key files, chosen the way restic chooses them
 * (simple-scrypt's Calibrate with restic's 60 MiB / 500 ms limits): r = 8,
 * N = the largest power of two with 128·r·N below 60 MiB (32768), halved while
 * one run takes longer than 500 ms, then p = ⌊500 ms / time of one run⌋ (≥ 1).
 * A run is one lane as Lifeboat computes it; lanes are derived in parallel,
 * so opening takes 500 ms of work but less time on several cores.
 * Measured once per process and cached; falls back to
 * {@link RESTIC_FALLBACK_KDF_PARAMS} if measuring fails.
 */
export function calibrateKdfParams(): Promise<KdfParams> {
  calibrated ??= (async (): Promise<KdfParams> => {
    try {
      const r = 8;
      let N = 1;
      while (128 * r * N < CALIBRATE_MEMORY_MIB * 1024 * 1024) N *= 2;
      N /= 2;
      const salt = randomBytes(16);
      // One lane as it will be computed (the native ROMix where present, which is faster than OpenSSL's):
      // p then buys the same 500 ms of work per guess that restic asks for.
      const lanes = nativeBinding().scryptLanes;
      const time = async (params: KdfParams): Promise<number> => {
        const start = performance.now();
        if (lanes) await lanes(randomBytes(128 * params.r), params.N, params.r);
        else await runScrypt('weakpassword', salt, params, 32);
        return performance.now() - start;
      };
      // The first run also pays for thread-pool start-up and page faults: take the better of two.
      let elapsed = Math.min(await time({ N, r, p: 1 }), await time({ N, r, p: 1 }));
      while (elapsed > CALIBRATE_TARGET_MS && N > 1024) {
        N /= 2;
        elapsed = await time({ N, r, p: 1 });
      }
      const p = Math.max(1, Math.floor(CALIBRATE_TARGET_MS / Math.max(elapsed, 1)));
      return { N, r, p };
    } catch {
      return { ...RESTIC_FALLBACK_KDF_PARAMS };
    }
  })();
  return calibrated;
}

/** Options for {@link createKeyFile}. */
export interface CreateKeyFileOptions {
  /** Stored as `username`; defaults to the current OS user (as restic does). */
  username?: string;
  /** Stored as `hostname`; defaults to os.hostname(). */
  hostname?: string;
  /** Stored as `created`; defaults to now. */
  now?: Date;
  /** scrypt parameters; defaults to {@link calibrateKdfParams} (restic's policy). */
  params?: KdfParams;
}

/** Result of {@link createKeyFile}. */
export interface CreatedKeyFile {
  /** The exact bytes to store (compact JSON, no trailing newline). */
  json: Buffer;
  /** The storage name: lowercase hex SHA-256 of `json` (store at `keys/<id>`). */
  id: string;
  /** The same document, parsed. */
  keyFile: KeyFile;
}

/**
 * Creates a key file that lets `password` open `master`: a fresh 64-byte salt,
 * scrypt with the given or calibrated parameters, and the master key JSON
 * sealed with the derived user key. The JSON has restic's field order
 * (created, username, hostname, kdf, N, r, p, salt, data).
 */
export async function createKeyFile(
  password: string | Uint8Array,
  master: MasterKey,
  options: CreateKeyFileOptions = {},
): Promise<CreatedKeyFile> {
  const params = options.params ?? (await calibrateKdfParams());
  checkKdfParams(params);
  const salt = randomBytes(KEY_FILE_SALT_SIZE);
  const user = await deriveUserKey(password, salt, params);
  const data = seal(user, masterKeyToJSON(master));
  const keyFile: KeyFile = {
    created: (options.now ?? new Date()).toISOString(),
    username: options.username ?? safeUsername(),
    hostname: options.hostname ?? os.hostname(),
    kdf: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    data: data.toString('base64'),
  };
  const json = Buffer.from(JSON.stringify(keyFile), 'utf8');
  return { json, id: createHash('sha256').update(json).digest('hex'), keyFile };
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return '';
  }
}

/**
 * Parses and validates a key file's JSON without deriving anything. Throws
 * {@link InvalidKeyFileError} when it is not a scrypt key file restic could use.
 */
export function parseKeyFile(json: Uint8Array | string): KeyFile {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof json === 'string' ? json : Buffer.from(json.buffer, json.byteOffset, json.length).toString('utf8'));
  } catch {
    throw new InvalidKeyFileError('key file is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new InvalidKeyFileError('key file is not a JSON object');
  }
  const k = doc as Record<string, unknown>;
  if (k.kdf !== 'scrypt') throw new InvalidKeyFileError(`unsupported key derivation function ${JSON.stringify(k.kdf)}`);
  for (const field of ['N', 'r', 'p'] as const) {
    if (typeof k[field] !== 'number') throw new InvalidKeyFileError(`key file field "${field}" is not a number`);
  }
  for (const field of ['salt', 'data'] as const) {
    if (typeof k[field] !== 'string') throw new InvalidKeyFileError(`key file field "${field}" is not a string`);
  }
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  return {
    created: str(k.created),
    username: str(k.username),
    hostname: str(k.hostname),
    kdf: 'scrypt',
    N: k.N as number,
    r: k.r as number,
    p: k.p as number,
    salt: k.salt as string,
    data: k.data as string,
  };
}

/**
 * User keys this process derived, so a long-running process (the service,
 * which opens a repository for every run, listing and restore) pays scrypt
 * once per key file and password instead of on every open. An entry is
 * found by an HMAC, under a random secret of this process, of the password,
 * the key file's salt and its scrypt parameters: another password or another
 * key file misses, and the key it finds must still authenticate the key
 * file's data. Held in memory only; at most `capacity` entries, the least
 * recently used going first.
 */
export class UserKeyCache {
  private readonly secret = randomBytes(32);
  private readonly entries = new Map<string, MasterKey>();
  /** Opens that found their user key here, and those that derived it (for tests and diagnostics). */
  hits = 0;
  misses = 0;

  constructor(private readonly capacity = 64) {}

  /** The cache's tag for a password and a key file's KDF inputs. */
  tag(password: string | Uint8Array, salt: Uint8Array, params: KdfParams): string {
    const h = createHmac('sha256', this.secret);
    const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
    const len = Buffer.alloc(4);
    len.writeUInt32LE(pw.length, 0);
    return h.update(len).update(pw).update(salt).update(`${params.N}/${params.r}/${params.p}`).digest('hex');
  }

  get(tag: string): MasterKey | undefined {
    const key = this.entries.get(tag);
    if (key) {
      // Most recently used last.
      this.entries.delete(tag);
      this.entries.set(tag, key);
    }
    return key;
  }

  set(tag: string, key: MasterKey): void {
    this.entries.delete(tag);
    this.entries.set(tag, key);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Forgets every key (a repository or its password was removed). */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * Opens a key file with a password and returns the repository master key.
 * Rejects with {@link WrongPasswordError} when the derived user key does not
 * authenticate `data` (wrong password, or a tampered file), and with
 * {@link InvalidKeyFileError} for malformed files. With `cache`, a user key
 * derived before for the same password and key file is taken from it (and
 * one derived now that opens the file is added).
 */
export async function openKeyFile(password: string | Uint8Array, json: Uint8Array | string, cache?: UserKeyCache): Promise<MasterKey> {
  const keyFile = parseKeyFile(json);
  const salt = decodeBase64(keyFile.salt, 'key file "salt"');
  if (salt.length !== KEY_FILE_SALT_SIZE) {
    throw new InvalidKeyFileError(`key file salt is ${salt.length} bytes, restic requires ${KEY_FILE_SALT_SIZE}`);
  }
  const data = decodeBase64(keyFile.data, 'key file "data"');
  if (data.length < CIPHERTEXT_OVERHEAD) throw new InvalidKeyFileError('key file data is too short');
  const params = { N: keyFile.N, r: keyFile.r, p: keyFile.p };
  const tag = cache?.tag(password, salt, params);
  let user = tag !== undefined ? cache!.get(tag) : undefined;
  if (user) cache!.hits++;
  else {
    if (cache) cache.misses++;
    user = await deriveUserKey(password, salt, params);
  }
  let plaintext: Buffer;
  try {
    plaintext = open(user, data);
  } catch (err) {
    if (err instanceof IntegrityError) throw new WrongPasswordError();
    throw err;
  }
  if (tag !== undefined) cache!.set(tag, user);
  return masterKeyFromJSON(plaintext);
}
