// Bundles the preload into one CommonJS file (a sandboxed preload can require only 'electron').
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  build: {
    outDir: '../dist/preload',
    emptyOutDir: true,
    target: 'node20',
    minify: false,
    sourcemap: true,
    lib: { entry: `${here}/index.ts`, formats: ['cjs'], fileName: () => 'index.js' },
    rollupOptions: { external: ['electron'] },
  },
});
