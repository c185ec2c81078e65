// The dashboards are served by `stallfront serve` under /app/ (http.web_root = web/dist).
// Asset names carry a content hash, so the server may let browsers keep them for a year;
// compress.mjs then writes a .gz and a .br beside each text file for h2o to send as is.
// `npm run dev` serves the pages with hot reload and sends /v1 to a running stallfront.
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

export default defineConfig({
  base: '/app/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2020',
    chunkSizeWarningLimit: 1200,
  },
  server: {
    proxy: { '/v1': 'http://127.0.0.1:8080' },
  },
})
