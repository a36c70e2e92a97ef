/** The Perl module of the protocol constants (spec/generated/perl/Concord/Protocol.pm). */
import { BANNER } from '../gen-ts.js';
import { derivedValues } from '../derived.js';
import type { SpecModel } from '../model.js';
import { framingOf, hex2, pl, unique, dtypeRows, messagesByCode, errorsById } from './shared.js';

export function generatePerl(spec: SpecModel): string {
  const FRAMING = framingOf(spec);
  const messages = messagesByCode(spec);
  const errors = errorsById(spec);
  const limits = spec.limitFile.limits;
  const msgConsts = messages.map((m) => `MSG_${m.name}`);
  const errConsts = errors.map((e) => `ERR_${e.name}`);
  const limitConsts = limits.map((l) => `LIMIT_${l.name.toUpperCase()}`);
  const nameConsts = messages.map((m) => `NAME_${m.name}`);
  const derived = derivedValues(spec);
  const dispatch = ['ERROR_MESSAGE_MAX_LENGTH', 'DISPATCH_TIMEOUT_MS', 'DISPATCH_MAX_RETRIES'];
  const framing = ['LENGTH_PREFIX_BYTES', 'BODY_PREFIX_BYTES', 'ENCODING_MASK', 'RESERVED_FLAGS_MASK',
    ...FRAMING.encodings.map((e) => `ENCODING_${e.toUpperCase()}`), '@ENCODINGS'];
  const ndarray = ['NDARRAY_MAX_NDIM', 'NDARRAY_MAX_DTYPE_LEN', 'NDARRAY_JSON_WRAPPER', 'NDARRAY_CBOR_TAG', '%DTYPES', '@NDARRAY_FIELDS'];
  unique([...msgConsts, ...nameConsts, ...errConsts, ...limitConsts, ...dispatch, ...framing, ...ndarray], 'Perl constants');
  const tags: [string, string[]][] = [
    ['messages', [...msgConsts, '%MESSAGE_NAME', '%MESSAGE_CODE', '%RESPONSE_OF']],
    ['errors', [...errConsts, '%ERRORS']],
    ['names', nameConsts],
    ['limits', [...limitConsts, '%LIMITS', ...dispatch]],
    ['framing', framing],
    ['ndarray', ndarray],
  ];
  const words = (list: string[]): string => list.map((w) => `        ${w}`).join('\n');
  const constants = (pairs: [string, string][]): string => {
    const width = Math.max(...pairs.map(([k]) => k.length));
    return `use constant {\n${pairs.map(([k, v]) => `    ${k.padEnd(width)} => ${v},`).join('\n')}\n};`;
  };
  const b = (x: boolean): string => (x ? '1' : '0');
  return `# ${BANNER}
package Concord::Protocol;

# Constants of the Concord wire protocol for Perl peers (core modules only).

use strict;
use warnings;
use Exporter 'import';

# Protocol version (MAJOR.MINOR) these constants describe.
our $PROTOCOL_VERSION = ${pl(spec.protocolVersion)};

# Message types (spec/messages/*.json), sorted by code.
${constants(messages.map((m) => [`MSG_${m.name}`, hex2(m.code)]))}

# Message type names, the names frames carry in peers.
${constants(messages.map((m) => [`NAME_${m.name}`, pl(m.name)]))}

# Code -> name, name -> code, request name -> response name.
our %MESSAGE_NAME = (
${messages.map((m) => `    ${hex2(m.code)} => ${pl(m.name)},`).join('\n')}
);
our %MESSAGE_CODE = reverse %MESSAGE_NAME;
our %RESPONSE_OF = (
${messages.filter((m) => m.response !== null).map((m) => `    ${m.name} => ${pl(m.response!)},`).join('\n')}
);

# Error registry (spec/errors.json), sorted by id.
${constants(errors.map((e) => [`ERR_${e.name}`, pl(e.name)]))}

our %ERRORS = (
${errors.map((e) => `    ${e.name} => { id => ${e.id}, definite => ${b(e.definite)}, closes => ${b(e.closes)},\n        meaning => ${pl(e.meaning)} },`).join('\n')}
);

# Limits (spec/limits.json): defaults.
${constants(limits.map((l) => [`LIMIT_${l.name.toUpperCase()}`, String(l.default)]))}

our %LIMITS = (
${limits.map((l) => `    ${l.name} => ${l.default},`).join('\n')}
);

# Longest ERROR \`message\` in characters; SERVICE_DISPATCH defaults (catalog timeout_ms, schema max_retries).
${constants([
    ['ERROR_MESSAGE_MAX_LENGTH', String(derived.errorMessageMaxLength)],
    ['DISPATCH_TIMEOUT_MS', String(derived.dispatch.timeoutMs)],
    ['DISPATCH_MAX_RETRIES', String(derived.dispatch.maxRetries)],
  ])}

# Framing (sections framing, body, encodings).
${constants([
    ['LENGTH_PREFIX_BYTES', String(FRAMING.lengthPrefixBytes)],
    ['BODY_PREFIX_BYTES', String(FRAMING.bodyPrefixBytes)],
    ['ENCODING_MASK', hex2(FRAMING.encodingMask)],
    ['RESERVED_FLAGS_MASK', hex2(FRAMING.reservedFlagsMask)],
    ...FRAMING.encodings.map((e, i): [string, string] => [`ENCODING_${e.toUpperCase()}`, String(i)]),
  ])}
# Encoding names, indexed by their flag value.
our @ENCODINGS = (${FRAMING.encodings.map(pl).join(', ')});

# ndarray layout (spec/ndarray.json).
${constants([
    ['NDARRAY_MAX_NDIM', String(spec.ndarray.max_ndim)],
    ['NDARRAY_MAX_DTYPE_LEN', String(spec.ndarray.max_dtype_len)],
    ['NDARRAY_JSON_WRAPPER', pl(spec.ndarray.json_wrapper)],
    ['NDARRAY_CBOR_TAG', String(spec.ndarray.cbor_tag)],
  ])}

# dtype code -> [name, kind, itemsize].
our %DTYPES = (
${dtypeRows(spec).map((d) => `    ${pl(d.code)} => [${pl(d.name)}, ${pl(d.kind)}, ${d.itemsize}],`).join('\n')}
);

# The layout's fields in order: [name, type, count field or undef, length field or undef].
our @NDARRAY_FIELDS = (
${spec.ndarray.fields.map((f) => `    [${pl(f.name)}, ${pl(f.type)}, ${f.count === undefined ? 'undef' : pl(f.count)}, ${f.length === undefined ? 'undef' : pl(f.length)}],`).join('\n')}
);

our %EXPORT_TAGS = (
${tags.map(([tag, list]) => `    ${tag} => [qw(\n${words(list)}\n    )],`).join('\n')}
);
our @EXPORT_OK = ('$PROTOCOL_VERSION', map { @{ $EXPORT_TAGS{$_} } } sort keys %EXPORT_TAGS);
$EXPORT_TAGS{all} = [@EXPORT_OK];

1;
`;
}
