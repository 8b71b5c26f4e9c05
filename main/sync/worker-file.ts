/** Where the fs pool's worker script is, in a build, in the tests and in the packaged app. */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The compiled worker; when this module runs from TypeScript sources (tests), use the build.
 * In the packaged desktop app, dist/main is unpacked next to app.asar (electron-builder.yml),
 * so the worker and what it requires load from the real file system.
 */
export function workerFile(): string {
  const here = path.join(__dirname.replace(`${path.sep}app.asar${path.sep}`, `${path.sep}app.asar.unpacked${path.sep}`), 'fs-worker.js');
  if (fs.existsSync(here)) return here;
  const built = path.resolve(__dirname, '../../dist/main/sync/fs-worker.js');
  if (fs.existsSync(built)) return built;
  throw new Error(`fs worker not found at ${here} or ${built}: run "npm run build" first`);
}
