import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const webRoot = fileURLToPath(new URL('./src/web', import.meta.url));
const outDir = fileURLToPath(new URL('./dist/web', import.meta.url));

// API paths the dev server forwards to a running Tiller (TILLER_API_URL), so `npx vite` can be
// used for dashboard work with hot reload. The built dashboard talks to its own origin.
const apiPrefixes = ['/accessTokens', '/auditLog', '/transformations', '/libraries', '/health'];
const apiTarget = process.env.TILLER_API_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  root: webRoot,
  // The server mounts hashed assets under /ui/assets/ and answers index.html itself at /.
  base: '/ui/',
  plugins: [react()],
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // Modern browsers support modulepreload natively; the polyfill would only add bytes.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: Object.fromEntries(apiPrefixes.map((prefix) => [prefix, { target: apiTarget }])),
  },
});
