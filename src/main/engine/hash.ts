// Host side of the device dropout (Graph.hashKeepMask): the per-row keys and per-feature salts it hashes.
// Both are O(rows + features) to compute and to transfer; the [rows, features] mask exists only on the device.

/** murmur3's 32-bit finaliser. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Order-dependent mix of integers into one well-spread uint32. */
export function hash32(...xs: number[]): number {
  let h = 0x9e3779b9;
  for (const x of xs) h = fmix32((h ^ (x >>> 0)) + 0x7f4a7c15);
  return h;
}

/** FNV-1a of a string (a module path → a stable 32-bit stream id, whatever else is targeted). */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return fmix32(h >>> 0);
}

/** Per-feature salts of one dropout stream (e.g. a LoRA module): salt[k] = hash(stream, k). */
export function dropoutSalt(stream: number, width: number): Uint32Array {
  const s = new Uint32Array(width);
  for (let k = 0; k < width; k++) s[k] = hash32(stream, k);
  return s;
}

/** round(p·2³²) clamped to uint32: keep iff hash ≥ threshold, so the keep rate is 1 − p to within 2⁻³². */
export const dropoutThreshold = (p: number): number =>
  p <= 0 ? 0 : Math.min(0xffffffff, Math.round(p * 2 ** 32));
