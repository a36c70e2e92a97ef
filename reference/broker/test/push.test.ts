import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../codec/index.js';
import { useHarness } from './fixture.js';

// The broker's API to send to one client and to broadcast (the seed's send_to_client and broadcast).
const h = useHarness();
const signal = { coordination_id: 'round-1', disagreement_score: 0.5, threshold: 0.25, teacher_ids: ['t1', 't2'] };

describe('broker pushes', () => {
  it('sends a notification to one client, and broadcasts one to every client', async () => {
    const { broker, address } = await h.broker();
    const a = await h.client(address, 'push-a');
    const b = await h.client(address, 'push-b');

    expect(broker.sendToClient('push-b', 'DISAGREEMENT_SIGNAL', signal)).toBe(true);
    expect(broker.sendToClient('nobody', 'DISAGREEMENT_SIGNAL', signal)).toBe(false);
    const toB = await b.next();
    expect(toB).toMatchObject({ name: 'DISAGREEMENT_SIGNAL', payload: signal });

    expect(broker.broadcast('DISAGREEMENT_SIGNAL', { ...signal, coordination_id: 'round-2' })).toBe(2);
    for (const c of [a, b]) expect(await c.next()).toMatchObject({ name: 'DISAGREEMENT_SIGNAL', payload: { coordination_id: 'round-2' } });
  });

  it('refuses a type a broker does not push, and a payload that breaks the schema', async () => {
    const { broker, address } = await h.broker();
    await h.client(address, 'push-c');
    expect(() => broker.broadcast('FEEDBACK' as never, {} as never)).toThrow(TypeError);
    expect(() => broker.sendToClient('push-c', 'DISAGREEMENT_SIGNAL', { coordination_id: 'x' } as never)).toThrow(ProtocolError);
  });
});
