/**
 * --faults without a peer: the spec parser, the seeded schedules (deterministic, recorded, replayable
 * from the record), the writer that applies them, and the shrinker. The seed of the drawn properties
 * is printed (CONCORD_SEED replays it).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Writable } from 'node:stream';
import { parseFaultSpec, FaultSpecError } from '../faults/profile.js';
import { drawFaults, faultsFromSchedule, EVERY_BOUNDARY_BELOW, WRITE_BUDGET_MS, READ_BUDGET_MS, MAX_PERTURBED_WRITES, type CaseFaults, type FaultSchedule } from '../faults/schedule.js';
import { FaultyWriter } from '../faults/writer.js';
import { shrinkSchedule } from '../faults/shrink.js';
import { propertySeed } from '../../reference/properties/seed.js';

/** A stream that keeps each write as it came, and whether it was ended. */
class Recorder extends Writable {
  readonly writes: Buffer[] = [];
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    this.writes.push(Buffer.from(chunk));
    done();
  }
}

function frames(count: number, sizeOf: (i: number) => number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(sizeOf(i), i % 256));
}

/** Sends `sent` through connection 0 of `faults`, one send per tick, and waits for the output to end. */
async function pushThrough(faults: CaseFaults, sent: Buffer[]): Promise<Recorder> {
  const out = new Recorder();
  const writer = new FaultyWriter(out, faults.forConnection(0, 'test'), () => undefined);
  for (const f of sent) {
    writer.write(f);
    await new Promise((r) => setImmediate(r));
  }
  writer.end();
  await new Promise((r) => out.once('finish', r));
  return out;
}

describe('--faults SEED[:PROFILE]', () => {
  it('takes a uint32 seed and a known profile, all by default', () => {
    expect(parseFaultSpec('7')).toEqual({ seed: 7, profile: 'all' });
    expect(parseFaultSpec('4294967295:split')).toEqual({ seed: 4294967295, profile: 'split' });
    expect(parseFaultSpec('0:slow')).toEqual({ seed: 0, profile: 'slow' });
    for (const bad of ['', 'x', '-1', '4294967296', '7:chaos', '7:', '1.5']) expect(() => parseFaultSpec(bad), bad).toThrow(FaultSpecError);
  });
});

describe('fault schedules', () => {
  it('draw the same faults for the same seed and case, other faults for another seed', () => {
    const draw = (seed: number, caseId: string): FaultSchedule => {
      const f = drawFaults({ seed, profile: 'all' }, caseId);
      const c = f.forConnection(0, 'a');
      for (let w = 0; w < 200; w++) {
        const n = c.coalesce(w);
        c.chunks(w, n, 10 + (w % 90));
        c.readPause(w);
      }
      return f.schedule();
    };
    expect(draw(7, 'x/y')).toEqual(draw(7, 'x/y'));
    expect(draw(7, 'x/y')).not.toEqual(draw(8, 'x/y'));
    expect(draw(7, 'x/y')).not.toEqual(draw(7, 'x/z'));
    const kinds = new Set(draw(7, 'x/y').connections[0]!.steps.map((s) => s.kind));
    expect([...kinds].sort()).toEqual(['coalesce', 'delay', 'slow-reader', 'split']);
  });

  it('draw mid-frame cuts only under profiles with cut, inside the frame, recorded and replayed from the record', () => {
    const seed = propertySeed();
    fc.assert(fc.property(fc.nat(0xffffffff), fc.constantFrom('split', 'slow', 'cut', 'all'), fc.integer({ min: 2, max: 300 }), (s, profile, length) => {
      const f = drawFaults({ seed: s, profile }, 'c/d');
      const drawn = Array.from({ length: 8 }, (_, i) => f.forConnection(i, `c${i}`).cut(length));
      if (profile === 'split' || profile === 'slow') expect(drawn.every((b) => b === 0)).toBe(true);
      expect(drawn.every((b) => b >= 0 && b < length)).toBe(true);
      const schedule = f.schedule();
      const steps = schedule.connections.flatMap((c) => c.steps);
      expect(steps.length).toBe(drawn.filter((b) => b > 0).length);
      const again = faultsFromSchedule(schedule);
      expect(Array.from({ length: 8 }, (_, i) => again.forConnection(i, `c${i}`).cut(length))).toEqual(drawn);
    }), { seed, numRuns: 200 });
    // One session in CUT_ONE_IN: across many connections, some are cut.
    const many = drawFaults({ seed: 7, profile: 'cut' }, 'e/f');
    expect(Array.from({ length: 64 }, (_, i) => many.forConnection(i, 'x').cut(14)).filter((b) => b > 0).length).toBeGreaterThan(0);
  });

  it('shrink a cut to one byte while the case still fails', async () => {
    const failing: FaultSchedule = { seed: 1, profile: 'cut', connections: [{ connection: 0, label: 'a', steps: [{ kind: 'cut', bytes: 9, of: 14 }] }] };
    const r = await shrinkSchedule(failing, async (s) => s.connections[0]!.steps.some((x) => x.kind === 'cut'));
    expect(r.failsWithoutFaults).toBe(false);
    expect(r.schedule.connections[0]!.steps).toEqual([{ kind: 'cut', bytes: 1, of: 14 }]);
  });

  it('cut at every boundary only frames under 64 bytes, and keep pauses within the budgets', () => {
    const seed = propertySeed();
    fc.assert(fc.property(fc.nat(0xffffffff), fc.constantFrom('split', 'slow', 'all'), fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 300 }), (s, profile, lengths) => {
      const f = drawFaults({ seed: s, profile }, 'p/q');
      const c = f.forConnection(0, 'a');
      let pauses = 0;
      let reads = 0;
      lengths.forEach((length, w) => {
        const { cuts, delays } = c.chunks(w, 1, length);
        if (length >= EVERY_BOUNDARY_BELOW) expect(cuts.length).toBeLessThanOrEqual(3);
        expect(cuts.every((x, i) => x > 0 && x < length && (i === 0 || x > cuts[i - 1]!))).toBe(true);
        if (profile === 'slow') expect(cuts).toEqual([]);
        pauses += delays.reduce((a, b) => a + b, 0);
        reads += c.readPause(w);
      });
      expect(pauses).toBeLessThanOrEqual(WRITE_BUDGET_MS);
      expect(new Set(f.schedule().connections[0]!.steps.filter((x) => x.kind !== 'slow-reader').map((x) => (x as { write: number }).write)).size).toBeLessThanOrEqual(MAX_PERTURBED_WRITES);
      expect(reads).toBeLessThanOrEqual(READ_BUDGET_MS);
    }), { seed, numRuns: 200 });
  });

  it('are applied in order: the peer gets the same bytes, cut and coalesced where the schedule says', async () => {
    const sent = frames(40, (i) => 8 + ((i * 37) % 120));
    const drawn = drawFaults({ seed: 11, profile: 'all' }, 'w/x');
    const out = await pushThrough(drawn, sent);
    expect(Buffer.concat(out.writes)).toEqual(Buffer.concat(sent));
    const schedule = drawn.schedule();
    const steps = schedule.connections[0]!.steps;
    expect(steps.some((s) => s.kind === 'split')).toBe(true);
    // Every write boundary the peer sees is a frame boundary or a recorded cut.
    const starts = new Map<number, number>();
    let at = 0;
    sent.forEach((f, i) => { starts.set(i, at); at += f.length; });
    const allowed = new Set([...starts.values(), ...steps.flatMap((s) => (s.kind === 'split' ? s.cuts.map((c) => starts.get(s.write)! + c) : []))]);
    let offset = 0;
    for (const w of out.writes) {
      expect(allowed.has(offset), `a write starts at byte ${offset}`).toBe(true);
      offset += w.length;
    }
    expect(out.writes.length).toBeGreaterThan(sent.length - steps.filter((s) => s.kind === 'coalesce').length * 2);
  });

  it('replay from the record: faultsFromSchedule gives the peer the same writes', async () => {
    const sent = frames(30, (i) => 5 + ((i * 53) % 200));
    const drawn = drawFaults({ seed: 3, profile: 'split' }, 'r/s');
    const first = await pushThrough(drawn, sent);
    const recorded = JSON.parse(JSON.stringify(drawn.schedule())) as FaultSchedule;
    const again = await pushThrough(faultsFromSchedule(recorded), sent);
    expect(again.writes.map((w) => w.length)).toEqual(first.writes.map((w) => w.length));
    // An empty schedule leaves every frame whole, one write each.
    const none = await pushThrough(faultsFromSchedule({ ...recorded, connections: [] }), sent);
    expect(none.writes.map((w) => w.length)).toEqual(sent.map((f) => f.length));
  });

  it('say when every byte sent so far has been written (idle)', async () => {
    const out = new Recorder();
    const faults = faultsFromSchedule({ seed: 1, profile: 'all', connections: [{ connection: 0, label: 'a', steps: [{ kind: 'split', write: 0, cuts: [1, 2] }, { kind: 'delay', write: 0, ms: [5, 5, 5] }] }] });
    const writer = new FaultyWriter(out, faults.forConnection(0, 'a'), () => undefined);
    writer.write(Buffer.from('abcd'));
    expect(out.writes).toEqual([]);
    await writer.idle();
    expect(out.writes.map((w) => w.toString())).toEqual(['a', 'b', 'cd']);
  });

  it('write what is held back at once when the connection closes', () => {
    const out = new Recorder();
    const faults = faultsFromSchedule({ seed: 1, profile: 'all', connections: [{ connection: 0, label: 'a', steps: [{ kind: 'coalesce', write: 0, count: 3 }, { kind: 'delay', write: 0, ms: [30] }] }] });
    const writer = new FaultyWriter(out, faults.forConnection(0, 'a'), () => undefined);
    writer.write(Buffer.from('ab'));
    writer.write(Buffer.from('cd'));
    expect(out.writes).toEqual([]);
    writer.flushNow();
    writer.write(Buffer.from('ef'));
    expect(Buffer.concat(out.writes).toString()).toBe('abcdef');
  });
});

describe('shrinking a schedule', () => {
  const schedule: FaultSchedule = { seed: 5, profile: 'all', connections: [
    { connection: 0, label: 'a', steps: [
      { kind: 'split', write: 0, cuts: [1, 2, 3] }, { kind: 'delay', write: 0, ms: [0, 4, 0, 2] }, { kind: 'coalesce', write: 1, count: 3 },
      { kind: 'slow-reader', read: 2, ms: 40 }, { kind: 'split', write: 4, cuts: [2, 9, 30] }, { kind: 'delay', write: 4, ms: [3, 0, 0, 0] },
    ] },
    { connection: 1, label: 'b', steps: [{ kind: 'split', write: 0, cuts: [1] }, { kind: 'slow-reader', read: 0, ms: 12 }] },
  ] };

  it('finds the one step a failure needs, in its simplest form', async () => {
    // The "peer" fails whenever the write starting with send 4 of connection 0 is cut.
    const fails = async (s: FaultSchedule): Promise<boolean> => s.connections[0]!.steps.some((x) => x.kind === 'split' && x.write === 4);
    const r = await shrinkSchedule(schedule, fails);
    expect(r.failsWithoutFaults).toBe(false);
    expect(r.schedule.connections.flatMap((c) => c.steps)).toEqual([{ kind: 'split', write: 4, cuts: [2] }]);
  });

  it('keeps two steps that fail only together', async () => {
    const fails = async (s: FaultSchedule): Promise<boolean> => s.connections[0]!.steps.some((x) => x.kind === 'coalesce') && s.connections[1]!.steps.some((x) => x.kind === 'slow-reader');
    const r = await shrinkSchedule(schedule, fails);
    expect(r.schedule.connections.map((c) => c.steps)).toEqual([[{ kind: 'coalesce', write: 1, count: 2 }], [{ kind: 'slow-reader', read: 0, ms: 5 }]]);
  });

  it('says when the case fails with no fault at all, and stays within its runs', async () => {
    expect(await shrinkSchedule(schedule, async () => true)).toMatchObject({ failsWithoutFaults: true, runs: 1 });
    let runs = 0;
    const r = await shrinkSchedule(schedule, async (s) => { runs++; return s.connections.some((c) => c.steps.length > 0) && runs % 2 === 0; }, 6);
    expect(r.runs).toBe(6);
    expect(runs).toBe(6);
  });
});
