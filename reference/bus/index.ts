/**
 * The command bus and coordinator of seed 002, in process (section bus-semantics).
 * @packageDocumentation
 * @module bus
 */
export { InMemoryBus, DEFAULT_QUERY_TIMEOUT_MS, withTimeout, type InMemoryBusOptions } from './bus.js';
export { BusError, asBusError } from './errors.js';
export { CircuitBreaker, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
export { runPipeline, abortedError, type Outcome } from './pipeline.js';
export * from './coordinator.js';
export type * from './types.js';
