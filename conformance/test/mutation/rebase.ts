/**
 * Carrying a mutant measured on one version of a file over to a later version, the way Stryker's
 * incremental mode reuses a result (core's IncrementalDiffer): a mutant whose code did not change keeps
 * its verdict at its new place, one whose code changed must be measured again. Stryker diffs characters
 * (diff-match-patch); this diffs lines (jsdiff), which is coarser and so errs towards measuring again:
 * a mutant is carried only when every line it spans lies, in one piece, in the equal hunks of the line
 * diff. Its columns stay, since an unchanged line is the same text.
 *
 * Like Stryker's, the check is local: a change elsewhere in the file that alters what a carried mutant's
 * code does is not seen. Unlike Stryker's, it does not look at the tests: a case added since can kill a
 * carried survivor, which only a new run shows.
 */
import { diffLines } from 'diff';

/** A place in a source as Stryker's JSON report gives it (line 1-based). */
export interface Position {
  line: number;
  column: number;
}

/** Where a mutant's code starts and ends. */
export interface Span {
  start: Position;
  end: Position;
}

/** Old line -> new line (both 1-based), for the lines of the old source that are unchanged in the new one. */
export type LineMap = ReadonlyMap<number, number>;

/**
 * The unchanged lines of `oldSource`, each with its line in `newSource`: the lines of the equal hunks of
 * a line diff, one to one and in order (the map is strictly increasing). A line is compared with its
 * line break, so a last line that gained or lost one counts as changed.
 */
export function unchangedLines(oldSource: string, newSource: string): LineMap {
  const map = new Map<number, number>();
  let oldLine = 1;
  let newLine = 1;
  for (const change of diffLines(oldSource, newSource)) {
    if (change.added) newLine += change.count;
    else if (change.removed) oldLine += change.count;
    else for (let i = 0; i < change.count; i++) map.set(oldLine++, newLine++);
  }
  return map;
}

/** The number of lines of `source` as a line diff counts them: a final line break opens no line. */
function lineCount(source: string): number {
  if (source === '') return 0;
  return source.split('\n').length - (source.endsWith('\n') ? 1 : 0);
}

/** The lines of `newSource` (1-based) that no unchanged old line became: inserted or changed since. */
export function changedLines(newSource: string, unchanged: LineMap): Set<number> {
  const images = new Set(unchanged.values());
  const changed = new Set<number>();
  for (let line = 1; line <= lineCount(newSource); line++) if (!images.has(line)) changed.add(line);
  return changed;
}

/**
 * `mutant` at its place in the new source, or undefined when its code changed: carried only when each
 * line from its start to its end is unchanged and the lines stay together (nothing inserted between
 * them), then moved by as many lines as its start moved, columns kept.
 */
export function rebaseMutant<M extends { location: Span }>(mutant: M, unchanged: LineMap): M | undefined {
  const { start, end } = mutant.location;
  const newStart = unchanged.get(start.line);
  if (newStart === undefined) return undefined;
  for (let line = start.line + 1; line <= end.line; line++) {
    if (unchanged.get(line) !== newStart + (line - start.line)) return undefined;
  }
  const shift = newStart - start.line;
  return { ...mutant, location: { start: { ...start, line: start.line + shift }, end: { ...end, line: end.line + shift } } };
}
