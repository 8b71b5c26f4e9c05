/**
 * What the benchmarks import, in one place. Plain ESM, no build step: they drive the built
 * product through bin/cortex-hub and bin/cortex-node exactly as a user would, with the
 * harness the tests use too (harness/: processes, the hub's admin API, JSON-line logs, waits).
 * Every process started is killed on exit, also on errors and signals. By concern:
 *   lib/params.mjs   parameters from the environment, units, how product processes run
 *   lib/report.mjs   progress, environment, goals, rounding, percentiles
 *   lib/product.mjs  which build is measured (snapshot, revision), bench-product.json
 *   lib/run.mjs      main(): one benchmark, one JSON document, clean-up
 *   lib/sync.mjs     waiting for a node's state, a synced pair, event-loop lag, CPU time
 *   lib/trees.mjs    generated trees, hashing and walking baselines, comparison
 *   lib/rsync.mjs    the rsync daemon baseline
 *   lib/procstat.mjs RSS and CPU per thread of a product process (/proc), thread labels
 *   lib/throughput.mjs the initial-sync benches' trees, rsync baseline, figures, cases
 *   lib/floors.mjs   the floors of a durable copy (write with group commit, hash), same run
 */
export { Hub, Node } from '../harness/hub.mjs';
export { ROOT, killAll, readJsonLines, startProc } from '../harness/procs.mjs';
export { rng } from '../harness/rng.mjs';
export { FatalWait, sleep, waitFor } from '../harness/wait.mjs';
export { GiB, KiB, LOG_LEVEL, MiB, SCALE, STALL_MS, flag, param } from './lib/params.mjs';
export { buildRevision, checkBuilt, productInfo, removeTree, snapshotProduct } from './lib/product.mjs';
export { environment, goal, logSince, percentile, progress, round } from './lib/report.mjs';
export { main } from './lib/run.mjs';
export { eventLoopLines, eventLoopSummary, procCpuMs, procFacts, startPair, syncDisks, waitEventLoopLine, waitInSync, waitNode } from './lib/sync.mjs';
export { compareTrees, generateBigFile, generateTree, hashTreeNode, hashTreeSha256sum, listFiles, sha256File, walkStatTree } from './lib/trees.mjs';
export { cpuBetween, cpuSnapshot, labelThreads, memory, procFigures } from './lib/procstat.mjs';
export { RSYNC, freePort, runRsync, startRsyncDaemon } from './lib/rsync.mjs';
export { GOALS_VS_RSYNC, goalVsRsync, rsyncBaseline, runCases, syncTreeCases, throughputResults } from './lib/throughput.mjs';
export { durableWriteFloor, floorBaselines, floorResults, floorsLine, hashFloor, medianFloors } from './lib/floors.mjs';
