import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console is served by the gateway under /console (see apps/gateway's console module), so
 * every asset URL is built with that base; `npm run build` writes it to dist/web.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: 'assets',
    // The budget that matters is gzipped first-load JavaScript (300 KB), measured by
    // `npm run bench:console`; raw chunks of ~500 KB (the shell, the chart) are within it.
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/auth': 'http://127.0.0.1:8080',
    },
  },
});
