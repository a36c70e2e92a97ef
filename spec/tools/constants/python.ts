/** The Python module of the protocol constants (spec/generated/python/concord_protocol.py). */
import { BANNER } from '../gen-ts.js';
import { derivedValues } from '../derived.js';
import type { SpecModel } from '../model.js';
import { framingOf, hex2, py, unique, dtypeRows, messagesByCode, errorsById } from './shared.js';

export function generatePython(spec: SpecModel): string {
  const FRAMING = framingOf(spec);
  const messages = messagesByCode(spec);
  const errors = errorsById(spec);
  const limits = spec.limitFile.limits;
  const limitConsts = limits.map((l) => l.name.toUpperCase());
  const derived = derivedValues(spec);
  const fixed = ['PROTOCOL_VERSION', 'LENGTH_PREFIX_BYTES', 'BODY_PREFIX_BYTES', 'ENCODING_MASK', 'RESERVED_FLAGS_MASK', 'ENCODINGS',
    'NDARRAY_MAX_NDIM', 'NDARRAY_MAX_DTYPE_LEN', 'NDARRAY_JSON_WRAPPER', 'NDARRAY_CBOR_TAG', 'NDARRAY_FIELDS', 'DTYPES', 'MESSAGES', 'ERRORS', 'LIMITS',
    'ERROR_MESSAGE_MAX_LENGTH', 'DISPATCH_TIMEOUT_MS', 'DISPATCH_MAX_RETRIES', 'LIMIT_MIN'];
  unique([...fixed, ...limitConsts], 'Python module constants');
  const exported = ['MessageType', 'MessageName', 'MessageInfo', 'ErrorCode', 'ErrorInfo', ...fixed, ...limitConsts, 'dispatch_backoff_ms', 'ndarray_fields'];
  const pyBool = (b: boolean): string => (b ? 'True' : 'False');
  return `# ${BANNER}
"""Constants of the Concord wire protocol for Python peers (standard library only)."""

import enum
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = [
${exported.map((n) => `    ${py(n)},`).join('\n')}
]

#: Protocol version (MAJOR.MINOR) these constants describe.
PROTOCOL_VERSION = ${py(spec.protocolVersion)}


class MessageType(enum.IntEnum):
    """Message type codes (spec/messages/*.json), sorted by code."""

${messages.map((m) => `    ${m.name} = ${hex2(m.code)}`).join('\n')}


class MessageName:
    """Message type names (plain strings), the names frames carry in peers."""

${messages.map((m) => `    ${m.name} = ${py(m.name)}`).join('\n')}


@dataclass(frozen=True)
class MessageInfo:
    """One catalog entry; timeout_ms is None when the type uses REQUEST_TIMEOUT_MS."""

    code: int
    name: str
    kind: str
    response: Optional[str]
    timeout_ms: Optional[int]
    level: str
    section: str


#: The message catalog by type code.
MESSAGES: Dict[int, MessageInfo] = {
${messages.map((m) => `    ${hex2(m.code)}: MessageInfo(${hex2(m.code)}, ${py(m.name)}, ${py(m.kind)}, ${py(m.response)}, ${m.timeout_ms ?? 'None'}, ${py(m.level)}, ${py(m.section)}),`).join('\n')}
}


@dataclass(frozen=True)
class ErrorInfo:
    """One error registry entry (spec/errors.json)."""

    id: int
    name: str
    definite: bool
    closes: bool
    meaning: str


class ErrorCode(str, enum.Enum):
    """Error registry names, the values of an ERROR payload's \`code\`."""

${errors.map((e) => `    ${e.name} = ${py(e.name)}`).join('\n')}


#: The error registry by name, sorted by id.
ERRORS: Dict[str, ErrorInfo] = {
${errors.map((e) => `    ${py(e.name)}: ErrorInfo(${e.id}, ${py(e.name)}, ${pyBool(e.definite)}, ${pyBool(e.closes)}, ${py(e.meaning)}),`).join('\n')}
}

#: Default of every limit (spec/limits.json), by name.
LIMITS: Dict[str, int] = {
${limits.map((l) => `    ${py(l.name)}: ${l.default},`).join('\n')}
}

${limits.map((l) => `${l.name.toUpperCase()} = ${l.default}  # ${l.unit}`).join('\n')}

#: Smallest legal value of every limit, by name.
LIMIT_MIN: Dict[str, int] = {
${limits.map((l) => `    ${py(l.name)}: ${l.min},`).join('\n')}
}

#: Longest ERROR \`message\` in characters (the ERROR payload schema's maxLength).
ERROR_MESSAGE_MAX_LENGTH = ${derived.errorMessageMaxLength}
#: SERVICE_DISPATCH defaults: one attempt's timeout (catalog) and max_retries (payload schema default).
DISPATCH_TIMEOUT_MS = ${derived.dispatch.timeoutMs}
DISPATCH_MAX_RETRIES = ${derived.dispatch.maxRetries}


def dispatch_backoff_ms(retry: int, base_ms: int = DISPATCH_BACKOFF_BASE_MS) -> int:
    """The wait before the r-th retry (r >= 1) of a dispatch: min(base x 2^(r-1), DISPATCH_BACKOFF_MAX_MS)."""
    return min(base_ms * 2 ** (retry - 1), DISPATCH_BACKOFF_MAX_MS)

# Framing (sections framing, body, encodings).
LENGTH_PREFIX_BYTES = ${FRAMING.lengthPrefixBytes}
BODY_PREFIX_BYTES = ${FRAMING.bodyPrefixBytes}
ENCODING_MASK = ${hex2(FRAMING.encodingMask)}
RESERVED_FLAGS_MASK = ${hex2(FRAMING.reservedFlagsMask)}
#: Encoding names, indexed by their flag value.
ENCODINGS: Tuple[str, ...] = (${FRAMING.encodings.map(py).join(', ')})

# ndarray layout (spec/ndarray.json).
NDARRAY_MAX_NDIM = ${spec.ndarray.max_ndim}
NDARRAY_MAX_DTYPE_LEN = ${spec.ndarray.max_dtype_len}
NDARRAY_JSON_WRAPPER = ${py(spec.ndarray.json_wrapper)}
NDARRAY_CBOR_TAG = ${spec.ndarray.cbor_tag}

#: dtype code -> (name, kind, itemsize).
DTYPES: Dict[str, Tuple[str, str, int]] = {
${dtypeRows(spec).map((d) => `    ${py(d.code)}: (${py(d.name)}, ${py(d.kind)}, ${d.itemsize}),`).join('\n')}
}

#: The layout's fields in order: (name, type, count field or None, length field or None).
NDARRAY_FIELDS: Tuple[Tuple[str, str, Optional[str], Optional[str]], ...] = (
${spec.ndarray.fields.map((f) => `    (${py(f.name)}, ${py(f.type)}, ${py(f.count ?? null)}, ${py(f.length ?? null)}),`).join('\n')}
)
ndarray_fields = NDARRAY_FIELDS
`;
}
