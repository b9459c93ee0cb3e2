import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

const webRoot = fileURLToPath(new URL('./src/web', import.meta.url));
const outDir = fileURLToPath(new URL('./dist/web', import.meta.url));

// API paths the dev server forwards to a running Tiller (TILLER_API_URL), so `npx vite` can be
// used for dashboard work with hot reload. The built dashboard talks to its own origin.
const apiPrefixes = ['/accessTokens', '/auditLog', '/transformations', '/libraries', '/health'];
const apiTarget = process.env.TILLER_API_URL ?? 'http://127.0.0.1:8080';

/**
 * Writes .br and .gz siblings next to each text asset, which the server's static handler sends
 * to browsers that accept them: the editor bundle shrinks to about a third on the wire with no
 * compression work per request.
 */
function precompressAssets(): Plugin {
  return {
    name: 'tiller-precompress-assets',
    apply: 'build',
    closeBundle() {
      const assetsDir = path.join(outDir, 'assets');
      for (const file of readdirSync(assetsDir)) {
        if (!/\.(js|css|svg|json)$/.test(file)) continue;
        const source = readFileSync(path.join(assetsDir, file));
        if (source.length < 1024) continue;
        writeFileSync(path.join(assetsDir, `${file}.gz`), gzipSync(source, { level: 9 }));
        writeFileSync(
          path.join(assetsDir, `${file}.br`),
          brotliCompressSync(source, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: source.length } }),
        );
      }
    },
  };
}

export default defineConfig({
  root: webRoot,
  // The server mounts hashed assets under /ui/assets/ and answers index.html itself at /.
  base: '/ui/',
  plugins: [react(), precompressAssets()],
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
