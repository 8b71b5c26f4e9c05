// Types of wait.mjs (for the TypeScript tests).
export function sleep(ms: number): Promise<void>;
/** Thrown inside a waitFor condition to stop waiting at once. */
export class FatalWait extends Error {}
/** Polls `fn` until it returns anything but undefined, null or false; returns that value. */
export function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs?: number, everyMs?: number): Promise<Exclude<T, undefined | null | false>>;
