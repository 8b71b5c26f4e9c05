// `npm run dev`: the renderer on Vite's dev server with hot reload, the main process
// recompiled on change (tsc --watch), and either
//   - the desktop app (Electron) loading the dev server, when the Electron binary is installed, or
//   - a headless hub (bin/cortex-hub serve on .tmp/dev-hub) the browser page talks to through
//     Vite's /api proxy; open the printed link.
// Ctrl+C stops everything.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const children = [];
const start = (cmd, args, env = {}) => {
  const c = spawn(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  children.push(c);
  return c;
};
const stop = () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
if (spawnSync(npm, ['run', 'build'], { cwd: root, stdio: 'inherit' }).status !== 0) process.exit(1);
start(path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc'), ['-p', 'tsconfig.json', '--watch', '--preserveWatchOutput']);

let electron = null;
try {
  electron = require('electron');
} catch {
  console.error('dev: no Electron binary installed; running the UI in the browser against a headless hub.');
}

let hubUi = null;
if (!electron) {
  const data = path.join(root, '.tmp', 'dev-hub');
  fs.mkdirSync(data, { recursive: true });
  fs.rmSync(path.join(data, 'hub.json'), { force: true });
  start(process.execPath, [path.join(root, 'bin', 'cortex-hub'), 'serve', '--data', data, '--grpc', '127.0.0.1:0', '--ui', '127.0.0.1:0']);
  for (let i = 0; i < 300 && !fs.existsSync(path.join(data, 'hub.json')); i++) await new Promise((r) => setTimeout(r, 100));
  hubUi = JSON.parse(fs.readFileSync(path.join(data, 'hub.json'), 'utf8'));
  process.env.CORTEX_DEV_HUB = hubUi.ui;
}

const { createServer } = await import('vite');
const server = await createServer({ configFile: path.join(root, 'renderer', 'vite.config.mts') });
await server.listen();
const url = server.resolvedUrls.local[0];

if (electron) {
  if (spawnSync(process.execPath, [path.join(root, 'scripts', 'electron-sqlite.mjs')], { stdio: 'inherit' }).status !== 0) process.exit(1);
  start(electron, ['.'], { CORTEX_DEV_URL: url }).on('exit', stop);
} else {
  console.error(`\ndev: open ${url}#token=${encodeURIComponent(hubUi.adminToken)}\n     (hub data in .tmp/dev-hub, nodes join on ${hubUi.grpc})\n`);
}
