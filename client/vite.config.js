import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Flask API; `TICKSY_API=http://127.0.0.1:5077 npm run dev` points the dev proxy elsewhere.
const apiTarget = process.env.TICKSY_API || 'http://127.0.0.1:5000';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
  preview: {
    proxy: { '/api': { target: apiTarget, changeOrigin: false } },
  },
  build: {
    target: 'es2022',
    sourcemap: false,
  },
  test: {
    environment: 'jsdom',
    globals: false,
    restoreMocks: true,
    include: ['src/**/*.test.{js,jsx}'],
  },
});
