/**
 * Surviving mutants that no conformance case can kill, recognised from the code they mutate (issue 16:
 * "survivors are either killed by new cases, or listed with the reason they are equivalent or out of the
 * spec's reach"). Each rule names one such kind, says why, and recognises it from the syntax around the
 * mutant's start (TypeScript's parser, never line numbers, so a rule holds across edits). A mutant no
 * rule claims may still be classed by review (reviewed-survivors.ts, one reason per mutant); otherwise it
 * stays a plain survivor. Rules and review only subtract what the protocol does not let a peer observe,
 * and `score_of_non_equivalent` is the score over the rest.
 *
 * Kept narrow on purpose: a rule claims a mutant only when every way the mutant can change the broker's
 * behaviour stays inside the log, the text of an error, a detail the spec makes optional, or an API no
 * message reaches. A guard of a log line counts only when its branch holds log calls alone and its
 * condition calls nothing that could change state.
 */
import ts from 'typescript';
import type { MutantSite, MutationSummary, Survivor } from './summary.js';
import { ReviewedList } from './reviewed-survivors.js';

/** Why no case can kill a mutant: the spec leaves what it changes unobservable, or nothing changes. */
export type SurvivorClass = 'out-of-reach' | 'equivalent';

/** Where a mutant starts, as Stryker reports it (line and column 1-based): all a rule reads. */
export type MutantStart = Pick<MutantSite, 'line' | 'column'>;

export interface SurvivorRule {
  /** A stable name, written next to each survivor it claims. */
  id: string;
  class: SurvivorClass;
  /** Why a peer cannot tell the mutant from the original, in a sentence. */
  reason: string;
  /** `node` is the outermost syntax node that starts where the mutant does, in `file` (from the repository root). */
  claims(node: ts.Node, file: string): boolean;
}

const LOG_METHODS = new Set(['debug', 'info', 'warn', 'error', 'child']);
/** Calls that make an error: the argument that is its human-readable text, and the one of its `details`. */
const ERROR_FACTORIES = new Map<string, { message: number; details?: number }>([
  ['ProtocolError', { message: 1, details: 2 }],
  ['protocolError', { message: 1, details: 2 }],
  ['fault', { message: 1, details: 3 }], // handshake.ts: (code, message, frameId, details)
  ['BrokerConfigError', { message: 1 }],
  ['ListenError', { message: 1 }],
]);
/** The one statement whose text requires `details.statement` (CLU-8); for the others it is optional (section 8). */
const REQUIRED_STATEMENT_DETAILS = new Set(['CLU-8']);
/** Functions and methods a log line's fields or a log guard's condition may call: reads that change nothing. */
const PURE_CALLS = new Set(['has', 'get', 'enabled', 'includes', 'toString', 'padStart', 'String']);

/** The name an expression ends in: `log` of `this.deps.log`, `conn` of `conn`. */
function lastName(e: ts.Expression): string | undefined {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}

/**
 * `x.log.info(...)`, `log.warn(...)`, `this.log.child(...)` or `new Logger(...)` whose arguments change
 * nothing when evaluated: a call that only logs.
 */
function isLogCall(n: ts.Node): n is ts.CallExpression | ts.NewExpression {
  let logs = false;
  if (ts.isNewExpression(n)) logs = lastName(n.expression) === 'Logger';
  else if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression)) logs = LOG_METHODS.has(n.expression.name.text) && lastName(n.expression.expression) === 'log';
  return logs && (n as ts.CallExpression | ts.NewExpression).arguments!.every((a) => sideEffectFree(a));
}

/** true when `inner` lies within one of `call`'s arguments (not its callee). */
function inArguments(call: ts.CallExpression | ts.NewExpression, inner: ts.Node, index?: number): boolean {
  const args = call.arguments ?? ts.factory.createNodeArray();
  return args.some((a, i) => (index === undefined || i === index) && a.pos <= inner.pos && inner.end <= a.end);
}

/**
 * Methods no message of the protocol reaches, by file and class: the broker's API for a program that
 * embeds it (the seed's `send_to_client` and `broadcast`, its counters) and for its own tests.
 * survivor-classes.test.ts checks that nothing outside the tests calls them.
 */
export const IN_PROCESS_API: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  'reference/broker/broker.ts': { Broker: ['sendToClient', 'broadcast', 'stats', 'clusterReady', 'crash'] },
};

/** true when `node` lies in the body of a method of IN_PROCESS_API. */
function inInProcessApi(node: ts.Node, file: string): boolean {
  const classes = IN_PROCESS_API[file];
  if (classes === undefined) return false;
  for (const a of ancestors(node)) {
    if (!ts.isMethodDeclaration(a) || !ts.isIdentifier(a.name) || !ts.isClassDeclaration(a.parent) || a.parent.name === undefined) continue;
    return classes[a.parent.name.text]?.includes(a.name.text) ?? false;
  }
  return false;
}

/** The argument of an error factory's call that holds `node` when it is the error's `message` or `details`. */
function errorFactoryArgument(node: ts.Node, which: 'message' | 'details'): ts.Expression | undefined {
  for (const a of ancestors(node)) {
    if (!ts.isCallExpression(a) && !ts.isNewExpression(a)) continue;
    const index = ERROR_FACTORIES.get(lastName(a.expression) ?? '')?.[which];
    if (index !== undefined && inArguments(a, node, index)) return a.arguments![index];
  }
  return undefined;
}

/** `statement: 'HS-21'`, an optional detail, unless the statement's text requires it. */
function isOptionalStatement(p: ts.ObjectLiteralElementLike): p is ts.PropertyAssignment {
  return ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === 'statement' && ts.isStringLiteral(p.initializer) && !REQUIRED_STATEMENT_DETAILS.has(p.initializer.text);
}

function* ancestors(node: ts.Node): Generator<ts.Node> {
  for (let n: ts.Node | undefined = node; n !== undefined; n = n.parent) yield n;
}

/** The innermost `if` that holds `node` within the same function, if any. */
function enclosingIf(node: ts.Node): ts.IfStatement | undefined {
  for (const a of ancestors(node)) {
    if (ts.isIfStatement(a)) return a;
    if (ts.isFunctionLike(a)) return undefined;
  }
  return undefined;
}

/** A statement that does nothing but log: `log.info(...);` or a block of such statements. */
function onlyLogs(s: ts.Statement): boolean {
  if (ts.isExpressionStatement(s)) return isLogCall(s.expression);
  if (ts.isBlock(s)) return s.statements.length > 0 && s.statements.every(onlyLogs);
  return false;
}

/** true when evaluating `e` cannot change state: no call but the pure reads `calls` names, no assignment. */
function sideEffectFree(e: ts.Node, calls: ReadonlySet<string> = PURE_CALLS): boolean {
  let free = true;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) || ts.isNewExpression(n)) {
      if (!calls.has(lastName(n.expression) ?? '')) free = false;
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && n.operatorToken.kind <= ts.SyntaxKind.LastAssignment) free = false;
    if ((ts.isPrefixUnaryExpression(n) || ts.isPostfixUnaryExpression(n)) && (n.operator === ts.SyntaxKind.PlusPlusToken || n.operator === ts.SyntaxKind.MinusMinusToken)) free = false;
    if (free) ts.forEachChild(n, visit);
  };
  visit(e);
  return free;
}

/** Calls an option check's condition may make: tests of the option's value that change nothing. */
const OPTION_TEST_CALLS = new Set(['isInteger', 'test', 'byteLength', 'isLoopback', 'isLogLevel']);

/** `throw new BrokerConfigError(...)`, alone or as the one statement of a block. */
function onlyRefusesOption(s: ts.Statement): boolean {
  if (ts.isBlock(s)) return s.statements.length === 1 && onlyRefusesOption(s.statements[0]!);
  return ts.isThrowStatement(s) && s.expression !== undefined && ts.isNewExpression(s.expression) && lastName(s.expression.expression) === 'BrokerConfigError';
}

export const SURVIVOR_RULES: readonly SurvivorRule[] = [
  {
    id: 'log-line',
    class: 'out-of-reach',
    reason: "the text and fields of a log line: the broker's log goes to its operator on stderr, and no message of the protocol carries it",
    claims: (node) => [...ancestors(node)].some((a) => isLogCall(a) && inArguments(a, node)),
  },
  {
    id: 'log-only-code',
    class: 'out-of-reach',
    reason: 'code whose only effect is a log line: a guard whose branch only logs (its condition changes nothing), or a callback whose body only logs',
    claims: (node) => {
      if (ts.isArrowFunction(node)) return isLogCall(node.body);
      if (ts.isBlock(node) && onlyLogs(node)) return true;
      const guard = enclosingIf(node);
      return guard !== undefined && guard.elseStatement === undefined && onlyLogs(guard.thenStatement) && sideEffectFree(guard.expression);
    },
  },
  {
    id: 'error-text',
    class: 'out-of-reach',
    reason: 'the human-readable text of an error: an ERROR\'s `message` is free text (spec/messages/system.json), and a refused option or address reaches the operator, not a peer',
    claims: (node) => errorFactoryArgument(node, 'message') !== undefined,
  },
  {
    id: 'in-process-api',
    class: 'out-of-reach',
    reason: "the broker's in-process API (pushes and counters for a program that embeds it, hooks of its own tests): no message of the protocol calls it",
    claims: (node, file) => inInProcessApi(node, file),
  },
  {
    id: 'option-check',
    class: 'out-of-reach',
    reason: "a check of the broker's own options (`if (...) throw new BrokerConfigError(...)`): it refuses an operator's bad option before anything listens, and the suites test a broker that started, so no peer sees a check that lets a bad option through, nor one that refuses a good option the run does not pass (one that refuses the run's own options fails every case)",
    claims: (node) => {
      const check = enclosingIf(node);
      if (check === undefined || check.elseStatement !== undefined) return false;
      const mutated = node === check.thenStatement || (check.expression.pos <= node.pos && node.end <= check.expression.end);
      return mutated && onlyRefusesOption(check.thenStatement) && sideEffectFree(check.expression, OPTION_TEST_CALLS);
    },
  },
  {
    id: 'error-statement',
    class: 'out-of-reach',
    reason: 'the statement id an ERROR names in `details.statement`, which section 8 makes optional ("may name"); CLU-8, whose text requires it, is left out',
    claims: (node) => {
      const details = errorFactoryArgument(node, 'details');
      if (details === undefined || !ts.isObjectLiteralExpression(details)) return false;
      if (node === details) return details.properties.length > 0 && details.properties.every(isOptionalStatement);
      return details.properties.some((p) => isOptionalStatement(p) && p.initializer === node);
    },
  },
];

/** The syntax of one source file, and the outermost node starting at each of its mutants. */
export class MutatedSource {
  private readonly file: ts.SourceFile;

  constructor(path: string, text: string) {
    this.file = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  }

  /** The outermost node whose first token starts at the mutant's line and column. */
  nodeAt(site: MutantStart): ts.Node | undefined {
    const lineStarts = this.file.getLineStarts();
    if (site.line < 1 || site.line > lineStarts.length) return undefined;
    const pos = lineStarts[site.line - 1]! + site.column - 1;
    let found: ts.Node | undefined;
    const visit = (n: ts.Node): void => {
      if (n.getStart(this.file) === pos && found === undefined) found = n;
      if (found === undefined && n.pos <= pos && pos < n.end) ts.forEachChild(n, visit);
    };
    visit(this.file);
    return found;
  }

  /** The file's lines. */
  lines(): string[] {
    return this.file.text.split('\n');
  }

  /** The first rule that claims the mutant, or undefined when it stays a survivor. */
  classify(site: MutantStart): SurvivorRule | undefined {
    const node = this.nodeAt(site);
    if (node === undefined) return undefined;
    return SURVIVOR_RULES.find((r) => r.claims(node, this.file.fileName));
  }
}

/** The part of a summary the classification reads and completes (summary.ts's MutationSummary). */
interface Classifiable {
  counts: { Killed: number; Timeout: number; Survived: number; NoCoverage: number };
  survivors: Record<string, Record<string, Pick<Survivor, 'line' | 'column' | 'end' | 'replacement' | 'rule'>[]>>;
}

/** What the rules claimed in one summary: per rule, and the score over the mutants left. */
export interface Classification {
  /** Detected mutants per hundred valid ones that no rule nor review claims, two decimals. */
  score_of_non_equivalent: number;
  /** Each rule that claimed a survivor: its class, its reason and how many it claimed. */
  classes: Record<string, { class: SurvivorClass; reason: string; survivors: number }>;
}

/**
 * Marks every survivor of `summary` that a rule claims, or failing that the review (`reviewed`, by default
 * reviewed-survivors.json), with the rule's id (in place) and returns the classification; `sourceOf(file)`
 * gives a mutated file's text as it was when the summary was measured.
 */
export function classifySurvivors(summary: Classifiable, sourceOf: (file: string) => string, reviewed: ReviewedList = ReviewedList.read()): Classification {
  const sources = new Map<string, MutatedSource>();
  const classes: Classification['classes'] = {};
  let claimed = 0;
  for (const [mutatorName, byFile] of Object.entries(summary.survivors)) {
    for (const [file, list] of Object.entries(byFile)) {
      let source = sources.get(file);
      if (source === undefined) sources.set(file, (source = new MutatedSource(file, sourceOf(file))));
      let lines: string[] | undefined;
      for (const s of list) {
        delete s.rule;
        const site = { mutatorName, line: s.line, column: s.column, end: s.end, replacement: s.replacement };
        const rule = source.classify(site) ?? reviewed.reviewOf(file, site, (lines ??= source.lines()));
        if (rule === undefined) continue;
        s.rule = rule.id;
        claimed++;
        (classes[rule.id] ??= { class: rule.class, reason: rule.reason, survivors: 0 }).survivors++;
      }
    }
  }
  const { Killed, Timeout, Survived, NoCoverage } = summary.counts;
  const left = Killed + Timeout + Survived + NoCoverage - claimed;
  return { score_of_non_equivalent: left === 0 ? 0 : Math.round((10_000 * (Killed + Timeout)) / left) / 100, classes };
}

/** `summary` with its survivors classed: the score of non-equivalent mutants after the other scores, the classes last. */
export function withClasses(summary: MutationSummary, sourceOf: (file: string) => string, reviewed?: ReviewedList): MutationSummary {
  const { score, score_of_covered, score_of_non_equivalent: _before, classes: _classesBefore, ...rest } = summary;
  const c = classifySurvivors(summary, sourceOf, reviewed);
  return { score, score_of_covered, score_of_non_equivalent: c.score_of_non_equivalent, ...rest, classes: c.classes };
}
