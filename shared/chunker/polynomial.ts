/**
 * Polynomials over GF(2) as used by restic's content-defined chunker.
 *
 * A polynomial is stored as a bigint whose bit i is the coefficient of x^i
 * (so 0b1011 is x^3 + x + 1). restic picks one random irreducible polynomial
 * of degree 53 per repository and stores it in the repository config as
 * `chunker_polynomial`, a lowercase hex string without a `0x` prefix.
 *
 * Nothing here is on the hot path: bigint arithmetic is fine.
 */

/** A polynomial over GF(2); bit i holds the coefficient of x^i. Always non-negative and below 2^64. */
export type Polynomial = bigint;

/** Degree of every polynomial restic generates (the largest prime below 64 - 8). */
export const POLYNOMIAL_DEGREE = 53;

const UINT64_LIMIT = 1n << 64n;

/**
 * Degree of `p` (index of its highest set bit); -1 for the zero polynomial.
 * `p` must be non-negative.
 */
export function polynomialDegree(p: Polynomial): number {
  if (p < 0n) throw new RangeError('polynomial must be non-negative');
  if (p === 0n) return -1;
  return p.toString(2).length - 1;
}

/** Remainder of `a` divided by `m` over GF(2). `m` must be non-zero. */
function polyMod(a: bigint, m: bigint): bigint {
  const dm = polynomialDegree(m);
  if (dm < 0) throw new RangeError('division by the zero polynomial');
  let da = polynomialDegree(a);
  while (da >= dm) {
    a ^= m << BigInt(da - dm);
    da = polynomialDegree(a);
  }
  return a;
}

/** Product `a * b mod m` over GF(2). Inputs must already be reduced modulo `m`. */
function polyMulMod(a: bigint, b: bigint, m: bigint): bigint {
  const dm = BigInt(polynomialDegree(m));
  const top = 1n << dm;
  let result = 0n;
  // Horner-style: walk b's bits from the least significant, doubling `a` (mod m) each step.
  while (b !== 0n) {
    if ((b & 1n) === 1n) result ^= a;
    b >>= 1n;
    a <<= 1n;
    if ((a & top) !== 0n) a ^= m;
  }
  return result;
}

/** Greatest common divisor of two polynomials over GF(2). */
function polyGcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) {
    const r = polyMod(a, b);
    a = b;
    b = r;
  }
  return a;
}

/**
 * Whether `p` is irreducible over GF(2), using Ben-Or's test: a polynomial f
 * of degree n is irreducible iff gcd(f, x^(2^i) - x mod f) = 1 for every
 * 1 <= i <= n/2. This agrees with restic's `Pol.Irreducible` for every
 * polynomial of degree >= 2; unlike restic, constants (degree <= 0) are
 * reported as not irreducible, and x / x+1 as irreducible. Negative values
 * and values of 2^64 or more are rejected (returns false).
 */
export function isIrreducible(p: Polynomial): boolean {
  if (p <= 1n || p >= UINT64_LIMIT) return false;
  const n = polynomialDegree(p);
  const x = polyMod(2n, p);
  let power = x; // x^(2^i) mod p, squared once per iteration
  for (let i = 1; i <= n >> 1; i++) {
    power = polyMulMod(power, power, p);
    if (polyGcd(p, power ^ x) !== 1n) return false;
  }
  return true;
}

/**
 * Parses a polynomial as stored in a restic repository config
 * (`chunker_polynomial`: hex digits, no `0x`; an optional `0x` prefix and
 * upper-case digits are tolerated). Throws an Error with a descriptive message
 * unless the value is valid hex below 2^64, has degree exactly 53, and is
 * irreducible over GF(2).
 */
export function parsePolynomial(hex: string): Polynomial {
  const digits = hex.trim().replace(/^0[xX]/, '');
  if (!/^[0-9a-fA-F]{1,16}$/.test(digits)) {
    throw new Error(`invalid chunker polynomial ${JSON.stringify(hex)}: expected 1-16 hex digits`);
  }
  const p = BigInt('0x' + digits);
  const degree = polynomialDegree(p);
  if (degree !== POLYNOMIAL_DEGREE) {
    throw new Error(
      `invalid chunker polynomial ${JSON.stringify(hex)}: degree is ${degree}, restic requires degree ${POLYNOMIAL_DEGREE}`,
    );
  }
  if (!isIrreducible(p)) {
    throw new Error(`invalid chunker polynomial ${JSON.stringify(hex)}: polynomial is reducible over GF(2)`);
  }
  return p;
}

/**
 * Formats a polynomial exactly as restic writes `chunker_polynomial` into the
 * repository config JSON: lowercase hex, no `0x` prefix, no leading zeros
 * (Go's `strconv.FormatUint(p, 16)`). Throws RangeError for values outside
 * [0, 2^64).
 */
export function formatPolynomial(p: Polynomial): string {
  if (p < 0n || p >= UINT64_LIMIT) throw new RangeError('polynomial must be in [0, 2^64)');
  return p.toString(16);
}

/** Maximum number of candidates tried by randomPolynomial (same bound as restic). */
const RANDOM_POLYNOMIAL_MAX_TRIES = 1_000_000;

/**
 * Returns a fresh random irreducible polynomial of degree 53, generated the
 * way restic does it: draw 64 random bits from the platform CSPRNG
 * (`globalThis.crypto.getRandomValues`), keep bits 0..53, force bit 53 (degree)
 * and bit 0 (not divisible by x), and retry until the candidate is
 * irreducible. Throws if no candidate passes within 10^6 tries (practically
 * impossible: about 1 candidate in 26 passes).
 */
export function randomPolynomial(): Polynomial {
  const words = new Uint32Array(2);
  const mask = (1n << 54n) - 1n;
  const forced = (1n << BigInt(POLYNOMIAL_DEGREE)) | 1n;
  for (let attempt = 0; attempt < RANDOM_POLYNOMIAL_MAX_TRIES; attempt++) {
    globalThis.crypto.getRandomValues(words);
    const raw = (BigInt(words[1] ?? 0) << 32n) | BigInt(words[0] ?? 0);
    const candidate = (raw & mask) | forced;
    if (isIrreducible(candidate)) return candidate;
  }
  throw new Error('unable to find a random irreducible polynomial');
}

