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
    // A hang guard for a case that heartbeat, drain and request timeouts make take seconds.
    testTimeout: 120_000,
    silent: false,
  },
});
