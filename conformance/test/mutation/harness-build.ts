/**
 * The harness as `npm run build` compiled it, for the mutation run: Stryker mutates the broker's
 * sources, and the harness shares the codec and other pieces with the broker, so the oracle is loaded
 * from `dist/` (plain JavaScript that Stryker never instruments) and no mutant can change the verdict's
 * own code. The types come from the sources, which `dist/` was built from.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { caseFingerprints, readBuiltFiles, type FingerprintedCase } from './case-fingerprint.js';

type RunCommandModule = typeof import('../../run-command.js');
type LimitsModule = typeof import('../../limits.js');
type SuitesModule = typeof import('../../suites.js');

/** The pieces of the built harness the mutation tests drive. */
export interface BuiltHarness {
  runCommand: RunCommandModule['runCommand'];
  casesOf: SuitesModule['casesOf'];
  EMBEDDED_LIMITS: LimitsModule['EMBEDDED_LIMITS'];
  resolveLimits: LimitsModule['resolveLimits'];
  brokerOptionsFor: LimitsModule['brokerOptionsFor'];
  /** 12 hex digits that change when the built case, or the harness code its verdict rests on, changes (case-fingerprint.ts). */
  fingerprint(c: FingerprintedCase): string;
}

/** Raised when `dist/` is missing: the mutation run needs `npm run build` first (`npm run mutation` does it). */
export class HarnessBuildMissing extends Error {
  override name = 'HarnessBuildMissing';
}

const DIST = new URL('../../../dist/conformance/', import.meta.url);

/** Loads the compiled harness; the paths are computed so neither tsc nor vite resolves them to the sources. */
export async function loadBuiltHarness(): Promise<BuiltHarness> {
  const at = (file: string): URL => new URL(file, DIST);
  if (!existsSync(fileURLToPath(at('run-command.js')))) throw new HarnessBuildMissing(`no compiled harness at ${fileURLToPath(DIST)}: run npm run build first`);
  const [run, limits, suites] = await Promise.all([
    import(at('run-command.js').href) as Promise<RunCommandModule>,
    import(at('limits.js').href) as Promise<LimitsModule>,
    import(at('suites.js').href) as Promise<SuitesModule>,
  ]);
  const prints = caseFingerprints(readBuiltFiles(fileURLToPath(new URL('..', DIST)), fileURLToPath(new URL('../../../', import.meta.url))));
  return {
    fingerprint: (c) => prints.of(c),
    runCommand: run.runCommand, casesOf: suites.casesOf,
    EMBEDDED_LIMITS: limits.EMBEDDED_LIMITS, resolveLimits: limits.resolveLimits, brokerOptionsFor: limits.brokerOptionsFor,
  };
}
