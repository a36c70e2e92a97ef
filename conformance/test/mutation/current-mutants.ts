/**
 * Whether a merged figure is complete: every mutant Stryker would make of a file's current source, and
 * those of them no report measured, as the `--mutate` ranges of a run that measures them. The mutants
 * come from Stryker's own instrumenter (the one `stryker run` calls, with the options this project's
 * configs leave at their defaults), so their mutators, places and printed replacements are those of a
 * report of the same source, mutant for mutant.
 */
import { Instrumenter, type InstrumenterOptions } from '@stryker-mutator/instrumenter';
import { mutantKeys, siteOf } from './summary.js';
import type { Span } from './rebase.js';

/** A mutant as Stryker's JSON report would place it (lines and columns 1-based) and what it does. */
export interface CurrentMutant {
  mutatorName: string;
  replacement: string;
  location: Span;
}

type Logger = ConstructorParameters<typeof Instrumenter>[0];

/** Silent but for what would make a run fail or warn. */
const logger: Logger = {
  isTraceEnabled: () => false, isDebugEnabled: () => false, isInfoEnabled: () => false,
  isWarnEnabled: () => true, isErrorEnabled: () => true, isFatalEnabled: () => true,
  trace: () => {}, debug: () => {}, info: () => {},
  warn: (message: string) => void process.stderr.write(`stryker instrumenter: ${message}\n`),
  error: (message: string) => void process.stderr.write(`stryker instrumenter: ${message}\n`),
  fatal: (message: string) => void process.stderr.write(`stryker instrumenter: ${message}\n`),
};

/**
 * Stryker's defaults, which stryker.config.mjs keeps: babel's parser plugins Stryker's own (`mutator.plugins`
 * null), no mutator excluded (`mutator.excludedMutations`), no ignore-plugin (`ignorers`). Mutants that a
 * `// Stryker disable` comment or `ignoreStatic` marks Ignored are made all the same (and reported).
 */
const OPTIONS: InstrumenterOptions = { plugins: null, excludedMutations: [], ignorers: [] };

const instrumenter = new Instrumenter(logger);

/** Every mutant Stryker makes of `source`, the text of `file` (its name picks the parser: TypeScript for .ts). */
export async function currentMutants(file: string, source: string): Promise<CurrentMutant[]> {
  const { mutants } = await instrumenter.instrument([{ name: file, content: source, mutate: true }], OPTIONS);
  // The instrumenter counts lines from 0 and columns from 0; the report, from 1 (core's toSchemaPosition).
  const at = (p: { line: number; column: number }) => ({ line: p.line + 1, column: p.column + 1 });
  return mutants.map((m) => ({ mutatorName: m.mutatorName, replacement: m.replacement, location: { start: at(m.location.start), end: at(m.location.end) } }));
}

/** The mutants of `current` (one file's) whose key (`mutantKeys`, occurrence counted) `measured` lacks. */
export function unmeasured(current: readonly CurrentMutant[], measured: { has(key: string): boolean }): CurrentMutant[] {
  const keys = mutantKeys(current.map(siteOf));
  return current.filter((_, i) => !measured.has(keys[i]!));
}

/**
 * Stryker `--mutate` ranges (`file:from-to`, lines) that hold `mutants`, each from a mutant's start line to
 * its end line, ranges that overlap or touch merged; in line order. Stryker mutates what lies wholly in
 * a range, so a run over them measures these mutants (and any other wholly inside, again).
 */
export function mutateRanges(file: string, mutants: readonly CurrentMutant[]): string[] {
  const spans = mutants.map((m) => [m.location.start.line, m.location.end.line] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [from, to] of spans) {
    const last = merged.at(-1);
    if (last !== undefined && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else merged.push([from, to]);
  }
  return merged.map(([from, to]) => `${file}:${from}-${to}`);
}

/**
 * The Stryker `--mutate` range of exactly one mutant's span (`file:line:column-line:column`): Stryker reads
 * its lines from 1 and its columns from 0, the report both from 1. A run over it measures that mutant and
 * those wholly inside its span (a mutant of a whole block holds those of its statements).
 */
export function exactRange(file: string, m: CurrentMutant): string {
  const { start, end } = m.location;
  return `${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`;
}
