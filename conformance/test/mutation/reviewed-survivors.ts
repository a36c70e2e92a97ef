/**
 * Surviving mutants classed by review (issue 16: survivors are "listed with the reason they are
 * equivalent or out of the spec's reach"): those no rule of survivor-classes.ts recognises from the
 * syntax, judged one by one and listed in reviewed-survivors.json with a reason each.
 *
 * The list lives beside the rules, not in the broker as Stryker's `// Stryker disable` comments: several
 * hundred reasons would bury the code they describe, and every comment line would move the mutants
 * below it. An entry names its mutant by place and replacement and keeps the text of its line; once that
 * line changes the entry no longer applies (reviewed-survivors.test.ts names it) until the mutant is
 * reviewed again.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { MutantSite, SurvivorClass } from './survivor-classes.js';

export const REVIEWED_SURVIVORS_FILE = new URL('./reviewed-survivors.json', import.meta.url);
const SCHEMA_FILE = new URL('./reviewed-survivors.schema.json', import.meta.url);

/** The kinds an out-of-reach reason may give (the review's closed list), written first in its text. */
export const OUT_OF_REACH_KINDS = ['log', 'in-process-api', 'optional-detail', 'spec-gap', 'operator-option'] as const;

export interface ReviewedMutant {
  file: string;
  line: number;
  column: number;
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

/** A list that does not hold together: invalid against its schema, an unknown reason, one mutant twice. */
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

const keyOf = (file: string, site: MutantSite): string => `${file}\u0000${site.mutatorName}\u0000${site.line}:${site.column}\u0000${site.replacement}`;

/** The reviewed list, checked: valid against its schema, every reason known and of a known kind, no mutant twice. */
export class ReviewedList {
  private readonly byKey = new Map<string, ReviewedMutant>();

  constructor(readonly list: ReviewedSurvivors) {
    for (const [id, r] of Object.entries(list.reasons)) {
      if (r.class === 'out-of-reach' && !OUT_OF_REACH_KINDS.some((k) => r.text.startsWith(`[${k}] `))) {
        throw new ReviewedListError(`reason ${id}: an out-of-reach reason starts with its kind, one of ${OUT_OF_REACH_KINDS.map((k) => `[${k}]`).join(', ')}`);
      }
    }
    for (const m of list.mutants) {
      if (list.reasons[m.reason] === undefined) throw new ReviewedListError(`${m.file}:${m.line}:${m.column}: unknown reason ${m.reason}`);
      const key = keyOf(m.file, { mutatorName: m.mutator, line: m.line, column: m.column, replacement: m.replacement });
      if (this.byKey.has(key)) throw new ReviewedListError(`${m.file}:${m.line}:${m.column} ${m.mutator} -> ${m.replacement}: listed twice`);
      this.byKey.set(key, m);
    }
  }

  static read(path: URL | string = REVIEWED_SURVIVORS_FILE): ReviewedList {
    const validate = new Ajv({ allErrors: true }).compile<ReviewedSurvivors>(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as object);
    const list: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!validate(list)) throw new ReviewedListError(`${String(path)} is not valid: ${JSON.stringify(validate.errors)}`);
    return new ReviewedList(list);
  }

  /** The review of the survivor at `site` of `file`, whose line now reads `lineText`; undefined when none applies. */
  reviewOf(file: string, site: MutantSite, lineText: string): Review | undefined {
    const m = this.byKey.get(keyOf(file, site));
    if (m === undefined || m.source !== lineText.trim()) return undefined;
    const r = this.list.reasons[m.reason]!;
    return { id: `reviewed:${m.reason}`, class: r.class, reason: r.text };
  }

  /** Entries whose line no longer reads as it did when reviewed, given each file's text now. */
  stale(sourceOf: (file: string) => string): ReviewedMutant[] {
    const lines = new Map<string, string[]>();
    return this.list.mutants.filter((m) => {
      let text = lines.get(m.file);
      if (text === undefined) lines.set(m.file, (text = sourceOf(m.file).split('\n')));
      return text[m.line - 1]?.trim() !== m.source;
    });
  }
}
