/**
 * The house rules, checked on the sources: only the desktop shell and the preload import
 * `electron`; the renderer reaches the engine only through the contract (and the pure
 * formatting helpers); the contract imports nothing of the engine; each room of main/ imports
 * only the rooms below it (sync/ is shared by hub and node and knows neither; hub/ and node/
 * never import each other); an engine file over 400 lines says why at its top; no import cycles.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/procs';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(rel));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Module specifiers a file imports (value and type imports alike). */
function imports(file: string): { spec: string; typeOnly: boolean }[] {
  const src = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return [...src.matchAll(/^import (type )?[^'"]*?['"]([^'"]+)['"]/gm)].map((m) => ({ spec: m[2]!, typeOnly: Boolean(m[1]) }));
}

function resolve(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.normalize(path.join(path.dirname(from), spec));
  for (const c of [`${base}.ts`, `${base}.tsx`, path.join(base, 'index.ts')]) if (fs.existsSync(path.join(ROOT, c))) return c;
  return null;
}

const all = [...sources('main'), ...sources('renderer/src'), ...sources('preload')];

describe('architecture', () => {
  it('only main/desktop and preload import electron', () => {
    const offenders = all.filter((f) => !f.startsWith(`main${path.sep}desktop`) && !f.startsWith('preload') && imports(f).some((i) => i.spec === 'electron' && !i.typeOnly));
    expect(offenders).toEqual([]);
  });

  it('the renderer uses only the contract and pure helpers of main/', () => {
    const allowed = [path.join('main', 'contract'), path.join('main', 'util', 'format.ts'), path.join('main', 'util', 'describe.ts')];
    const offenders = sources('renderer/src').flatMap((f) => imports(f)
      .map((i) => resolve(f, i.spec))
      .filter((t): t is string => t !== null && t.startsWith(`main${path.sep}`) && !allowed.some((a) => t.startsWith(a)))
      .map((t) => `${f} → ${t}`));
    expect(offenders).toEqual([]);
  });

  it('the contract depends on nothing of the engine', () => {
    const offenders = sources('main/contract').flatMap((f) => imports(f)
      .map((i) => resolve(f, i.spec))
      .filter((t): t is string => t !== null && !t.startsWith(path.join('main', 'contract')))
      .map((t) => `${f} → ${t}`));
    expect(offenders).toEqual([]);
  });

  it('each room of main/ imports only the rooms it builds on', () => {
    // Type imports count too: a room that names another's types depends on its shape.
    const rooms: Record<string, string[]> = {
      contract: [],
      util: [],
      sync: ['util'],
      store: ['contract', 'sync', 'util'],
      agents: ['contract', 'store', 'sync', 'util'],
      hub: ['agents', 'contract', 'store', 'sync', 'util'],
      node: ['store', 'sync', 'util'],
      server: ['agents', 'contract', 'hub', 'util'],
      desktop: ['contract', 'hub', 'server', 'util'],
      cli: ['contract', 'hub', 'node', 'server', 'sync', 'util'],
    };
    const roomOf = (f: string) => f.split(path.sep)[1]!;
    const files = sources('main');
    expect([...new Set(files.map(roomOf))].filter((r) => !(r in rooms))).toEqual([]);
    const offenders = files.flatMap((f) => imports(f)
      .map((i) => resolve(f, i.spec))
      .filter((t): t is string => t !== null && roomOf(t) !== roomOf(f) && !rooms[roomOf(f)]!.includes(roomOf(t)))
      .map((t) => `${f} → ${t}`));
    expect(offenders).toEqual([]);
  });

  it('an engine file over 400 lines says at its top why it is not split', () => {
    const offenders = sources('main').filter((f) => {
      const src = fs.readFileSync(path.join(ROOT, f), 'utf8');
      const head = /^\/\*\*[\s\S]*?\*\//.exec(src)?.[0] ?? '';
      return src.split('\n').length > 400 && !/\b400 lines\b/.test(head);
    });
    expect(offenders).toEqual([]);
  });

  it('has no import cycles (value imports)', () => {
    const graph = new Map(all.map((f) => [f, imports(f).filter((i) => !i.typeOnly).map((i) => resolve(f, i.spec)).filter((t): t is string => t !== null)]));
    const state = new Map<string, 1 | 2>();
    const cycles: string[][] = [];
    const stack: string[] = [];
    const visit = (n: string) => {
      state.set(n, 1);
      stack.push(n);
      for (const m of graph.get(n) ?? []) {
        if (state.get(m) === 1) cycles.push([...stack.slice(stack.indexOf(m)), m]);
        else if (!state.has(m)) visit(m);
      }
      stack.pop();
      state.set(n, 2);
    };
    for (const n of graph.keys()) if (!state.has(n)) visit(n);
    expect(cycles).toEqual([]);
  });
});
