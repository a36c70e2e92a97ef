/**
 * The unified engine as a broker service (spec section engine, ENG-9, ENG-10, ENG-11, ENG-12, ENG-13, ENG-14, ENG-15): a service registered
 * under a name (`unified-engine` by default; SERVICE_REGISTER, restored after a reconnect) that any
 * client in any language reaches with ordinary engine requests sent to that name (REQ-7 resolves a
 * service name after the client ids). Its own client id is the name and its process id. REASONING_REQUEST and BATCH_REASONING_REQ honour the `engine` hint; FEEDBACK,
 * STATE_UPDATE, PARAMETER_SYNC and MTL_COORDINATE go to every engine (a round disagreeing beyond the
 * threshold sends DISAGREEMENT_SIGNAL to the observers); ENGINE_STATUS_REQ gives metrics and status.
 */
import { ConcordClient } from '../../client/index.js';
import { PROTOCOL_VERSION } from '../../../spec/generated/catalog.js';
import type { NDArray } from '../../codec/ndarray.js';
import { EngineError } from '../errors.js';
import type { ReasonResult, StateAck } from '../engine.js';
import type { EngineBackend, EngineLanguage } from './backend.js';
import { LocalBackend } from './local.js';
import { RemoteBackend } from './remote.js';
import { UnifiedEngine, type DisagreementSignal, type EngineHint, type TeacherOutput, type UnifiedOptions, type UnifiedResult } from './unified.js';

/** The service name the unified engine registers unless told otherwise. */
export const UNIFIED_ENGINE_ID = 'unified-engine';

/** An engine already attached to the broker, by its client id and language. */
export interface AttachedEngine {
  id: string;
  language: EngineLanguage;
}

/** Where the service attaches, what it puts behind it, and how it picks. */
export interface UnifiedServiceOptions {
  host: string;
  port: number;
  /** The service name clients send to (default `unified-engine`). */
  clientId?: string;
  token?: string;
  /** Engines on the broker, in attach order. */
  engines: AttachedEngine[];
  /** Also the in-process TypeScript engine (first in attach order). */
  local?: boolean;
  /** Client ids sent a DISAGREEMENT_SIGNAL for every round whose disagreement exceeds `unified.disagreementThreshold`. */
  observers?: string[];
  unified?: UnifiedOptions;
}

/** A running service: its connection and the unified engine behind it. */
export interface UnifiedService {
  /** The service name it registered. */
  id: string;
  client: ConcordClient;
  unified: UnifiedEngine;
  /** Leaves the broker (SHUTDOWN with a short drain); the engines behind it keep running. */
  close(): Promise<void>;
}

/** `engine` entries of a BATCH/REASONING_REQUEST as a hint (absent means auto). */
const hintOf = (p: Record<string, unknown>): EngineHint => (p['engine'] as EngineHint | undefined) ?? 'auto';

/** A failed call as the ERROR the requester gets: the code, and each engine tried with its code (ENG-9). */
function refusal(r: UnifiedResult): EngineError {
  const e = r.error!;
  return new EngineError(e.code as never, e.message, { attempts: e.attempts.map((a) => ({ engine: a.engine, code: a.code })) }, e.retryable);
}

/** REASONING_RESPONSE payload of a unified result: the chosen engine's answer, plus `cached` and the redundant fields (1.1). */
export function responseOf(r: UnifiedResult): ReasonResult & Record<string, unknown> {
  if (!r.success || !r.result) throw refusal(r);
  return {
    ...r.result, cached: r.cached,
    ...(r.redundant ? { engine_results: r.redundant.results.map((x) => ({ engine: x.engine, confidence: x.confidence, spike_count: x.spike_count })), agreement: r.redundant.agreement } : {}),
  };
}

/** The ACK of a change applied everywhere: the first engine's state (ENG-14). */
function ackOf(x: { acks: Record<string, StateAck> }): StateAck {
  const first = Object.values(x.acks)[0];
  if (!first) throw new EngineError('SERVICE_UNHEALTHY', 'no engine is attached');
  return { state_digest: first.state_digest, state_version: first.state_version };
}

/** Attaches the unified engine to a broker and serves until closed; reconnects with backoff like an engine (ENG-16). */
export async function serveUnified(o: UnifiedServiceOptions): Promise<UnifiedService> {
  const client = await ConcordClient.connect({
    host: o.host, port: o.port, clientId: `${o.clientId ?? UNIFIED_ENGINE_ID}-${process.pid}`, role: 'engine', language: 'typescript', features: ['engine'],
    encodings: ['json', 'cbor'], reconnect: true, retries: 1_000_000, backoff: { initialMs: 50, maxMs: 1000 },
    ...(o.token !== undefined ? { token: o.token } : {}),
  });
  // A signal is a notification: a failed send (an observer gone) must not fail the round.
  const signal = (payload: DisagreementSignal): void => {
    for (const dst of o.observers ?? []) client.send('DISAGREEMENT_SIGNAL', payload, { dst }).catch(() => undefined);
  };
  const unified = new UnifiedEngine({ ...o.unified, connected: () => client.state === 'open', onDisagreement: signal });
  const backends: EngineBackend[] = [...(o.local ? [new LocalBackend('typescript')] : []), ...o.engines.map((e) => new RemoteBackend(client, e.id, e.language))];
  for (const b of backends) unified.attach(b);

  client.on('REASONING_REQUEST', (async (p: Record<string, unknown>) => responseOf(await unified.reason(p['encoding'] as NDArray, (p['context'] as string) ?? '', hintOf(p)))) as never);
  client.on('BATCH_REASONING_REQ', (async (p: Record<string, unknown>) => {
    const results = await unified.reasonBatch(p['items'] as { encoding: NDArray; context?: string }[], hintOf(p));
    return {
      results: results.map((r) => {
        if (r.success) return { ok: true, result: responseOf(r) };
        return { ok: false, error: { code: r.error!.code, message: r.error!.message } };
      }),
    };
  }) as never);
  client.on('FEEDBACK', (async (p: Record<string, unknown>) => ackOf(await unified.feedback(p['encoding'] as NDArray, p['reward'] as number, p['learning_rate'] as number | undefined))) as never);
  client.on('PARAMETER_SYNC', (async (p: Record<string, unknown>) => ackOf(await unified.parameterSync(p['parameters'] as Record<string, number>))) as never);
  client.on('STATE_UPDATE', (async (p: Record<string, unknown>) => ackOf(await unified.stateUpdate(p['layer'] as number, p['weights'] as NDArray, BigInt(p['state_version'] as string | bigint)))) as never);
  client.on('MTL_COORDINATE', (async (p: Record<string, unknown>) => {
    const id = p['coordination_id'] as string;
    const outputs = (p['teacher_outputs'] as TeacherOutput[]).map((t) => ({ teacher_id: t.teacher_id, confidence: t.confidence, spike_count: t.spike_count }));
    const r = await unified.coordinate(id, outputs, p['encoding'] as NDArray | undefined);
    return { coordination_id: id, teacher_count: outputs.length, disagreement: r.disagreement, learning_rates: r.learning_rates, state_version: r.state_version, state_digest: r.state_digest };
  }) as never);
  // A JSON round trip drops the status entries that are undefined (no digest learned yet).
  client.on('ENGINE_STATUS_REQ', (() => ({ metrics: unified.getMetrics(), status: JSON.parse(JSON.stringify(unified.getStatus())) as unknown })) as never);
  // Registered once the handlers are in place, so that no request reaches it before it can answer.
  await client.request('SERVICE_REGISTER', { service: { name: o.clientId ?? UNIFIED_ENGINE_ID, service_type: 'unified-engine', version: PROTOCOL_VERSION, capabilities: ['engine'] } });
  return { id: o.clientId ?? UNIFIED_ENGINE_ID, client, unified, close: () => client.close({ reason: 'unified engine stopping', drainMs: 1000 }) };
}
