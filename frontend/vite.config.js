// Collab's pages are rendered by Django; Vite only bundles their scripts. There is no index.html:
// each page has one entry, and Django finds the hashed file names in dist/.vite/manifest.json
// (documents/templatetags/vite.py). The stylesheet is an entry of its own, shared by every page.
// dist/ is served under /static/ by whitenoise.
import { defineConfig } from 'vite'

export default defineConfig({
  base: '/static/',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    manifest: true,
    target: 'es2020',
    // Tiptap, ProseMirror and Yjs together: about 165 kB gzipped, loaded by the editor page only.
    chunkSizeWarningLimit: 600,
    rollupOptions: {
      input: {
        styles: 'src/styles.css',
        documents: 'src/pages/documents.js',
        editor: 'src/pages/editor.js',
      },
    },
  },
})
