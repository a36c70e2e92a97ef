/**
 * Surviving mutants classed by review (issue 16: survivors are "listed with the reason they are
 * equivalent or out of the spec's reach"): those no rule of survivor-classes.ts recognises from the
 * syntax, judged one by one and listed in reviewed-survivors.json with a reason each.
 *
 * The list lives beside the rules, not in the broker as Stryker's `// Stryker disable` comments: several
 * hundred reasons would bury the code they describe, and every comment line would move the mutants
 * below it. An entry names its mutant by column, end, mutator and replacement on a line of a given text, as
 * measured at the published summary's commit: it follows its line when edits above move it, and once the
 * line itself changes the entry no longer applies until the mutant is reviewed again (reviewed-survivors.test.ts
 * checks the list against the sources of the summary's commit). A text found on several lines of a file
 * (`} catch {`) holds only at the entry's own line number.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { SurvivorClass } from './survivor-classes.js';
import type { MutantSite } from './summary.js';
import type { Position } from './rebase.js';

export const REVIEWED_SURVIVORS_FILE = new URL('./reviewed-survivors.json', import.meta.url);
const SCHEMA_FILE = new URL('./reviewed-survivors.schema.json', import.meta.url);

/** The kinds an out-of-reach reason may give (the review's closed list), written first in its text. */
export const OUT_OF_REACH_KINDS = ['log', 'in-process-api', 'optional-detail', 'spec-gap', 'operator-option'] as const;

export interface ReviewedMutant {
  file: string;
  line: number;
  column: number;
  /** Where the mutated code ends, as measured (mutants with one start and replacement differ by it). */
  end: Position;
  mutator: string;
  replacement: string;
  /** The line's text when it was reviewed, without its indentation. */
  source: string;
  /** A key of `reasons`. */
  reason: string;
}

export interface ReviewedSurvivors {
  reasons: Record<string, { class: SurvivorClass; text: string }>;
  mutants: ReviewedMutant[];
}

/** A list that does not hold together: invalid against its schema, or naming an unknown reason. */
export class ReviewedListError extends Error {
  override name = 'ReviewedListError';
}

/** What a review says about one survivor. */
export interface Review {
  /** `reviewed:<reason>`, the survivor's `rule` in a summary. */
  id: string;
  class: SurvivorClass;
  reason: string;
}

/** An entry's key: its line's text and the mutant's place relative to that line, so it follows the line when it moves. */
const keyOf = (file: string, text: string, site: MutantSite): string =>
  `${file}\u0000${text}\u0000${site.mutatorName}\u0000${site.column}-+${site.end.line - site.line}:${site.end.column}\u0000${site.replacement}`;

/** The reviewed list, checked: valid against its schema, every reason known and of a known kind. */
export class ReviewedList {
  /** Entries by file, line text and mutant; several when one text is on several lines. */
  private readonly byKey = new Map<string, ReviewedMutant[]>();

  constructor(readonly list: ReviewedSurvivors) {
    for (const [id, r] of Object.entries(list.reasons)) {
      if (r.class === 'out-of-reach' && !OUT_OF_REACH_KINDS.some((k) => r.text.startsWith(`[${k}] `))) {
        throw new ReviewedListError(`reason ${id}: an out-of-reach reason starts with its kind, one of ${OUT_OF_REACH_KINDS.map((k) => `[${k}]`).join(', ')}`);
      }
    }
    for (const m of list.mutants) {
      if (list.reasons[m.reason] === undefined) throw new ReviewedListError(`${m.file}:${m.line}:${m.column}: unknown reason ${m.reason}`);
      const key = keyOf(m.file, m.source, { mutatorName: m.mutator, line: m.line, column: m.column, end: m.end, replacement: m.replacement });
      const same = this.byKey.get(key) ?? [];
      if (same.some((e) => e.line === m.line)) throw new ReviewedListError(`${m.file}:${m.line}:${m.column}: ${m.mutator} -> ${m.replacement} is listed twice`);
      this.byKey.set(key, [...same, m]);
    }
  }

  static read(path: URL | string = REVIEWED_SURVIVORS_FILE): ReviewedList {
    const validate = new Ajv({ allErrors: true }).compile<ReviewedSurvivors>(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
    const list: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!validate(list)) throw new ReviewedListError(`${String(path)} is not valid: ${JSON.stringify(validate.errors)}`);
    return new ReviewedList(list);
  }

  /**
   * The review of the survivor at `site` of `file`, given the file's lines as measured; undefined when
   * none applies: no entry for that text, or the text is on several lines and the entries are for others.
   */
  reviewOf(file: string, site: MutantSite, lines: readonly string[]): Review | undefined {
    const text = lines[site.line - 1]?.trim();
    if (text === undefined) return undefined;
    const entries = this.byKey.get(keyOf(file, text, site)) ?? [];
    const m = occurrences(lines, text) === 1 ? entries[0] : entries.find((e) => e.line === site.line);
    if (m === undefined) return undefined;
    const r = this.list.reasons[m.reason]!;
    return { id: `reviewed:${m.reason}`, class: r.class, reason: r.text };
  }

  /** Entries that no longer apply: their text is on no line of the file now, or on several but not on the entry's own. */
  stale(sourceOf: (file: string) => string): ReviewedMutant[] {
    const files = new Map<string, string[]>();
    return this.list.mutants.filter((m) => {
      let lines = files.get(m.file);
      if (lines === undefined) files.set(m.file, (lines = sourceOf(m.file).split('\n')));
      const n = occurrences(lines, m.source);
      return n === 0 || (n > 1 && lines[m.line - 1]?.trim() !== m.source);
    });
  }
}

function occurrences(lines: readonly string[], text: string): number {
  let n = 0;
  for (const l of lines) if (l.trim() === text) n++;
  return n;
}
