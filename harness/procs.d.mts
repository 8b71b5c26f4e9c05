// Types of procs.mjs (for the TypeScript tests).
import type { ChildProcess } from 'node:child_process';

export const ROOT: string;
export interface Settings {
  productRoot: string;
  logLevel: string;
  nodeArgs: string[];
  outputLimit: number;
  killAfterMs: number | null;
}
export const settings: Settings;
export function configure(over: Partial<Settings>): void;
export function productBin(name: 'cortex-hub' | 'cortex-node'): string;
export function tempDir(prefix: string): string;
export function killAll(): Promise<void>;

export interface Proc {
  proc: ChildProcess;
  output(): string;
  /** The exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  running(): boolean;
  kill(signal?: NodeJS.Signals, killAfterMs?: number | null): Promise<number | null>;
}
export function startProc(cmd: string, args: string[], opts?: { env?: NodeJS.ProcessEnv; cwd?: string }): Proc;
export function startBin(name: 'cortex-hub' | 'cortex-node', args: string[], opts?: { env?: NodeJS.ProcessEnv; wrapper?: string[] }): Proc;
export function runCli(name: 'cortex-hub' | 'cortex-node', args: string[], env?: NodeJS.ProcessEnv, opts?: { timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
export function readJsonLines(file: string): Record<string, unknown>[];
