/**
 * The command line that runs one of the repository's TypeScript programs as a child process in a test.
 *
 * Under `npm test` (.ci/test-all.mjs sets CONCORD_TEST_DIST=1 after it has built dist/ from these very
 * sources and transpiled the test programs next to it) the compiled JavaScript runs: the same code
 * without tsx, whose start-up costs about a second of CPU per process, and the suites start hundreds of
 * processes. Anywhere else (vitest run by hand, where dist/ may be stale or missing) the source runs
 * through tsx, as before.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository: two levels up from reference/test/, three from its transpiled copy in dist/reference/test/. */
const ROOT = fileURLToPath(new URL(/\/dist\/reference\/test\/[^/]*$/.test(import.meta.url) ? '../../..' : '../..', import.meta.url));

/** The built counterpart of a repository-relative .ts path, when the run says dist/ is current and it exists. */
export function builtProgram(file: string): string | undefined {
  if (process.env.CONCORD_TEST_DIST !== '1') return undefined;
  const built = join(ROOT, 'dist', file.replace(/\.ts$/, '.js'));
  return existsSync(built) ? built : undefined;
}

/** `node FILE ARGS...` for a repository-relative .ts file (e.g. `reference/cli.ts`): built or through tsx. */
export function tsProgram(file: string, ...args: string[]): string[] {
  const built = builtProgram(file);
  return built ? [process.execPath, built, ...args] : [process.execPath, '--import', 'tsx', join(ROOT, file), ...args];
}
