/**
 * What a kind of peer (codec testee, engine) gives the diff: the inputs to generate, the frames one
 * input becomes, the answer the spec requires for each (the oracle; undefined where the spec is
 * silent), the answer fields left to each implementation, and the statement a differing field breaks.
 */
import type fc from 'fast-check';
import type { Answer } from './answer.js';

/** One frame of an input: its bytes, the header id it carries, and how it is shown. */
export interface Step {
  frame: Uint8Array;
  id: string;
  note: string;
}

/** The spec's answer to one step, and the statement that requires it. */
export interface Expected {
  answer: Answer;
  /** The statement the whole answer falls under (TST-4 for an echo, ENG-3 for a FEEDBACK's ACK...). */
  statement: string;
  /** Answer fields the spec leaves open at this step (`details.path` of an UNKNOWN_DESTINATION): peers differing only there show a spec gap. */
  open?: readonly string[];
  /** The statement of one differing field when it is not `statement` (`definite`: ERR-2, `re`: ERR-3...). */
  fieldStatement?: (field: string) => string | undefined;
}

export interface DiffKind<I> {
  readonly name: string;
  /** The inputs to generate (the kind was made for the encodings every peer agreed to). */
  inputs(): fc.Arbitrary<I>;
  /** The frames of `input` for run `run` (ids unique within the run, the same for every peer). */
  steps(input: I, run: number): Step[];
  /** The answers the spec requires, step by step (entries undefined where it does not decide). */
  oracle(input: I, steps: Step[]): (Expected | undefined)[];
  /** Answer fields no statement fixes (JSON Pointers into the payload). */
  readonly free: readonly RegExp[];
  /** The input cut after its step `step` (the steps after a disagreement are never sent). */
  upTo(input: I, step: number): I;
  /** The input in words and typed JSON, for the report. */
  show(input: I): string;
}
