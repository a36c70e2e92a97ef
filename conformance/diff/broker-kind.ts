/**
 * Brokers (`--peer tcp:HOST:PORT`): every input is one frame a broker answers itself on a client's
 * session, so no run depends on another: PING (PONG, HS-9), STATS_REQUEST for a client that is not
 * connected (an empty list, SYS-2), and a routed request whose `dst` resolves to nothing or is `*`
 * (ERROR UNKNOWN_DESTINATION, REQ-8 and REQ-19). A broker's id and uptime are its own.
 */
import fc from 'fast-check';
import { ERRORS, MESSAGES, type MessageInfo } from '../../spec/generated/catalog.js';
import { encodeMessageFrame } from '../../reference/codec/message.js';
import { payloadToFixture } from '../../reference/codec/payload.js';
import { payloadArb } from '../../reference/properties/arbitraries.js';
import type { Answer } from './answer.js';
import type { DiffKind, Expected, Step } from './kind.js';
import type { ErrorName } from '../../spec/generated/catalog.js';
import type { MessageName } from '../../spec/generated/catalog.js';

export type BrokerInput =
  | { op: 'ping' }
  | { op: 'stats-absent'; client: string }
  | { op: 'unroutable'; info: MessageInfo; payload: unknown; dst: string };

const UNKNOWN_DESTINATION_DEFINITE = ERRORS.find((e) => e.name === 'UNKNOWN_DESTINATION')!.definite;
const bigints = (_: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

/** Routed requests: a client sends them to another peer through the broker. */
const ROUTED = MESSAGES.filter((m) => m.kind === 'request' && m.directions.includes('routed') && !m.directions.includes('client-to-broker'));

function frameOf(input: BrokerInput, id: string): Uint8Array {
  switch (input.op) {
    case 'ping':
      return encodeMessageFrame({ type: 'PING', header: { id } });
    case 'stats-absent':
      return encodeMessageFrame({ type: 'STATS_REQUEST', header: { id }, payload: { client_id: input.client } });
    case 'unroutable':
      return encodeMessageFrame({ type: input.info.name, header: { id, dst: input.dst }, payload: input.payload });
  }
}

function expectedOf(input: BrokerInput, id: string): Expected {
  const field = (f: string): string | undefined => (f === 'definite' ? 'ERR-2' : f === 're' ? 'ERR-3' : undefined);
  switch (input.op) {
    case 'ping':
      return { statement: 'HS-9', answer: { kind: 'message', type: 'PONG', encoding: 'json', re: id, payload: null } };
    case 'stats-absent':
      return { statement: 'SYS-2', answer: { kind: 'message', type: 'STATS_RESPONSE', encoding: 'json', re: id, payload: { clients: [] } } };
    case 'unroutable': {
      const answer: Answer = { kind: 'error', code: 'UNKNOWN_DESTINATION' satisfies ErrorName, definite: UNKNOWN_DESTINATION_DEFINITE, re: id, path: undefined, rule: undefined, param: undefined };
      // The spec names no details for UNKNOWN_DESTINATION (the reference broker gives path /header/dst).
      return { statement: input.dst === '*' ? 'REQ-19' : 'REQ-8', answer, fieldStatement: field, open: ['details.path', 'details.rule'] };
    }
  }
}

export function brokerKind(): DiffKind<BrokerInput> {
  const absent = fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/).map((s) => `diff-absent-${s}`);
  return {
    name: 'broker',
    inputs: () => fc.oneof(
      fc.constant<BrokerInput>({ op: 'ping' }),
      absent.map((client): BrokerInput => ({ op: 'stats-absent', client })),
      fc.record({ info: fc.constantFrom(...ROUTED), dst: fc.oneof(absent, fc.constant('*')) }).chain(({ info, dst }) => payloadArb(info).map((payload): BrokerInput => ({ op: 'unroutable', info, payload, dst }))),
    ),
    steps: (input, run) => {
      const id = `d${run}`;
      const note = input.op === 'ping' ? ('PING' satisfies MessageName) : input.op === 'stats-absent' ? `STATS_REQUEST for ${input.client}` : `${input.info.name} to dst ${JSON.stringify(input.dst)}`;
      return [{ frame: frameOf(input, id), id, note } satisfies Step];
    },
    oracle: (input, steps) => steps.map((s) => expectedOf(input, s.id)),
    upTo: (input) => input,
    free: [/^\/broker_id$/, /^\/uptime_ms$/],
    show: (input) => input.op === 'unroutable' ? `${input.info.name} with dst ${JSON.stringify(input.dst)}: ${JSON.stringify(payloadToFixture(input.info, input.payload), bigints)}` : input.op === 'ping' ? ('PING' satisfies MessageName) : `STATS_REQUEST {"client_id":${JSON.stringify(input.client)}}`,
  };
}
