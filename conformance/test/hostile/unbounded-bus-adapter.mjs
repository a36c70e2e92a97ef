#!/usr/bin/env node
/**
 * A bus adapter whose coordinator ignores max_concurrent (SVC-4, the seed's coordinator): it accepts
 * the second dispatch of coordinator-semantics/dispatch-check-order instead of refusing it, leaving
 * that case's first dispatch unanswered, whose reply timer then fires with nobody waiting. Built on
 * the reference bus in dist/ (plain node: starts fast).
 */
const dist = new URL('../../../dist/reference/bus/', import.meta.url);
const { AdapterSession } = await import(new URL('adapter/session.js', dist).href);
const { runBusAdapter } = await import(new URL('adapter/stdio.js', dist).href);
const { InMemoryBus, Coordinator } = await import(new URL('index.js', dist).href);

class UnboundedCoordinator extends Coordinator {
  registerService(d, h) {
    return super.registerService({ ...d, max_concurrent: 0 }, h);
  }
}

const session = new AdapterSession(async () => {
  const bus = new InMemoryBus();
  return { bus, members: [bus], coordinator: new UnboundedCoordinator(bus, { backoffBaseMs: 1 }), close: async () => undefined };
}, { name: 'unbounded', language: 'typescript', version: '0', features: ['same-turn', 'handler-check'] });
void runBusAdapter(session, process.stdin, process.stdout).then((code) => {
  process.exitCode = code;
});
