// Deterministic PRNG (mulberry32) for generated trees: shared by the benchmarks (bench/lib/trees.mjs)
// and the tests' workspace generator (test/helpers/trees.ts), so both build trees the same way.

/**
 * @param {number} seed
 * @returns {() => number} uniform in [0, 1)
 */
export function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
