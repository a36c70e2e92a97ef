/** The probe of a bus adapter (section bus-adapter): its hello, for the report's peer metadata. */
import { ProcessDriver, ok } from './driver.js';
import type { Hello } from '../../reference/bus/adapter/protocol.js';

export async function probeBusAdapter(exec: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const d = new ProcessDriver(exec, timeoutMs);
  try {
    return { ...(await ok<Hello>(d, { op: 'hello' })) };
  } finally {
    await d.close();
  }
}
