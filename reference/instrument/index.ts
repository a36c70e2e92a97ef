/**
 * The reference instrument worker (spec sections 9.8 and 17): a deterministic hardware mock (scope,
 * PIDs, signal generators, iq demodulators, sampler) and the session that serves it over the wire.
 * `concord instrument` runs it on stdio, on a TCP port or as a client of a broker.
 *
 * @example
 * ```ts
 * import { InstrumentModel } from 'concord/instrument';
 * const model = new InstrumentModel(7);
 * const outcome = model.execute('ping', {});
 * ```
 * @packageDocumentation
 * @module instrument
 */
export { InstrumentModel, type Outcome, type Trace, type PidState, type IqState } from './model.js';
export type { Asgs, AsgState } from './signal.js';
export { WorkerSession, EXIT_CODE, type SessionOptions, type Faults, type EndReason } from './session.js';
export { CommandError, instrumentSpec, type CommandErrorCode, type InstrumentSpec, type CommandSpec, type ParamSpec, type DataKind } from './spec.js';
export { checkParams, roundToStep, type Params } from './params.js';
export { Rng } from './rng.js';
export { runInstrumentCommand } from './command.js';
