/**
 * Splits a `--peer` command line into words as a POSIX shell would (sh "Token Recognition" and
 * "Quoting"): blanks separate words, single quotes keep everything literal, double quotes keep
 * everything but `\` before `$`, backquote, `"`, `\` and newline, and an unquoted `\` keeps the next
 * character (`\` newline joins lines). The words are run without a shell, so what a shell would
 * expand or interpret (`$`, backquote, an unquoted `~` or `#` at a word's start, glob characters, `|`, `&`,
 * `;`, `<`, `>`, `(`, `)`) is refused with a message that says to quote it, never silently kept.
 */

/** A command line that cannot be split, or that needs a shell (a usage error). */
export class CommandSplitError extends Error {
  override name = 'CommandSplitError';
}

const BLANK = /[ \t\n]/;
/** Characters a shell would interpret outside quotes. */
const UNQUOTED_SPECIAL = /[|&;<>()*?[\]]/;
/** The characters a backslash escapes inside double quotes. */
const ESCAPED_IN_DOUBLE = new Set(['$', '`', '"', '\\', '\n']);

export function splitCommand(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  const needsShell = (c: string, at: number): CommandSplitError =>
    new CommandSplitError(`${JSON.stringify(c)} at offset ${at} of ${JSON.stringify(line)} needs a shell, and peers run without one: quote it ('${c}') or leave it out`);
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new CommandSplitError(`unterminated single quote at offset ${i} of ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        const d = line[j]!;
        if (d === '\\' && j + 1 < line.length && ESCAPED_IN_DOUBLE.has(line[j + 1]!)) {
          j++;
          if (line[j] !== '\n') word += line[j];
        } else if (d === '$' || d === '`') {
          throw needsShell(d, j);
        } else {
          word += d;
        }
      }
      if (j >= line.length) throw new CommandSplitError(`unterminated double quote at offset ${i} of ${JSON.stringify(line)}`);
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new CommandSplitError(`a backslash ends ${JSON.stringify(line)} with nothing to escape`);
      i++;
      if (line[i] !== '\n') {
        word += line[i];
        inWord = true;
      }
    } else if (BLANK.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '$' || c === '`' || UNQUOTED_SPECIAL.test(c) || ((c === '~' || c === '#') && !inWord)) {
      throw needsShell(c, i);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
