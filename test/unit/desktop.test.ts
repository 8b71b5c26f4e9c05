/** Pure desktop helpers: which app:// URLs map to which files, tray health (notifications: notices.test.ts). */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NodeStatus } from '../../main/contract';
import { APP_INDEX, isAppUrl, rendererFile } from '../../main/desktop/app-url';
import { healthOf } from '../../main/desktop/health';

describe('app:// URLs', () => {
  const root = path.resolve('/opt/cortex/renderer');
  it('maps our pages to files under the renderer root and nothing else', () => {
    expect(isAppUrl(APP_INDEX)).toBe(true);
    expect(rendererFile(APP_INDEX, root)).toBe(path.join(root, 'index.html'));
    expect(rendererFile('app://cortex/', root)).toBe(path.join(root, 'index.html'));
    expect(rendererFile('app://cortex/assets/a%20b.js', root)).toBe(path.join(root, 'assets', 'a b.js'));
    // Dot segments are resolved by the URL parser; whatever is left never leaves the root.
    for (const url of ['app://cortex/../secret', 'app://cortex/%2e%2e/secret', 'app://cortex/assets/..%2f..%2f..%2fsecret', 'app://cortex/assets/%2e%2e%2f%2e%2e%2fsecret']) {
      const f = rendererFile(url, root);
      expect(f === null || f.startsWith(root + path.sep), url).toBe(true);
    }
    for (const url of ['app://cortex/%00', 'app://cortex/%E0%A4%A', 'app://other/index.html', 'file:///etc/passwd', 'https://cortex/index.html', 'not a url']) {
      expect(rendererFile(url, root), url).toBeNull();
    }
    expect(rendererFile('app://other/index.html', root)).toBeNull();
    expect(isAppUrl('https://evil.example')).toBe(false);
  });
});

const node = (id: string, state: NodeStatus['state']): NodeStatus => ({
  id, name: id, state, createdAt: 0, retiredAt: null, lastSeen: null, files: 0, bytes: 0, outOfSyncFiles: 0, outOfSyncBytes: 0,
  errors: state === 'error' ? 1 : 0, lastError: null, bytesReceived: 0, bytesReused: 0, bytesSent: 0, mirror: '', verifying: false, problems: 0, ignored: 0, locked: [], lockedRefusals: 0, lockError: null, toNodeFiles: 0, toNodeBytes: 0, toHubPercent: null, toHubEtaMs: null, toNodePercent: null, toNodeEtaMs: null, conflicts: 0, lastConflictAt: null, held: null, pausedAt: null, connected: state !== 'disconnected' && state !== 'retired' && state !== 'new',
});

describe('tray health and notifications', () => {
  it('shows the worst state among active nodes', () => {
    expect(healthOf([]).level).toBe('empty');
    expect(healthOf([node('a', 'retired')]).level).toBe('empty');
    expect(healthOf([node('a', 'in-sync'), node('b', 'in-sync')])).toEqual({ level: 'ok', summary: '2/2 in sync' });
    expect(healthOf([node('a', 'in-sync'), node('b', 'syncing')]).level).toBe('busy');
    expect(healthOf([node('a', 'syncing'), node('b', 'error'), node('c', 'disconnected')])).toEqual({ level: 'bad', summary: '0/3 in sync, 1 syncing, 1 in error, 1 disconnected' });
    expect(healthOf([node('a', 'disconnected')]).level).toBe('idle');
  });

  it('counts a node that never connected as new, not as disconnected or a problem', () => {
    expect(healthOf([node('a', 'in-sync'), node('b', 'new')])).toEqual({ level: 'ok', summary: '1/2 in sync, 1 new' });
    expect(healthOf([node('a', 'new')]).level).toBe('idle');
  });
});
