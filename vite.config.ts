import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The React UI: built into renderer/dist, which the headless host (and the Electron window) serve.
// Relative asset URLs so the same build loads over http:// and file://; no inline scripts or styles
// (the hosts' Content-Security-Policy forbids them).
export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: { fs: { allow: [fileURLToPath(new URL('.', import.meta.url))] } },
});
