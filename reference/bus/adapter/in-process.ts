/** The in-process bus under test: one InMemoryBus and a Coordinator on it. */
import { InMemoryBus } from '../bus.js';
import { Coordinator } from '../coordinator.js';
import type { BusFactory } from './session.js';

export interface InProcessOptions {
  /** Replaces the bus (the broken variants of the tests). */
  makeBus?: () => InMemoryBus;
  /** Base of the dispatch retry backoff; small so the suite runs fast (SVC-8 allows configuring it). */
  backoffBaseMs?: number;
}

export function inProcessFactory(o: InProcessOptions = {}): BusFactory {
  return async () => {
    const bus = o.makeBus?.() ?? new InMemoryBus();
    return { bus, members: [bus], coordinator: new Coordinator(bus, { backoffBaseMs: o.backoffBaseMs ?? 10 }), close: async () => undefined };
  };
}
