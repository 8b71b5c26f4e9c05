/**
 * The preload script: a generic bridge from the sandboxed renderer to the contract in the main
 * process. It forwards `invoke(op, input)` and event subscriptions and knows no operation by
 * name; validation happens in the main process (main/desktop/ipc.ts), never here.
 * Bundled into one file (sandboxed preloads cannot require local modules).
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_CHANNELS, type CortexBridge, type Envelope } from '../main/contract/bridge';

const listeners = new Map<string, Set<(data: unknown) => void>>();

ipcRenderer.on(IPC_CHANNELS.event, (_e: IpcRendererEvent, name: unknown, data: unknown) => {
  if (typeof name !== 'string') return;
  for (const cb of listeners.get(name) ?? []) cb(data);
});

const bridge: CortexBridge = {
  invoke: (op, input) => ipcRenderer.invoke(IPC_CHANNELS.invoke, op, input ?? {}) as Promise<Envelope>,
  subscribe(event, cb) {
    if (typeof event !== 'string' || typeof cb !== 'function') throw new TypeError('subscribe(event: string, cb: function)');
    let set = listeners.get(event);
    if (!set) {
      set = new Set();
      listeners.set(event, set);
      ipcRenderer.send(IPC_CHANNELS.subscribe, event);
    }
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0) {
        listeners.delete(event);
        ipcRenderer.send(IPC_CHANNELS.unsubscribe, event);
      }
    };
  },
};

contextBridge.exposeInMainWorld('cortex', bridge);
