/**
 * The operator's controls of a node's sync, beside HubService: pause and resume (one node or
 * every node; kept in the hub's database, told to a connected node at once and to any node in
 * its Welcome, so a pause outlives restarts of either side), and the rescan now of both sides
 * with what each one found. Which nodes an operation is about is decided by a pure function
 * (pauseTargets); what it does is recorded by the store in one transaction per node.
 */
import { ContractError, RESCAN_WAIT_MS, type PauseView, type RescanSideView, type RescanView } from '../contract';
import type { HubStore, NodeRecord } from '../store/hub-store';
import type { Logger } from '../util/log';
import type { NodeRuntimes } from './node-runtime';
import type { RescanWaits, SideAnswer } from './rescans';

/** One node (`id`) or every node (`all`), as the contract's input has it (exactly one of them). */
export interface PauseTarget {
  id?: string;
  all?: true;
}

/**
 * The nodes a pause (or resume) is about: every active node for `all`, else the one named,
 * which must exist and be active. Pure; throws a ContractError the caller can show.
 */
export function pauseTargets(nodes: readonly NodeRecord[], t: PauseTarget, paused: boolean): NodeRecord[] {
  if (t.all) return nodes.filter((n) => n.retiredAt === null);
  const n = nodes.find((x) => x.id === t.id);
  if (!n) throw new ContractError('NOT_FOUND', `no node with id ${t.id}`);
  if (n.retiredAt !== null) throw new ContractError('CONFLICT', `node ${n.id} is retired: there is no sync to ${paused ? 'pause' : 'resume'}`);
  return [n];
}

export interface NodeControlDeps {
  store: HubStore;
  log: Logger;
  runtimes: NodeRuntimes;
  rescans: RescanWaits;
  /** Only a serving hub can rescan (it owns the mirrors and the sessions). */
  mode: 'serve' | 'admin';
  /** Something shown changed: for one node, or (no id) for all and their records. */
  changed(nodeId?: string): void;
}

export class NodeControls {
  constructor(private readonly d: NodeControlDeps) {}

  /**
   * Pauses (or resumes) the nodes named: recorded (with its event) and told to a connected
   * node's session at once. A node already so is reported with `changed: false`.
   */
  setPaused(t: PauseTarget, paused: boolean): PauseView {
    const { store, log, runtimes } = this.d;
    const now = Date.now();
    const out: PauseView['nodes'] = [];
    for (const n of pauseTargets(store.nodes(), t, paused)) {
      const changed = store.setPaused(n.id, paused ? now : null);
      const s = runtimes.get(n.id)?.session;
      const live = s && !s.closed ? s : null;
      if (changed) {
        live?.setPaused(paused);
        log.info(paused ? 'node.paused' : 'node.resumed', { node: n.id, name: n.name, connected: live !== null });
      }
      const rec = store.node(n.id)!;
      out.push({ id: rec.id, name: rec.name, paused: rec.pausedAt !== null, pausedAt: rec.pausedAt, changed });
    }
    // The status reads the node records again (a connected node's are kept otherwise).
    this.d.changed();
    return { nodes: out };
  }

  /**
   * The operator's rescan: the mirror is scanned now and the node (if connected) is asked to
   * scan its whole workspace, both at once; everything that failed is tried again (not while
   * paused). Answers what each side found, waiting up to RESCAN_WAIT_MS for the node.
   */
  async rescan(id: string, waitMs = RESCAN_WAIT_MS): Promise<RescanView> {
    const { store, log, runtimes, rescans } = this.d;
    const rec = store.node(id);
    if (!rec) throw new ContractError('NOT_FOUND', `no node with id ${id}`);
    if (rec.retiredAt !== null) throw new ContractError('CONFLICT', `node ${id} is retired`);
    if (this.d.mode !== 'serve') throw new ContractError('UNAVAILABLE', 'no hub is running on this data directory: start one with "cortex-hub serve"');
    const at = Date.now();
    const rt = runtimes.of(id);
    const s = rt.session && !rt.session.closed ? rt.session : null;
    const onNode: Promise<SideAnswer> = s
      ? rescans.ask(s, id, (rid) => s.send({ rescan: { id: rid } }), waitMs)
      : Promise.resolve({ ok: false, why: 'the node is not connected: its workspace is looked at when it connects' });
    const onHub: Promise<SideAnswer> = rt.mirror.rescanNow().then(
      (t): SideAnswer => (t
        ? { ok: true, side: { scanned: t.walked, changed: t.updated, deleted: t.deleted, hashedFiles: t.hashedFiles, hashedBytes: t.hashedBytes, problems: t.skipped, ms: t.ms } }
        : { ok: false, why: 'the mirror does not exist yet: the node has not connected since it was added' }),
      (e: Error): SideAnswer => {
        log.error('mirror.scan_failed', { node: id, error: e.message });
        return { ok: false, why: `the mirror could not be scanned: ${e.message}` };
      },
    );
    const retried = s ? s.retryDue('all') : 0;
    const [hub, node] = await Promise.all([onHub, onNode]);
    const side = (a: SideAnswer): RescanSideView | null => (a.ok ? a.side : null);
    const why = (a: SideAnswer): string | null => (a.ok ? null : a.why);
    const view: RescanView = {
      nodeId: id, at, hub: side(hub), hubMissing: why(hub), node: side(node), nodeMissing: why(node),
      retried, paused: store.node(id)?.pausedAt != null, rescanning: s !== null,
    };
    const recorded = { hub: view.hub, hubMissing: view.hubMissing, node: view.node, nodeMissing: view.nodeMissing, retried, paused: view.paused };
    store.events.add(id, 'node.rescan', recorded);
    log.info('node.rescan', { ...recorded, node: id, nodeResult: view.node, ms: Date.now() - at });
    this.d.changed(id);
    return view;
  }

  /** A node's rescan answer that came after the caller stopped waiting: recorded. */
  lateAnswer(nodeId: string, a: SideAnswer): void {
    const data = a.ok ? { node: a.side } : { nodeMissing: a.why };
    this.d.store.events.add(nodeId, 'node.rescanned', data);
    this.d.log.info('node.rescanned', { ...data, node: nodeId, nodeResult: a.ok ? a.side : null });
  }
}
