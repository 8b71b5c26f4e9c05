// Copies non-TypeScript runtime assets next to the compiled code.
import fs from 'node:fs';
fs.mkdirSync('dist/main/proto', { recursive: true });
fs.copyFileSync('main/proto/cortex.proto', 'dist/main/proto/cortex.proto');
