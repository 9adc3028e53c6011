import { resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'electron-vite';

// main / preload / renderer, as in electron-vite's templates. Native modules stay external.
export default defineConfig({
  main: {
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/main/index.ts') },
        external: ['better-sqlite3', 'onnxruntime-node'],
      },
    },
  },
  // A sandboxed preload is run as a classic script, not an ES module: it must be CommonJS whatever
  // package.json's "type" says. It imports only 'electron', so nothing else needs bundling.
  preload: {
    build: {
      rollupOptions: {
        input: { index: resolve(__dirname, 'src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    // Relative asset URLs: the same build loads from file:// in Electron and from `embedsmith serve`.
    base: './',
    build: { rollupOptions: { input: { index: resolve(__dirname, 'src/renderer/index.html') } } },
    plugins: [react()],
  },
});
