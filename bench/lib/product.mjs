/**
 * Which product is measured: a snapshot of ROOT's build (so that a rebuild during a long run
 * cannot change the code under measurement), a build of a committed revision, or
 * BENCH_PRODUCT_ROOT; where it came from (bench-product.json); and deleting trees.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, configure } from '../../harness/procs.mjs';
import { MiB } from './params.mjs';

/** The product tree in use, once chosen (BENCH_PRODUCT_ROOT, else main() chooses one). */
let PRODUCT = null;

/** Runs the harness's processes from `root` from now on. */
export function useProduct(root) {
  PRODUCT = root;
  configure({ productRoot: root });
}
if (process.env.BENCH_PRODUCT_ROOT) useProduct(path.resolve(process.env.BENCH_PRODUCT_ROOT));

export const chosenProduct = () => PRODUCT;

export function checkBuilt(root = ROOT) {
  for (const f of ['dist/main/cli/hub.js', 'dist/main/cli/node.js', 'dist/main/sync/fs-worker.js']) {
    if (!fs.existsSync(path.join(root, f))) throw new Error(`${f} is missing in ${root}: run "npm run build" in ${ROOT} first`);
  }
}

/** Which code a build in `root` came from: commit, main/'s tree, uncommitted files, build time. */
function describeBuild(root) {
  const git = (args) => {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : null;
  };
  const dirty = git(['status', '--porcelain', '--', 'main']);
  let builtAt = null;
  try { builtAt = fs.statSync(path.join(root, 'dist', 'main', 'cli', 'hub.js')).mtime.toISOString(); } catch { /* not built */ }
  return {
    commit: git(['rev-parse', '--short', 'HEAD']),
    /** git tree id of main/ at that commit: equal ids mean the same product sources. */
    mainTree: git(['rev-parse', '--short', 'HEAD:main']),
    uncommittedSourceFiles: dirty === null ? null : dirty.split('\n').filter(Boolean).length,
    builtAt,
  };
}

/**
 * Copies the built product (bin/, dist/, package.json; node_modules as a link) into `dest`,
 * with bench-product.json describing what was copied (read by productInfo()).
 */
export function snapshotProduct(dest) {
  checkBuilt(ROOT);
  const info = { source: ROOT, snapshotAt: new Date().toISOString(), ...describeBuild(ROOT) };
  fs.mkdirSync(dest, { recursive: true });
  for (const d of ['bin', 'dist']) fs.cpSync(path.join(ROOT, d), path.join(dest, d), { recursive: true, preserveTimestamps: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dest, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'));
  fs.writeFileSync(path.join(dest, 'bench-product.json'), `${JSON.stringify(info, null, 2)}\n`);
  checkBuilt(dest);
  return dest;
}

/**
 * Builds a committed revision (BENCH_GIT_REV, e.g. HEAD) in `dest`, independent of the work
 * tree: `git archive` of the sources, node_modules linked, and that revision's `npm run build`
 * (UI included). Returns `dest`, described by bench-product.json like a snapshot.
 */
export function buildRevision(rev, dest) {
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * MiB });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    return r.stdout.trim();
  };
  const commit = run('git', ['rev-parse', '--short', rev], ROOT);
  fs.mkdirSync(dest, { recursive: true });
  const tar = path.join(dest, 'src.tar');
  run('git', ['archive', '--format=tar', '-o', tar, commit], ROOT);
  run('tar', ['-xf', tar, '-C', dest], ROOT);
  fs.rmSync(tar);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dest, 'node_modules'));
  // The revision's own build, UI included (the UI benchmarks load the renderer it serves).
  run('npm', ['run', '--silent', 'build'], dest);
  checkBuilt(dest);
  const info = {
    source: `${ROOT} @ ${rev}`, snapshotAt: new Date().toISOString(), commit,
    mainTree: run('git', ['rev-parse', '--short', `${commit}:main`], ROOT), uncommittedSourceFiles: 0,
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dest, 'bench-product.json'), `${JSON.stringify(info, null, 2)}\n`);
  return dest;
}

/** Which code is measured (from the snapshot's bench-product.json, else from the repo now). */
export function productInfo(root = PRODUCT ?? ROOT) {
  try {
    return { measured: root, ...JSON.parse(fs.readFileSync(path.join(root, 'bench-product.json'), 'utf8')) };
  } catch {
    return { measured: root, source: ROOT, ...describeBuild(root) };
  }
}

export function removeTree(dir) {
  spawnSync('rm', ['-rf', '--', dir], { stdio: 'ignore' });
}
