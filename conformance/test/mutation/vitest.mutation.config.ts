import { defineConfig, type UserConfig } from 'vitest/config';

/**
 * The tests of `npm run mutation` (never part of `npm test`: their files end in `.mutation.ts`), one
 * file per Stryker config: this one the single broker's cases (stryker.config.mjs),
 * vitest.cluster-mutation.config.ts the cluster's (stryker.cluster.config.mjs). Stryker's vitest runner
 * runs them one at a time in its own workers.
 */
export function mutationTests(file: string): UserConfig {
  return defineConfig({
    test: {
      root: new URL('../../../', import.meta.url).pathname,
      include: [`conformance/test/mutation/${file}`],
      exclude: ['node_modules/**', 'dist/**'],
      // A hang guard above the harness's own case limit (20 frame timeouts of a property case).
      testTimeout: 300_000,
      silent: false,
    },
  });
}

export default mutationTests('broker-cases.mutation.ts');
