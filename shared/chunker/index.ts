/**
 * restic-compatible content-defined chunking: repository polynomials
 * (parse/format/generate) and the streaming Rabin-fingerprint Chunker.
 */
export {
  type Polynomial,
  POLYNOMIAL_DEGREE,
  formatPolynomial,
  isIrreducible,
  parsePolynomial,
  polynomialDegree,
  randomPolynomial,
} from './polynomial.js';
export {
  CHUNK_AVERAGE_BITS,
  CHUNK_MAX_SIZE,
  CHUNK_MIN_SIZE,
  CHUNK_WINDOW_SIZE,
  Chunker,
  type ChunkerOptions,
} from './chunker.js';
