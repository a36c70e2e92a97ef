import { defineConfig } from 'vitest/config';

/**
 * The tests of `npm run mutation` (never part of `npm test`: their files end in `.mutation.ts`).
 * Stryker's vitest runner runs them one at a time in its own workers.
 */
export default defineConfig({
  test: {
    root: new URL('../../../', import.meta.url).pathname,
    include: ['conformance/test/mutation/**/*.mutation.ts'],
    exclude: ['node_modules/**', 'dist/**'],
    // A hang guard above the harness's own case limit (20 frame timeouts of a property case).
    testTimeout: 300_000,
    silent: false,
  },
});
