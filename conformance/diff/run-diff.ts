/**
 * `conformance diff`: the same generated inputs to every peer, their answers compared step by step;
 * the first input on which they disagree is shrunk (fast-check, seeded) and judged against the
 * spec's answer where the spec decides one. Exit 0 all agree, 1 disagree, 64 usage, 69 a peer
 * cannot start, 70 harness fault.
 */
import fc from 'fast-check';
import type { Encoding } from '../../reference/codec/body.js';
import { answerDifferences, type Answer } from './answer.js';
import { DiffPeer, PeerUnavailable, parsePeer, type PeerSpec } from './peer.js';
import type { DiffKind, Expected, Step } from './kind.js';
import { codecKind } from './codec-kind.js';
import { engineKind } from './engine-kind.js';
import { brokerKind } from './broker-kind.js';

export const DIFF_KINDS = ['codec', 'engine', 'broker'] as const;
export type DiffKindName = (typeof DIFF_KINDS)[number];

export interface DiffOptions {
  /** The `--peer` values, at least two. */
  peers: string[];
  /** Detected from the peers' INIT when absent. */
  kind?: DiffKindName;
  seed: number;
  /** Inputs to generate (default: 100 for codecs and brokers, 20 for engines). */
  runs?: number;
  /** How long to wait for each answer. */
  timeoutMs: number;
  /** How long a started peer may take to send its INIT. */
  startTimeoutMs: number;
  /** Bound on the runs spent shrinking a disagreement, in count and in time. */
  shrinkRuns?: number;
  shrinkMs?: number;
}

/** Where the spec decides, which peer is wrong and by which statements; where it does not, a spec gap. */
export type PeerVerdict = { peer: string; verdict: 'right' } | { peer: string; verdict: 'wrong'; fields: string[]; statements: string[] } | { peer: string; verdict: 'undecided' };

export interface Disagreement {
  /** The shrunk input in words. */
  input: string;
  /** Its frames as sent, in hex (ids from the run that found it). */
  frames: { note: string; hex: string }[];
  /** The step at which the answers first differ. */
  step: number;
  answers: { peer: string; answer: Answer }[];
  /** The spec's answer at that step; undefined where the spec is silent (a spec gap). */
  expected: Answer | undefined;
  verdicts: PeerVerdict[];
  /** How fast-check got there: the run that failed first, the shrinks, its replay path. */
  found: { run: number; shrinks: number; path: string };
}

export interface DiffResult {
  exit: 0 | 1 | 64 | 69 | 70;
  kind?: DiffKindName;
  seed: number;
  runs: number;
  peers: { peer: string; command: string; name?: string; language?: string; encodings?: Encoding[]; starts?: number }[];
  disagreement?: Disagreement;
  /** Why the run ended without a verdict (usage, unavailable peer, harness fault). */
  problem?: string;
}

/** One disagreement found by a run (thrown to fast-check, which shrinks its input). */
class Disagreed extends Error {
  override name = 'Disagreed';
  constructor(readonly steps: Step[], readonly step: number, readonly answers: Answer[]) {
    super(`the peers disagree at step ${step}`);
  }
}

const DEFAULT_RUNS: Record<DiffKindName, number> = { codec: 100, engine: 20, broker: 100 };

export function peerLabel(i: number): string {
  return String.fromCharCode(65 + i);
}

/** The kind a peer's INIT announces: an engine declares the feature engine, a codec testee the role testee. */
function kindOf(peer: DiffPeer): DiffKindName | string {
  if (peer.isBroker) return 'broker';
  const features = (peer.hello['features'] as unknown[] | undefined) ?? [];
  if (features.includes('engine')) return 'engine';
  return peer.hello['role'] === 'testee' ? 'codec' : `role ${String(peer.hello['role'])}`;
}

function makeKind(name: DiffKindName, encodings: Encoding[]): DiffKind<unknown> {
  return (name === 'codec' ? codecKind(encodings) : name === 'engine' ? engineKind(encodings) : brokerKind()) as DiffKind<unknown>;
}

/** The fields in which `answer` breaks the spec's answer (none: it is right as far as the spec decides). */
export function wrongFields(answer: Answer, expected: Expected, free: readonly RegExp[]): string[] {
  return answerDifferences(answer, expected.answer, free).filter((f) => !(expected.open ?? []).includes(f));
}

/**
 * Judges every peer's answer at the differing step against the spec's. When the spec does not decide,
 * or no peer breaks what it decides (they differ only where it leaves the answer open), every verdict
 * is undecided: a spec gap.
 */
function judge(labels: string[], answers: Answer[], expected: Expected | undefined, free: readonly RegExp[]): PeerVerdict[] {
  const verdicts = labels.map((peer, i): PeerVerdict => {
    if (!expected) return { peer, verdict: 'undecided' };
    const fields = wrongFields(answers[i]!, expected, free);
    if (fields.length === 0) return { peer, verdict: 'right' };
    const statements = [...new Set(fields.map((f) => expected.fieldStatement?.(f) ?? expected.statement))];
    return { peer, verdict: 'wrong', fields, statements };
  });
  return verdicts.some((v) => v.verdict === 'wrong') ? verdicts : labels.map((peer) => ({ peer, verdict: 'undecided' }));
}

export async function runDiff(options: DiffOptions): Promise<DiffResult> {
  const base: DiffResult = { exit: 0, seed: options.seed, runs: 0, peers: [] };
  let specs: PeerSpec[];
  try {
    specs = options.peers.map(parsePeer);
  } catch (e) {
    return { ...base, exit: 64, problem: (e as Error).message };
  }
  if (specs.length < 2) return { ...base, exit: 64, problem: 'diff needs at least two --peer' };
  const labels = specs.map((_, i) => peerLabel(i));
  base.peers = specs.map((s, i) => ({ peer: labels[i]!, command: s.text }));
  const started: DiffPeer[] = [];
  try {
    // Peers start one after another: interpreters starting side by side on a loaded machine only slow each other.
    for (const spec of specs) started.push(await DiffPeer.start(spec, { timeoutMs: options.timeoutMs, startTimeoutMs: options.startTimeoutMs, seed: options.seed, cbor: true }));
  } catch (e) {
    for (const p of started) p.close();
    if (e instanceof PeerUnavailable) return { ...base, exit: 69, problem: e.message };
    throw e;
  }
  const peers = started;
  try {
    base.peers = peers.map((p, i) => ({ peer: labels[i]!, command: p.spec.text, name: String(p.hello['name'] ?? ''), language: String(p.hello['language'] ?? ''), encodings: p.encodings }));
    const kinds = peers.map(kindOf);
    const kindName = options.kind ?? kinds[0];
    if (options.kind === undefined && kinds.some((k) => k !== kindName)) {
      return { ...base, exit: 64, problem: `the peers are of different kinds (${kinds.map((k, i) => `${labels[i]}: ${k}`).join(', ')}); name one with --kind` };
    }
    if (!(DIFF_KINDS as readonly string[]).includes(kindName!)) return { ...base, exit: 64, problem: `diff does not compare peers of kind ${kindName} (kinds: ${DIFF_KINDS.join(', ')})` };
    const name = kindName as DiffKindName;
    const encodings = (['json', 'cbor'] as const).filter((e) => peers.every((p) => p.encodings.includes(e)));
    const kind = makeKind(name, encodings);
    const numRuns = options.runs ?? DEFAULT_RUNS[name];

    let run = 0;
    let failedRuns = 0;
    let shrinkDeadline = Infinity;
    let unavailable: PeerUnavailable | undefined;
    const shrinkRuns = options.shrinkRuns ?? 300;
    const property = fc.asyncProperty(kind.inputs(), async (input) => {
      // Shrinking is bounded: past its budget every further candidate counts as agreeing, so the smallest disagreement so far stands.
      if (unavailable || (failedRuns > 0 && (failedRuns > shrinkRuns || Date.now() > shrinkDeadline))) return;
      const steps = kind.steps(input, ++run);
      for (const [i, step] of steps.entries()) {
        let answers: Answer[];
        try {
          answers = await Promise.all(peers.map((p) => p.ask(step.frame, step.id, step.note)));
        } catch (e) {
          // A peer that closed or fell silent could not be started again: nothing more can be compared.
          if (!(e instanceof PeerUnavailable)) throw e;
          unavailable = e;
          return;
        }
        if (answers.some((a) => answerDifferences(a, answers[0]!, kind.free).length > 0)) {
          if (failedRuns++ === 0) shrinkDeadline = Date.now() + (options.shrinkMs ?? 300_000);
          throw new Disagreed(steps, i, answers);
        }
      }
    });
    const result = await fc.check(property, { seed: options.seed, numRuns });
    if (unavailable) return { ...base, kind: name, exit: 69, problem: unavailable.message };
    const ran = { ...base, kind: name, runs: result.numRuns, peers: base.peers.map((p, i) => ({ ...p, starts: peers[i]!.starts })) };
    if (!result.failed) return ran;
    const cause = result.errorInstance;
    if (!(cause instanceof Disagreed)) {
      return { ...ran, exit: 70, problem: `harness fault while comparing (seed ${result.seed}, path ${result.counterexamplePath}): ${cause instanceof Error ? cause.stack ?? cause.message : String(cause)}` };
    }
    const input = kind.upTo(result.counterexample![0], cause.step);
    const steps = cause.steps.slice(0, cause.step + 1);
    const expected = kind.oracle(input, steps)[cause.step];
    return {
      ...ran,
      exit: 1,
      disagreement: {
        input: kind.show(input),
        frames: steps.map((s) => ({ note: s.note, hex: Buffer.from(s.frame).toString('hex') })),
        step: cause.step,
        answers: cause.answers.map((answer, i) => ({ peer: labels[i]!, answer })),
        expected: expected?.answer,
        verdicts: judge(labels, cause.answers, expected, kind.free),
        found: { run: result.numRuns, shrinks: result.numShrinks, path: result.counterexamplePath ?? '' },
      },
    };
  } catch (e) {
    if (e instanceof PeerUnavailable) return { ...base, exit: 69, problem: e.message };
    throw e;
  } finally {
    for (const p of peers) p.close();
  }
}
