/**
 * Usage errors shared by the `concord` and `conformance` commands: one line that names what was wrong
 * and, for a mistyped option, command or suite, the nearest known one ("did you mean --target?").
 */

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length]!;
}

/**
 * The known word a typo most likely meant: the only one it is a prefix of, else the nearest within
 * a third of its length (at least 2 edits), else none. Ties go to the first candidate.
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  if (word.length === 0) return undefined;
  const prefixed = candidates.filter((c) => c.startsWith(word));
  if (prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** `: did you mean X?` when a candidate is near enough, else the empty string. */
export function suggestion(word: string, candidates: readonly string[]): string {
  const best = didYouMean(word, candidates);
  return best === undefined ? '' : `: did you mean ${best}?`;
}

/**
 * One line for an error of node:util parseArgs (whose own messages run over several sentences):
 * an unknown option with the nearest known one, a missing value, or the first sentence.
 */
export function parseArgsProblem(error: Error, options: readonly string[]): string {
  const code = (error as { code?: string }).code;
  const unknown = /^Unknown option '(-{1,2}[^'=]*)/.exec(error.message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== undefined) {
    // A one-letter option is too short to guess from.
    return `unknown option ${unknown}${unknown.startsWith('--') ? suggestion(unknown, options.map((o) => `--${o}`)) : ''}`;
  }
  const missing = /^Option '(-[^' ]*(?:, -[^' ]*)?)[^']*' argument missing/.exec(error.message)?.[1];
  if (missing !== undefined) return `option ${missing.split(', ').pop()} needs a value`;
  return error.message.split(/(?<=\.) /)[0]!.replace(/\.$/, '');
}
