/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import { writeFileSync, mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The Go binary embeds web/dist with `//go:embed all:dist`; dist/.gitkeep must survive
// every build so the embed pattern always matches (see web/embed.go).
const keepGitkeep = () => ({
  name: 'mgx-keep-gitkeep',
  closeBundle() {
    const dist = fileURLToPath(new URL('./dist', import.meta.url))
    mkdirSync(dist, { recursive: true })
    writeFileSync(`${dist}/.gitkeep`, '')
  },
})

// `npm run dev` proxies the API, the provider, the previews and the terminal WebSocket to a
// running `mgx up` (or to the mock: MGX_DEV_BACKEND=http://127.0.0.1:8090 npm run dev).
const backend = process.env.MGX_DEV_BACKEND ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [react(), keepGitkeep()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 900,
    rolldownOptions: {
      output: {
        codeSplitting: {
          groups: [
            { name: 'codemirror', test: /node_modules[\\/](@codemirror|@lezer|crelt|style-mod|w3c-keyname)/ },
            { name: 'xterm', test: /node_modules[\\/]@xterm/ },
            { name: 'react', test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ },
          ],
        },
      },
    },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/api': { target: backend, changeOrigin: false, ws: true },
      '/oauth2': { target: backend, changeOrigin: false },
      '/dev': { target: backend, changeOrigin: false, ws: true },
      '/apps': { target: backend, changeOrigin: false },
      '/healthz': { target: backend },
    },
  },
  test: {
    environment: 'jsdom',
    globals: true,
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    css: false,
    testTimeout: 20000,
  },
})
