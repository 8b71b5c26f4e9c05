// Builds better-sqlite3 for Electron's ABI into .electron-native/better-sqlite3, leaving the
// copy in node_modules (built for Node: the CLI, the headless hub and the tests) untouched.
// `npm start` runs this; main/desktop/main.ts points the engine at the result through
// CORTEX_SQLITE_BINDING. Packaged apps do not need it: electron-builder rebuilds in the app.
// Tries a prebuilt binary first (prebuild-install), then compiles (node-gyp, ~1-2 min).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const electronVersion = require('electron/package.json').version;
const sqliteDir = path.dirname(require.resolve('better-sqlite3/package.json'));
const sqliteVersion = require('better-sqlite3/package.json').version;
const out = path.join(root, '.electron-native', 'better-sqlite3');
const binary = path.join(out, 'build', 'Release', 'better_sqlite3.node');
const stampFile = path.join(out, '.built-for');
const stamp = `electron ${electronVersion} better-sqlite3 ${sqliteVersion} ${process.platform}-${process.arch}`;

try {
  require('electron');
} catch (e) {
  console.error(`electron-sqlite: the Electron binary is not installed (${e.message.split('\n')[0]}).\n` +
    'It is skipped when ELECTRON_SKIP_BINARY_DOWNLOAD=1 was set at install; fetch it with "node node_modules/electron/install.js".\n' +
    'The headless hub needs no Electron: bin/cortex-hub serve.');
  process.exit(1);
}

if (fs.existsSync(binary) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) process.exit(0);

console.error(`electron-sqlite: building better-sqlite3 ${sqliteVersion} for Electron ${electronVersion} in ${path.relative(root, out)}`);
fs.rmSync(out, { recursive: true, force: true });
fs.cpSync(sqliteDir, out, { recursive: true, filter: (src) => !src.startsWith(path.join(sqliteDir, 'build')) });

const run = (cmd, args) => spawnSync(cmd, args, { cwd: out, stdio: 'inherit', env: { ...process.env, npm_config_runtime: 'electron', npm_config_target: electronVersion, npm_config_disturl: 'https://electronjs.org/headers' } }).status === 0;
const prebuild = path.join(path.dirname(require.resolve('prebuild-install/package.json')), 'bin.js');
const nodeGyp = process.env.npm_config_node_gyp || path.join(path.dirname(require.resolve('node-gyp/package.json')), 'bin', 'node-gyp.js');
const ok = run(process.execPath, [prebuild, '--runtime', 'electron', '--target', electronVersion, '--arch', process.arch, '--verbose'])
  || run(process.execPath, [nodeGyp, 'rebuild', '--release', '--runtime=electron', `--target=${electronVersion}`, '--dist-url=https://electronjs.org/headers']);
if (!ok || !fs.existsSync(binary)) {
  console.error('electron-sqlite: could not get better-sqlite3 for Electron (no prebuilt binary and no compiler?). See the README, "Desktop app".');
  process.exit(1);
}
fs.writeFileSync(stampFile, stamp);
console.error(`electron-sqlite: ready (${path.relative(root, binary)})`);
