/**
 * Generates the protocol constants of the non-TypeScript peers from spec/: a C++17 header, a Python
 * module and a Perl module. No peer hand-writes a type code, an error name or a limit.
 */
import type { SpecModel } from './model.js';
import { generateCpp } from './constants/cpp.js';
import { generatePython } from './constants/python.js';
import { generatePerl } from './constants/perl.js';

export { generateCpp, generatePython, generatePerl };

/** Stage-2 entry point: the three constants files. */
export function generate(spec: SpecModel, _earlier: Map<string, string>): Map<string, string> {
  return new Map([
    ['spec/generated/cpp/concord/protocol.hpp', generateCpp(spec)],
    ['spec/generated/python/concord_protocol.py', generatePython(spec)],
    ['spec/generated/perl/Concord/Protocol.pm', generatePerl(spec)],
  ]);
}
