// Builds the renderer (the same bundle for Electron and the browser) into dist/renderer.
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

/**
 * The dev server only: React Fast Refresh injects an inline script, so the page's CSP gets
 * 'unsafe-inline' for scripts while developing. Builds keep the strict policy.
 */
const devCsp: Plugin = {
  name: 'cortex-dev-csp',
  apply: 'serve',
  transformIndexHtml: (html) => html.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"),
};

/** `npm run dev` in a browser: /api goes to the hub at CORTEX_DEV_HUB, as if same-origin. */
const hub = process.env.CORTEX_DEV_HUB;

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react(), devCsp],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    // The CSP allows only 'self' scripts: no inline module-preload polyfill.
    modulePreload: { polyfill: false },
    sourcemap: true,
    target: 'chrome120',
  },
  server: {
    port: 5173,
    strictPort: false,
    proxy: hub ? {
      '/api': {
        target: hub,
        ws: true,
        // The hub answers only its own Host (the DNS-rebinding defence): name it, not Vite's.
        changeOrigin: true,
        // The hub accepts only its own origin: present the proxied requests as coming from it.
        configure: (proxy) => {
          proxy.on('proxyReq', (req) => req.setHeader('origin', hub));
          proxy.on('proxyReqWs', (req) => req.setHeader('origin', hub));
        },
      },
    } : undefined,
  },
});
