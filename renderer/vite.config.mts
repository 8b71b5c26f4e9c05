// Builds the renderer (the same bundle for Electron and the browser) into dist/renderer.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    // The CSP allows only 'self' scripts: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'chrome120',
  },
  server: { port: 5173, strictPort: false },
});
