// Dropout: with a fed keep-mask, or with a mask hashed on the device from fed keys (hash.ts).
import type { Graph } from '../graph';
import type { Tensor } from '../tensor';

/** Inverted dropout with a fed keep-mask (1 = keep) so GradCache can replay the exact same mask. */
export function dropout(g: Graph, x: Tensor, keepMask: Tensor, p: number): Tensor {
  if (p <= 0) return x;
  return g.mul(g.mul(x, g.cast(keepMask, x.dtype)), 1 / (1 - p));
}

/**
 * A dropout keep-mask [...keys.shape, salt.length] computed on the device from a counter-based hash:
 * element (…, k) is kept iff (keys[…] XOR salt[k])·0x9e3779b1 mod 2³² ≥ threshold. keys and salt are
 * themselves full-avalanche hashes (hash.ts: of (text seed, token index) and of (module, feature)), so
 * their XOR is uniform; the odd multiply breaks the XOR-linear structure between elements (without it the
 * four keep bits of two rows × two features would XOR to a constant), and its top bits — the ones the
 * threshold reads — depend on every bit below. Three passes over [rows, features]: XOR, Mul, compare.
 * threshold: a uint32 scalar, round(p·2³²) — 0 keeps everything (eval mode). Same inputs → same mask on
 * any run of any session, so a GradCache re-run or a recomputed region sees exactly the first pass's mask;
 * only the keys cross to the device.
 */
export function hashKeepMask(g: Graph, keys: Tensor, salt: Tensor, threshold: Tensor): Tensor {
  if (keys.dtype !== 'uint32' || salt.dtype !== 'uint32' || threshold.dtype !== 'uint32')
    g.fail('hashKeepMask', [keys, salt, threshold], 'keys, salt and threshold must be uint32');
  if (salt.rank !== 1) g.fail('hashKeepMask', [keys, salt], 'salt must be 1-D (one value per feature)');
  return g.scope('dropout_hash', () => {
    const h = g.mul(g.bitwiseXor(g.unsqueeze(keys, [-1]), salt), g.scalar(0x9e3779b1, 'uint32'));
    return g.greaterOrEqual(h, threshold);
  });
}
