/**
 * Codec testees (spec section testee): every input is one frame, a generated message of any type
 * in an encoding every peer agreed to, or one with a required member removed (JSON). The answer the
 * spec requires is what the reference codec makes of the frame: its echo (TST-4), or the ERROR of
 * the first failing check (TST-5) with `definite` (ERR-2), `re` (ERR-3) and `details` (ERR-9, ERR-11,
 * BODY-3, ARR-7, ENC-11).
 */
import fc from 'fast-check';
import { MESSAGES, type ErrorName, type MessageInfo } from '../../spec/generated/catalog.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { decodeMessage } from '../../reference/codec/message.js';
import { encodeEnvelope, type Encoding } from '../../reference/codec/body.js';
import { encodeFrame } from '../../reference/codec/frame.js';
import { encodePayload, payloadToFixture } from '../../reference/codec/payload.js';
import { ProtocolError } from '../../reference/codec/errors.js';
import { payloadArb } from '../../reference/properties/arbitraries.js';
import { detailsStatementOf } from '../cases/context.js';
import type { DiffKind, Expected, Step } from './kind.js';

export interface CodecInput {
  info: MessageInfo;
  payload: unknown;
  encoding: Encoding;
  /** A required member removed from the JSON payload before it is framed. */
  drop?: string;
}

const utf8 = new TextEncoder();
const bigints = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

function frameOf(input: CodecInput, id: string): Uint8Array {
  if (input.drop === undefined) return encodeMessageFrame({ type: input.info.name, header: { id }, payload: input.payload, encoding: input.encoding });
  const wire = JSON.parse(new TextDecoder().decode(encodePayload(input.info, 'json', input.payload))) as Record<string, unknown>;
  delete wire[input.drop];
  return encodeFrame(encodeEnvelope(input.info.code, 'json', { id }, utf8.encode(JSON.stringify(wire))));
}

/** The statement a differing field of an ERROR breaks, the code's own statement aside. */
function errorFieldStatement(code: ErrorName, rule: unknown): (field: string) => string | undefined {
  return (field) => {
    if (field === 'definite') return 'ERR-2';
    if (field === 're') return 'ERR-3';
    if (field === 'details.path' || field === 'details.rule') return code === 'SCHEMA_VIOLATION' && rule === 'required' ? 'ERR-11' : detailsStatementOf(code);
    return undefined;
  };
}

export function codecKind(encodings: readonly Encoding[]): DiffKind<CodecInput> {
  const withRequired = MESSAGES.filter((m) => Array.isArray(m.payload?.['required']) && (m.payload!['required'] as string[]).length > 0);
  const valid = fc.record({ info: fc.constantFrom(...MESSAGES), encoding: fc.constantFrom(...encodings) })
    .chain(({ info, encoding }) => payloadArb(info).map((payload): CodecInput => ({ info, payload, encoding })));
  const missing = fc.constantFrom(...withRequired)
    .chain((info) => fc.tuple(payloadArb(info), fc.constantFrom(...(info.payload!['required'] as string[]))).map(([payload, drop]): CodecInput => ({ info, payload, encoding: 'json', drop })));
  return {
    name: 'codec',
    inputs: () => fc.oneof({ arbitrary: valid, weight: 3 }, { arbitrary: missing, weight: 1 }),
    steps: (input, run) => {
      const id = `d${run}`;
      return [{ frame: frameOf(input, id), id, note: `${input.info.name} (${input.encoding})${input.drop !== undefined ? ` without ${input.drop}` : ''}` }];
    },
    oracle: (_input, steps: Step[]) => steps.map((step): Expected | undefined => {
      try {
        const m = decodeMessage(step.frame.subarray(4), { encodings });
        return { statement: 'TST-4', answer: { kind: 'message', type: m.name, encoding: m.encoding, re: m.header.id, payload: m.payload } };
      } catch (e) {
        if (!(e instanceof ProtocolError)) return undefined;
        const rule = e.details.rule;
        return {
          statement: e.details.statement ?? 'TST-5',
          answer: { kind: 'error', code: e.code, definite: e.definite, re: e.frameId, path: e.details.path, rule, param: e.details['param'] },
          fieldStatement: errorFieldStatement(e.code, rule),
        };
      }
    }),
    free: [],
    upTo: (input) => input,
    show: (input) => {
      const fixture = payloadToFixture(input.info, input.payload) as Record<string, unknown> | null;
      if (input.drop === undefined) return `${input.info.name} in ${input.encoding}: ${JSON.stringify(fixture, bigints)}`;
      const sent = { ...fixture };
      delete sent[input.drop];
      return `${input.info.name} in json without its required member ${JSON.stringify(input.drop)}: ${JSON.stringify(sent, bigints)}`;
    },
  };
}
