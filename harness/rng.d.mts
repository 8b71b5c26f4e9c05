// Types of rng.mjs (for the TypeScript tests).
/** Deterministic PRNG (mulberry32): uniform numbers in [0, 1). */
export function rng(seed: number): () => number;
