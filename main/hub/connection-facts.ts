/**
 * What a node says of itself when it connects (Hello: version, workspace path) and where it
 * connected from, checked before it is kept and shown: the node is not trusted to send
 * printable, short text. Pure.
 */
import type { NodeFacts } from '../contract';
import type { ConnectionFacts } from '../store/hub-store';
import { hostOfPeer } from '../util/describe';

/** Longest version string kept. */
export const MAX_VERSION = 64;
/** Longest workspace path kept (PATH_MAX on Linux). */
export const MAX_WORKSPACE = 4096;

/** Controls, bidi overrides and other invisible format characters: never shown as the node sent them. */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

/** Why a node's self-description is not kept, per field (null: fine); absent or empty means not said. */
export function helloFieldProblem(value: unknown, max: number): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') return 'not a string';
  if (value.length > max) return `longer than ${max} characters`;
  if (UNPRINTABLE.test(value)) return 'holds control or invisible formatting characters';
  return null;
}

/**
 * The facts to keep from a Hello: each field the node said, if acceptable (else null, with the
 * reason in `refused`, for the log); the host from the peer address.
 */
export function connectionFactsOf(peer: string, hello: { version?: unknown; workspace?: unknown }, at: number): { facts: ConnectionFacts; refused: Record<string, string> } {
  const refused: Record<string, string> = {};
  const keep = (field: 'version' | 'workspace', max: number): string | null => {
    const v = hello[field];
    const problem = helloFieldProblem(v, max);
    if (problem) {
      refused[field] = problem;
      return null;
    }
    return typeof v === 'string' && v !== '' ? v : null;
  };
  return { facts: { host: hostOfPeer(peer), version: keep('version', MAX_VERSION), workspace: keep('workspace', MAX_WORKSPACE), at }, refused };
}

/** The node detail's facts from what the latest connection said (contract NodeFacts). */
export function factsOf(c: ConnectionFacts | null): NodeFacts {
  return { host: c?.host ?? null, version: c?.version ?? null, workspace: c?.workspace ?? null, connectedAt: c?.at ?? null };
}
