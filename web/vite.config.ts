import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The console is served by the gateway under /console (see apps/gateway's console module), so
 * every asset URL is built with that base; `npm run build` writes it to dist/web.
 */
export default defineConfig({
  root: __dirname,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    sourcemap: false,
    assetsDir: 'assets',
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/auth': 'http://127.0.0.1:8080',
    },
  },
});
