/**
 * A hostile hub: a hand-written server over the real protocol and TLS (pinned like a real hub)
 * that sends a real cortex-node every kind of bad hub-side change. The node must never write,
 * delete or follow anything outside its workspace, must never let a bad byte become visible,
 * must log each refusal, and must go on applying the valid changes and acknowledging them.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../../main/hub/tls';
import { encodeJoin } from '../../main/sync/join';
import { NodeSyncService, PROTOCOL_VERSION, channelOptions } from '../../main/sync/wire';
import { BLOCK, deletedEntry, dirEntry, fileEntry, symlinkEntry, type WireFile } from '../helpers/hostile-client';
import { Node, snapshot, tempDir, waitFor } from '../helpers/procs';

interface Req { id: number; path: string; offset: number; size: number }

describe('a hostile hub', () => {
  let dir: string;
  let ws: string;
  let outside: string;
  let server: grpc.Server;
  let node: Node;
  const acks: number[] = [];
  const requested: string[] = [];
  const good = Buffer.from('a valid change from the hub\n');
  const bigGood = crypto.randomBytes(3 * BLOCK + 5);
  const bad = Buffer.from('what the hub claims\n');
  /** Bytes the server serves per path (bad.txt gets other bytes than its hash says). */
  const served = new Map<string, Buffer>([['ok.txt', good], ['sub/big.bin', bigGood], ['bad.txt', Buffer.from('other bytes, same size')], ['short.txt', bad.subarray(0, 5)]]);

  /** Every hostile entry, with why it must be refused and the reason the node logs (null: a no-op, nothing logged); then valid ones. */
  const hostile: [WireFile, string, RegExp | null][] = [
    [fileEntry('../escape.txt', good, 1), 'dot-dot', /^unsafe path: has a "\.\." segment$/],
    [fileEntry('/abs.txt', good, 2), 'absolute', /^unsafe path: is absolute$/],
    [fileEntry('a/../../x.txt', good, 3), 'dot-dot inside', /^unsafe path: has a "\.\." segment$/],
    [fileEntry('a/./dot.txt', good, 4), 'a "." segment', /^unsafe path: has a "\." segment$/],
    [fileEntry('nul\0byte', good, 5), 'NUL', /^unsafe path: contains a NUL byte$/],
    [fileEntry('link/pwned.txt', good, 6), 'through a symlink planted in the workspace', /^unsafe path "link\/pwned\.txt": goes through the symlink link$/],
    [deletedEntry('link/victim.txt', 7), 'a deletion through that symlink (a no-op: not in the index)', null],
    [symlinkEntry('evil-link', '../../outside', 8), 'symlink escaping the workspace', /^symlink target points outside the root$/],
    [symlinkEntry('evil-abs', '/etc', 9), 'absolute symlink', /^symlink target is absolute$/],
    [fileEntry('.cortex-staging/planted.tmp', good, 10), 'the node\'s staging directory', /^the path is reserved for the node's own state$/],
    [fileEntry('bad.txt', bad, 11), 'bytes that do not match their hash', /^block 0 of bad\.txt: bytes do not match their hash$/],
    [fileEntry('lie.txt', good, 12, { hash: crypto.randomBytes(32) }), 'a hash that does not match its block list', /^file hash does not match its block list$/],
    [fileEntry('short.txt', bad, 13), 'a short block', /^block 0 of short\.txt: got 5 bytes, expected 20$/],
    [dirEntry('link', 14), 'a directory where the workspace has a symlink the node never indexed (kept: no-op)', null],
  ];
  const valid: WireFile[] = [fileEntry('ok.txt', good, 20), fileEntry('sub/big.bin', bigGood, 21), deletedEntry('gone.txt', 22)];

  beforeAll(async () => {
    dir = tempDir('hostile-hub');
    ws = path.join(dir, 'ws');
    outside = path.join(dir, 'outside');
    fs.mkdirSync(ws);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'victim.txt'), 'must survive\n');
    fs.symlinkSync('../outside', path.join(ws, 'link'));
    fs.writeFileSync(path.join(ws, 'gone.txt'), 'the hub deletes this\n');

    const identity = await loadOrCreateIdentity(path.join(dir, 'fake-hub'));
    server = new grpc.Server(channelOptions);
    server.addService(NodeSyncService.service, {
      session: (call: grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>) => {
        let welcomed = false;
        let nodeDone = false;
        const answer = (r: Req) => {
          requested.push(r.path);
          const data = served.get(r.path) ?? Buffer.alloc(0);
          return { id: r.id, data: data.subarray(Number(r.offset), Number(r.offset) + Number(r.size)), error: '' };
        };
        call.on('data', (m: Record<string, any>) => {
          if (m.hello && !welcomed) {
            welcomed = true;
            call.write({ welcome: { ackedSeq: 0, wantFull: true, hubVersion: 'hostile', protocol: PROTOCOL_VERSION } });
          } else if (m.done && !nodeDone) {
            nodeDone = true;
            // seenSeq far ahead: the node must apply (not defer) everything it accepts.
            const files = [...hostile.map(([e]) => e), ...valid].map((e) => ({ ...e, seenSeq: 1_000_000 }));
            call.write({ hubIndex: { files } });
            // A block answer nobody asked for.
            call.write({ block: { id: 999_999, data: Buffer.from('unsolicited'), error: '' } });
          } else if (m.request) {
            call.write({ block: answer(m.request) });
          } else if (m.requests) {
            call.write({ blocks: { items: m.requests.items.map(answer) } });
          } else if (m.hubAck) {
            acks.push(Number(m.hubAck.seq));
          }
        });
        call.on('error', () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createSsl(null, [{ cert_chain: identity.cert, private_key: identity.key }], false), (e, p) => (e ? reject(e) : resolve(p))));
    const join = encodeJoin({ hub: `127.0.0.1:${port}`, node: 'hostile-target', token: 'whatever', fp: identity.fingerprint });
    node = Node.start(join, ws, path.join(dir, 'node-state'));
  });

  afterAll(async () => {
    await node?.kill();
    server?.forceShutdown();
    if (!process.env.CORTEX_KEEP_TEST_DIRS) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('applies the valid changes and acknowledges the whole batch', async () => {
    await waitFor('the batch acknowledged', () => acks.includes(22), 30_000);
    expect(fs.readFileSync(path.join(ws, 'ok.txt')).equals(good)).toBe(true);
    expect(fs.readFileSync(path.join(ws, 'sub/big.bin')).equals(bigGood)).toBe(true);
    expect(fs.existsSync(path.join(ws, 'gone.txt'))).toBe(false);
    expect(node.p.proc.exitCode).toBeNull();
  });

  it('writes, deletes and follows nothing outside the workspace', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['fake-hub', 'node-state', 'outside', 'ws']);
    expect(fs.readdirSync(outside)).toEqual(['victim.txt']);
    expect(fs.readFileSync(path.join(outside, 'victim.txt'), 'utf8')).toBe('must survive\n');
    expect(fs.lstatSync(path.join(ws, 'link')).isSymbolicLink()).toBe(true);
    expect(fs.existsSync('/abs.txt')).toBe(false);
  });

  it('never lets bytes that fail verification become visible, and leaves no partial file', () => {
    const tree = snapshot(ws);
    for (const p of ['bad.txt', 'lie.txt', 'short.txt', 'evil-link', 'evil-abs', '.cortex-staging/planted.tmp']) expect(tree.has(p), p).toBe(false);
    expect([...tree.keys()].sort()).toEqual(['link', 'ok.txt', 'sub', 'sub/big.bin']);
    const staging = path.join(dir, 'node-state', 'staging');
    expect(fs.existsSync(staging) ? fs.readdirSync(staging) : []).toEqual([]);
    // The refused-before-fetch entries never even cost a request.
    expect(requested.filter((p) => p.includes('..') || p.startsWith('/') || p.startsWith('link'))).toEqual([]);
  });

  it('logs every refusal with its reason', () => {
    const refused = node.logLines().filter((l) => l.msg === 'hub.entry_refused');
    for (const [e, why, reason] of hostile) {
      const lines = refused.filter((l) => l.seq === e.seq);
      if (reason === null) {
        expect(lines, `${why}: ${e.path}`).toEqual([]);
        continue;
      }
      expect(lines, `${why}: ${e.path}`).toHaveLength(1);
      expect(lines[0], `${why}: ${e.path}`).toMatchObject({ level: 'warn', path: e.path, reason: expect.stringMatching(reason) });
    }
    expect(node.logLines().filter((l) => l.msg === 'hub.protocol')).toEqual([expect.objectContaining({ reason: 'block response 999999 answers no request' })]);
  });
});
