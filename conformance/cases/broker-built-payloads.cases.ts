/**
 * Payloads a broker builds around a peer's value (protocol.md, after LIM-18): a BUS_QUERY_RESULT around
 * a handler's result must still fit the asker's max_frame, or the asker gets OVERLOADED (REQ-11); a
 * HANDLER_FAILED around a handler's ERROR must stay within max_payload_depth, its too-deep `details.error`
 * left out (LIM-15). Both written for mutants of reference/broker/frames.ts that no case reached (issue 16).
 */
import { DEFAULT_LIMITS } from '../../reference/codec/index.js';
import { MIN_LIMITS, type ErrorName } from '../../spec/generated/catalog.js';
import { defineCase, CaseFailure, type Case } from './model.js';
import type { CaseContext, Session } from './context.js';
import { errorOf, requestOrSkip, session } from './runtime-helpers.js';

/** A handler of a fresh query type (skipped where the broker has no command bus) and an asker announcing `askerMaxFrame`. */
async function handlerAndAsker(ctx: CaseContext, askerMaxFrame?: number): Promise<{ handler: Session; asker: Session; tag: string }> {
  const handler = await session(ctx, 'handler');
  const tag = ctx.uniqueId('built');
  const m = await requestOrSkip(ctx, handler, 'BUS_REGISTER_HANDLER', { message_type: tag, category: 'query' }, 'the command bus');
  if (m.name === 'ERROR') throw new CaseFailure('BUS_REGISTER_HANDLER was refused', 'its response', `ERROR ${errorOf(m).code}`);
  const asker = await session(ctx, 'asker', askerMaxFrame === undefined ? {} : { max_frame: askerMaxFrame });
  return { handler, asker, tag };
}

/** Sends a BUS_QUERY from the asker and returns the id the broker gave it at the handler. */
async function queryAtHandler(ctx: CaseContext, handler: Session, asker: Session, tag: string, id: string): Promise<string> {
  asker.conn.send({ type: 'BUS_QUERY', header: { id }, payload: { message_type: tag, payload: 1 } });
  const forwarded = await ctx.expectMessage(handler.conn, `BUS_QUERY ${id} at its handler`, (m) => m.name === 'BUS_QUERY');
  return forwarded.header.id;
}

export const brokerBuiltPayloadCases: Case[] = [
  // A broker that wraps the handler's result without checking the asker's max_frame sends it a frame
  // larger than it announced.
  defineCase({
    id: 'requests/built-result-past-asker-max-frame-overloaded',
    statements: ['REQ-11', 'LIM-2'],
    async run(ctx) {
      const small = MIN_LIMITS.max_frame;
      const { handler, asker, tag } = await handlerAndAsker(ctx, small);
      const re = await queryAtHandler(ctx, handler, asker, tag, 'big-q');
      // The result alone exceeds the asker's max_frame; the handler's own frame is far below the broker's.
      handler.conn.send({ type: 'BUS_QUERY_RESULT', header: { id: 'big-result', re }, payload: { result: 'r'.repeat(small + 1) } });
      const m = await ctx.expectError(asker.conn, 'OVERLOADED', { re: 'big-q', closes: false });
      const limit = errorOf(m).details?.['limit'];
      if (limit !== small) throw new CaseFailure(`OVERLOADED names details.limit ${JSON.stringify(limit)}; the asker announced max_frame ${small}`, String(small), JSON.stringify(limit));
    },
  }),
  // The broker's own request (a forwarded BUS_QUERY, not a routed frame) larger than its target's
  // max_frame: the asker is answered with an ERROR and nothing above that max_frame reaches the handler.
  defineCase({
    id: 'limits/broker-request-within-target-max-frame',
    statements: ['LIM-2', 'FRM-4'],
    async run(ctx) {
      const small = MIN_LIMITS.max_frame;
      const handler = await session(ctx, 'handler', { max_frame: small });
      const tag = ctx.uniqueId('big');
      const m = await requestOrSkip(ctx, handler, 'BUS_REGISTER_HANDLER', { message_type: tag, category: 'query' }, 'the command bus');
      if (m.name === 'ERROR') throw new CaseFailure('BUS_REGISTER_HANDLER was refused', 'its response', `ERROR ${errorOf(m).code}`);
      const asker = await session(ctx, 'asker');
      asker.conn.send({ type: 'BUS_QUERY', header: { id: 'too-big-q' }, payload: { message_type: tag, payload: 'q'.repeat(small + 1) } });
      const answer = await ctx.expectMessage(asker.conn, `an ERROR answering a BUS_QUERY whose forwarded frame would exceed its handler's max_frame of ${small} (FRM-4, LIM-2)`, (x) => x.header.re === 'too-big-q');
      if (answer.name !== 'ERROR') throw new CaseFailure('a BUS_QUERY larger than its handler\'s max_frame was answered as if forwarded', 'ERROR', answer.name);
      await ctx.expectOpen(handler.conn, `nothing above the handler's max_frame of ${small} at the handler (FRM-4): the next frame is the PONG`);
    },
  }),
  // A broker that copies a handler's ERROR into details.error unchecked sends the asker a payload two
  // levels deeper than the handler's, past max_payload_depth, which the asker must refuse (past-limit);
  // one that cuts at the wrong depth drops a details.error that fits (at-limit, BUS-11: unchanged).
  ...(['at-limit', 'past-limit'] as const).map((depth) =>
    defineCase({
      id: `limits/handler-error-depth/depth:${depth}`,
      statements: ['LIM-15', 'BUS-11'],
      async run(ctx) {
        const { handler, asker, tag } = await handlerAndAsker(ctx);
        const re = await queryAtHandler(ctx, handler, asker, tag, 'deep-q');
        // Levels: the HANDLER_FAILED payload (1), details (2), error (3) = the handler's payload, its details (4),
        // then the arrays; at-limit ends exactly at max_payload_depth, past-limit two levels beyond.
        const arrays = DEFAULT_LIMITS.max_payload_depth - (depth === 'at-limit' ? 4 : 2);
        const deep: unknown = JSON.parse(`${'['.repeat(arrays)}${']'.repeat(arrays)}`);
        const sent = { code: 'INTERNAL' satisfies ErrorName, message: 'deep details', definite: true, details: { deep } };
        handler.conn.send({ type: 'ERROR', header: { id: 'deep-error', re }, payload: sent });
        const m = await ctx.expectError(asker.conn, 'HANDLER_FAILED', { re: 'deep-q', closes: false });
        const error = errorOf(m).details?.['error'];
        if (depth === 'past-limit' && error !== undefined) throw new CaseFailure('HANDLER_FAILED carried the too-deep details.error', 'details.error left out', 'details.error present');
        if (depth === 'at-limit' && JSON.stringify(error) !== JSON.stringify(sent)) {
          throw new CaseFailure('HANDLER_FAILED did not carry the handler\'s ERROR payload, which fits max_payload_depth, unchanged', JSON.stringify(sent).slice(0, 80), String(JSON.stringify(error)).slice(0, 80));
        }
      },
    })),
];
