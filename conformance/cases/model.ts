/**
 * A conformance case: a stable id under its spec section, the statements of spec/protocol.md it
 * checks (its level and requirement sentence come from them, never retyped), and a run function.
 */
import { STATEMENTS, type Level } from '../../spec/generated/catalog.js';
import type { CaseContext } from './context.js';

export interface CaseDef {
  /** `<section>/<slug>` with optional `key:value` variant parts. */
  id: string;
  /** Statement ids this case checks; the first one gives the section and the sentence. */
  statements: string[];
  /** Overrides the level of the first statement (e.g. a MUST exercised only partly). */
  level?: Level;
  /** Peer features the case needs (declared at INIT); a peer without them skips the case. */
  needs?: string[];
  run(ctx: CaseContext): Promise<void>;
}

export interface Case extends CaseDef {
  section: string;
  level: Level;
  requirement: string;
}

const byId = new Map(STATEMENTS.map((s) => [s.id, s]));

/** Ties a case to its statements; throws at load time when a statement does not exist. */
export function defineCase(def: CaseDef): Case {
  const first = byId.get(def.statements[0] ?? '');
  if (!first) throw new Error(`case ${def.id}: statement ${def.statements[0]} is not in spec/protocol.md`);
  for (const s of def.statements) if (!byId.has(s)) throw new Error(`case ${def.id}: statement ${s} is not in spec/protocol.md`);
  if (!def.id.startsWith(`${first.section}/`)) throw new Error(`case ${def.id}: id must start with its section ${first.section}/`);
  return { ...def, section: first.section, level: def.level ?? first.level, requirement: `[${first.id}] ${first.text}` };
}

/** The peer broke the requirement. */
export class CaseFailure extends Error {
  override name = 'CaseFailure';
  constructor(message: string, readonly expected?: string, readonly actual?: string) {
    super(message);
  }
}

/** The peer did not answer within the harness's timeout. */
export class CaseTimeout extends Error {
  override name = 'CaseTimeout';
}

/** The case does not apply to this peer (a missing feature, a setting the harness lacks). */
export class CaseSkipped extends Error {
  override name = 'CaseSkipped';
}
