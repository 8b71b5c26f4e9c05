/** The product version, read from the package.json above this file (source or dist layout). */
import fs from 'node:fs';
import path from 'node:path';

function findVersion(): string {
  for (let dir = __dirname, i = 0; i < 5; i++, dir = path.dirname(dir)) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cortex-hub' && pkg.version) return pkg.version;
    }
  }
  return '0.0.0';
}

export const VERSION = findVersion();
