/**
 * The desktop app's listeners when a usual port is taken (desktop/listeners.ts): the taken one
 * moves to a free port, once; a port the operator chose (--grpc) is not moved.
 */
import { describe, expect, it } from 'vitest';
import { DESKTOP_LISTENERS, nextListeners } from '../../main/desktop/listeners';
import { PortInUse } from '../../main/util/port-in-use';

const grpcTaken = new PortInUse('node', '0.0.0.0:7443', 7443, '--grpc');
const uiTaken = new PortInUse('UI', '127.0.0.1:7444', 7444, '--ui');

describe('the desktop app\'s listeners', () => {
  it('moves a taken usual port to a free one, each once', () => {
    const a = nextListeners(grpcTaken, DESKTOP_LISTENERS, false);
    expect(a).toEqual({ grpc: '0.0.0.0:0', ui: { host: '127.0.0.1', port: 7444 } });
    const b = nextListeners(uiTaken, a!, false);
    expect(b).toEqual({ grpc: '0.0.0.0:0', ui: { host: '127.0.0.1', port: 0 } });
    expect(nextListeners(uiTaken, b!, false)).toBeNull();
    expect(nextListeners(grpcTaken, b!, false)).toBeNull();
  });

  it('keeps a gRPC port the operator chose, and lets any other error stand', () => {
    expect(nextListeners(grpcTaken, { ...DESKTOP_LISTENERS, grpc: '127.0.0.1:9000' }, true)).toBeNull();
    expect(nextListeners(uiTaken, { ...DESKTOP_LISTENERS, grpc: '127.0.0.1:9000' }, true)).toEqual({ grpc: '127.0.0.1:9000', ui: { host: '127.0.0.1', port: 0 } });
    expect(nextListeners(Object.assign(new Error('listen EACCES'), { code: 'EACCES' }), DESKTOP_LISTENERS, false)).toBeNull();
  });
});
