// Types of hub.mjs (for the TypeScript tests).
import type { HubStatus, NodeStatus, OpInput, OpName, OpOutput } from '../main/contract/index.js';
import type { Proc } from './procs.mjs';

export interface HubJsonInfo {
  pid: number;
  grpc: string;
  ui: string;
  adminToken: string;
  fingerprint: string;
}

export function invokeHub<K extends OpName>(info: HubJsonInfo, op: K, input: OpInput<K>): Promise<OpOutput<K>>;

export class Hub {
  readonly dataDir: string;
  readonly p: Proc;
  readonly info: HubJsonInfo;
  readonly startedAt: number;
  static start(dataDir: string, opts?: { grpc?: string; extra?: string[]; env?: NodeJS.ProcessEnv; pollMs?: number; timeoutMs?: number }): Promise<Hub>;
  invoke<K extends OpName>(op: K, input: OpInput<K>): Promise<OpOutput<K>>;
  status(): Promise<HubStatus>;
  node(id: string): Promise<NodeStatus>;
  addNode(name: string): Promise<{ id: string; join: string }>;
  waitState(id: string, state: NodeStatus['state'], timeoutMs?: number): Promise<NodeStatus>;
  mirror(id: string): string;
  logFile(): string;
  logLines(): Record<string, unknown>[];
  stop(): Promise<number | null>;
  kill(): Promise<number | null>;
}

export class Node {
  readonly p: Proc;
  readonly stateDir: string;
  readonly startedAt: number;
  static start(join: string, workspace: string, stateDir: string, extra?: string[], env?: NodeJS.ProcessEnv): Node;
  static startWith(args: string[], stateDir: string, env?: NodeJS.ProcessEnv, wrapper?: string[]): Node;
  check(): void;
  logLines(): Record<string, unknown>[];
  stop(): Promise<number | null>;
  kill(): Promise<number | null>;
}
