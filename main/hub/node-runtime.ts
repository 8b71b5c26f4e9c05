/**
 * What the hub keeps in memory per node while it runs: the session, the failures, the
 * connections that replaced each other, the partial files to resume, and the node's Mirror.
 * Made on first use; the node server, the status and HubService share one set.
 */
import type { HubStore } from '../store/hub-store';
import { FailureSet } from './failures';
import { Mirror, type MirrorDeps } from './mirror';
import { PartialFiles } from './partials';
import type { NodeSession } from './session';

export interface NodeRuntime {
  session: NodeSession | null;
  /** What could not be applied either way (persisted; retried by the session). */
  failures: FailureSet;
  /** Connections of this node replaced by another with its credentials, lately (times and peers). */
  supersessions: { at: number; replaced: string; by: string }[];
  /** The current session has reached in-sync since it connected (for the sync.complete event). */
  reachedInSync: boolean;
  /** Large files a lost connection cut short, to resume in the next session. */
  partials: PartialFiles;
  mirror: Mirror;
}

export class NodeRuntimes {
  private readonly byId = new Map<string, NodeRuntime>();

  constructor(
    private readonly store: HubStore,
    /** What a node's Mirror is made with (its session is the runtime's). */
    private readonly mirrorDeps: (id: string) => Omit<MirrorDeps, 'session'>,
  ) {}

  get(id: string): NodeRuntime | undefined {
    return this.byId.get(id);
  }

  /** The node's runtime, made on first use. */
  of(id: string): NodeRuntime {
    let rt = this.byId.get(id);
    if (!rt) {
      const made: NodeRuntime = {
        session: null, failures: new FailureSet(this.store.failures.list(id)), supersessions: [], reachedInSync: false, partials: new PartialFiles(),
        mirror: new Mirror({ ...this.mirrorDeps(id), session: () => made.session }),
      };
      rt = made;
      this.byId.set(id, rt);
    }
    return rt;
  }

  all(): IterableIterator<NodeRuntime> {
    return this.byId.values();
  }

  /** Nodes with a live session. */
  connectedIds(): Set<string> {
    return new Set([...this.byId].filter(([, rt]) => rt.session && !rt.session.closed).map(([id]) => id));
  }
}
