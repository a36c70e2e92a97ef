/**
 * The TypeScript half of the spec-values lint (peers-constants.test.ts covers Python, Perl and C++): a
 * message or registry name in a TypeScript source outside spec/ is only allowed where the compiler checks
 * it against the generated unions (MessageName, ErrorName), so that renaming or removing a name in spec/
 * breaks the build at every use. A name typed as plain `string` is a copy the next spec change would miss.
 * Tests are not scanned: they state names on purpose, to check them.
 *
 *   npx tsx spec/tools/typed-names.ts     lists the names the compiler does not check
 */
import ts from 'typescript';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ERRORS, MESSAGES } from '../generated/catalog.js';
import { ROOT_DIR } from './load.js';

const NAMES = new Set<string>([...MESSAGES.map((m) => m.name), ...ERRORS.map((e) => e.name)]);

/**
 * Literals that spell a registry name by coincidence, each with its reason: `file: line pattern`.
 */
const ALLOWED: Record<string, RegExp[]> = {
  // A FIFO setup failure of the transport layer, not the protocol's TIMEOUT.
  'reference/transport/fifo-fs.ts': [/export type FifoErrorCode = /],
  // Instrument command names the worker must refuse with UNKNOWN_COMMAND, one of them a message type's on purpose.
  'conformance/cases/instrument.cases.ts': [/for \(const name of \['scope_explode', 'PING', 'x'\]\)/],
};

const SCANNED = /^(reference|conformance|bench)\//;
const NOT_SCANNED = /(^|\/)test\/|\.test\.ts$/;

function compilerOptions(): { options: ts.CompilerOptions; fileNames: string[] } {
  const host = { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d: ts.Diagnostic) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } };
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT_DIR, 'tsconfig.json'), {}, host)!;
  return { options: { ...config.options, noEmit: true }, fileNames: config.fileNames };
}

const inScope = (file: string): boolean => SCANNED.test(file) && !NOT_SCANNED.test(file);

/** A branded string (`string & { brand }`, such as ReceivedCode): no literal is assignable to it. */
const branded = (t: ts.Type): boolean => t.isIntersection() && t.types.some((m) => (m.flags & ts.TypeFlags.String) !== 0) && t.types.some((m) => (m.flags & ts.TypeFlags.Object) !== 0);

/**
 * A type whose string members are all literals (numbers, booleans, null and undefined may sit beside
 * them), so that the compiler refuses any other string literal. Where a literal is assigned, a branded
 * string member refuses literals too; where it is compared, it does not (TypeScript lets any string
 * literal be compared with one).
 */
function literalUnion(t: ts.Type, assigned: boolean, checker: ts.TypeChecker): boolean {
  // NoInfer<T> stays a substitution type when T holds an object type (a branded string): look through it.
  const type = t.flags & ts.TypeFlags.Substitution ? (t as ts.SubstitutionType).baseType : t;
  const members = type.isUnion() ? type.types : [type];
  const fine = ts.TypeFlags.StringLiteral | ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.NumberLike | ts.TypeFlags.BooleanLike;
  // Where a literal is assigned, an array member (`MessageName | MessageName[]`) refuses it too.
  return members.every((m) => (m.flags & fine) !== 0 || (assigned && (branded(m) || checker.isArrayType(m)))) && members.some((m) => (m.flags & ts.TypeFlags.StringLiteral) !== 0);
}

/** The constraint a literal type meets where it is written: `MessageNames<'A' | 'B'>` checks 'A' against MessageName. */
function typeArgumentConstraint(checker: ts.TypeChecker, node: ts.Node): ts.Type | undefined {
  let at: ts.Node = node.parent; // the LiteralTypeNode
  while (ts.isUnionTypeNode(at.parent) || ts.isParenthesizedTypeNode(at.parent)) at = at.parent;
  const ref = at.parent;
  if (!ts.isTypeReferenceNode(ref) || !ref.typeArguments) return undefined;
  const index = ref.typeArguments.indexOf(at as ts.TypeNode);
  let symbol = checker.getSymbolAtLocation(ref.typeName);
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
  const declaration = symbol?.declarations?.find((d): d is ts.TypeAliasDeclaration | ts.InterfaceDeclaration => ts.isTypeAliasDeclaration(d) || ts.isInterfaceDeclaration(d));
  const constraint = declaration?.typeParameters?.[index]?.constraint;
  return constraint ? checker.getTypeFromTypeNode(constraint) : undefined;
}

/**
 * Parameters that take prose for a person to read (what a case waited for, what it expected), where a
 * message name is part of the sentence rather than a value the code sends or compares.
 */
const PROSE_PARAMETERS = new Set(['what', 'expected']);

/** Whether `node` is an argument given to a prose parameter of type string. */
function proseArgument(checker: ts.TypeChecker, node: ts.Expression): boolean {
  const call = node.parent;
  if (!(ts.isCallExpression(call) || ts.isNewExpression(call)) || !call.arguments?.includes(node)) return false;
  const signature = checker.getResolvedSignature(call);
  const parameter = signature?.getParameters()[call.arguments.indexOf(node)];
  const declaration = parameter?.valueDeclaration;
  return declaration !== undefined && ts.isParameter(declaration) && PROSE_PARAMETERS.has(parameter!.name)
    && (checker.getNonNullableType(checker.getTypeAtLocation(declaration)).flags & ts.TypeFlags.String) !== 0;
}

/** The type a literal is compared with (`x === 'PING'`, `case 'PING':`); TypeScript refuses a literal outside it. */
function comparedWith(checker: ts.TypeChecker, node: ts.Expression): ts.Type | undefined {
  const p = node.parent;
  const equality = [ts.SyntaxKind.EqualsEqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsEqualsToken, ts.SyntaxKind.EqualsEqualsToken, ts.SyntaxKind.ExclamationEqualsToken];
  if (ts.isBinaryExpression(p) && equality.includes(p.operatorToken.kind)) return checker.getNonNullableType(checker.getTypeAtLocation(p.left === node ? p.right : p.left));
  if (ts.isCaseClause(p)) return checker.getNonNullableType(checker.getTypeAtLocation(p.parent.parent.expression));
  return undefined;
}

/** Every registry or message name in a scanned source that the compiler does not check against the generated unions. */
/** Scans the TypeScript sources outside spec/ (tests excepted). */
export function scanNames(): { unchecked: string[]; checked: number; prose: number } {
  const { options, fileNames } = compilerOptions();
  return scanFiles(fileNames.filter((f) => inScope(relative(ROOT_DIR, f))), options, inScope);
}

/** Scans `rootNames`; `scanned` says which files (relative to the repository) are reported. */
export function scanFiles(rootNames: string[], options: ts.CompilerOptions = compilerOptions().options, scanned: (file: string) => boolean = inScope): { unchecked: string[]; checked: number; prose: number } {
  const program = ts.createProgram({ rootNames, options });
  const checker = program.getTypeChecker();
  const found: string[] = [];
  let checked = 0;
  let prose = 0;
  for (const source of program.getSourceFiles()) {
    const file = relative(ROOT_DIR, source.fileName);
    if (source.isDeclarationFile || !scanned(file)) continue;
    const lines = source.text.split('\n');
    const visit = (node: ts.Node): void => {
      if ((ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) && NAMES.has(node.text)) {
        const contextual = ts.isLiteralTypeNode(node.parent) ? typeArgumentConstraint(checker, node) : checker.getContextualType(node);
        const compared = contextual ? undefined : comparedWith(checker, node);
        const line = source.getLineAndCharacterOfPosition(node.getStart()).line;
        const allowed = (ALLOWED[file] ?? []).some((re) => re.test(lines[line] ?? ''));
        if ((contextual && literalUnion(contextual, true, checker)) || (compared && literalUnion(compared, false, checker))) checked++;
        else if (proseArgument(checker, node as ts.Expression)) prose++;
        else if (!allowed) found.push(`${file}:${line + 1}: ${node.getText()}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return { unchecked: found, checked, prose };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { unchecked, checked, prose } = scanNames();
  console.log(unchecked.join('\n'));
  console.log(`${unchecked.length} unchecked, ${checked} checked by the compiler, ${prose} in prose`);
  process.exitCode = unchecked.length === 0 ? 0 : 1;
}
