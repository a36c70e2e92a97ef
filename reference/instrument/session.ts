/**
 * One connection of the worker: the handshake (as the client on stdio and through a broker, as the
 * broker when it listens on a port), the `ready` event, commands answered one by one in the order
 * received (INS-2), `final` before the end (INS-1, INS-13) and fault injection (INS-21). Answers
 * written while one input chunk is handled go out in one write.
 */
import {
  DEFAULT_LIMITS,
  FrameDecoder,
  PROTOCOL_VERSION,
  ProtocolError,
  decodeMessage,
  encodeMessageFrame,
  messageByName,
  reachesClient,
  negotiatedVersion,
  type Encoding,
  type Message,
  type OutgoingMessage,
} from '../codec/index.js';
import type { InstrumentCommandPayload } from '../../spec/generated/types.js';
import type { InstrumentModel, Outcome } from './model.js';
import type { Rng } from './rng.js';
import { CommandError } from './spec.js';

/** Fault injection settings and the worker-wide command count they act on. */
export interface Faults {
  delayMs: number;
  errorRate: number;
  /** Close the connection instead of answering this command (1-based); 0 = never. */
  dropAfter: number;
  rng: Rng;
  count: number;
}

/** Why a session ended, and the exit code it implies (spec section 17). */
export type EndReason = 'shutdown' | 'input-closed' | 'parent-died' | 'refused' | 'fault' | 'dropped';
/** The exit code of the worker process for each way a session ends. */
export const EXIT_CODE: Record<EndReason, number> = { shutdown: 0, 'input-closed': 0, 'parent-died': 0, refused: 69, fault: 65, dropped: 75 };

/** What a {@link WorkerSession} serves, and how it writes and ends its connection. */
export interface SessionOptions {
  /** `client`: send INIT (stdio, broker); `broker`: await the peer's INIT (listening on a port). */
  role: 'client' | 'broker';
  worker: string;
  model: InstrumentModel;
  faults: Faults;
  /** `dst` of events (through a broker); none on stdio and on a port. */
  eventsDst?: string;
  /** Writes bytes to the peer. */
  write(bytes: Uint8Array): void;
  /** Closes the output after what was written. */
  end(): void;
  /** Drops the connection at once. */
  destroy(): void;
  /** Called once when the session has ended, with why. */
  onEnd(reason: EndReason): void;
}

type Item = { kind: 'command'; m: Message } | { kind: 'system-shutdown'; m: Message };

/** One connection of the instrument worker: handshake, commands answered one by one in order, faults injected as configured, shutdown. */
export class WorkerSession {
  private readonly decoder = new FrameDecoder({ maxFrame: DEFAULT_LIMITS.max_frame });
  private state: 'handshake' | 'open' | 'ended' = 'handshake';
  private encodings: Encoding[] = ['json'];
  private readonly queue: Item[] = [];
  private busy = false;
  /** After `shutdown` (or SHUTDOWN): later commands get SHUTTING_DOWN. */
  private stopping: EndReason | undefined;
  private inputClosed = false;
  private out: Uint8Array[] = [];
  private batching = false;
  private ids = 0;
  private answered = 0;

  constructor(private readonly o: SessionOptions) {
    if (o.role === 'client') {
      this.send({ type: 'INIT', header: { id: 'worker-init' }, payload: {
        client_id: o.worker, language: 'typescript', role: 'worker', protocol_version: PROTOCOL_VERSION, encodings: ['json', 'cbor'],
        max_frame: DEFAULT_LIMITS.max_frame, name: 'concord-instrument-mock', version: PROTOCOL_VERSION, features: ['cbor'],
      } });
    }
  }

  /** Bytes from the peer. */
  push(chunk: Uint8Array): void {
    if (this.state === 'ended') return;
    this.batching = true;
    try {
      let bodies: Uint8Array[];
      try {
        bodies = this.decoder.push(chunk);
      } catch (e) {
        for (const body of (e as ProtocolError).framesBefore ?? []) this.onBody(body);
        if (!this.busy && !this.ended) this.pump(); // the frames before the fault are answered first
        this.refuse(e);
        return;
      }
      for (const body of bodies) if (!this.ended) this.onBody(body);
    } finally {
      this.batching = false;
      // The commands of one read are all queued before any is answered, so that those behind a
      // `shutdown` were read and get SHUTTING_DOWN (INS-13) instead of being dropped by the end.
      if (!this.busy && !this.ended) this.pump();
      this.flush();
    }
  }

  /** The command input closed: answer what was read, then end (INS-10). */
  inputEnded(): void {
    this.inputClosed = true;
    if (!this.busy && this.queue.length === 0) this.finish('input-closed');
  }

  /** The parent died (INS-16): end now. */
  parentDied(): void {
    this.finish('parent-died');
  }

  private get ended(): boolean {
    return this.state === 'ended';
  }

  private nextId(): string {
    return `w${++this.ids}`;
  }

  private send(m: OutgoingMessage): void {
    this.out.push(encodeMessageFrame(m));
    if (!this.batching) this.flush();
  }

  private flush(): void {
    if (this.out.length === 0 || this.state === 'ended') return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
    this.out = [];
    this.o.write(bytes);
  }

  private event(event: 'ready' | 'final' | 'fault', extra: Record<string, unknown> = {}): void {
    const header = this.o.eventsDst !== undefined ? { id: this.nextId(), dst: this.o.eventsDst } : { id: this.nextId() };
    this.send({ type: 'INSTRUMENT_EVENT', header, payload: { event, worker: this.o.worker, mock: true, ...extra } });
  }

  private refuse(e: unknown): void {
    const error = e instanceof ProtocolError ? e : new ProtocolError('INTERNAL', String(e));
    const header = error.frameId !== undefined ? { id: this.nextId(), re: error.frameId } : { id: this.nextId() };
    this.send({ type: 'ERROR', header, payload: error.toPayload() });
    if (error.closes || this.state === 'handshake') this.finish(this.state === 'handshake' && this.o.role === 'client' ? 'refused' : 'fault');
  }

  private onBody(body: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(body, { encodings: this.encodings });
    } catch (e) {
      if (body[0] === 0xff) return; // a faulty ERROR is never answered (ERR-6)
      this.refuse(e);
      return;
    }
    if (this.state === 'handshake') return this.handshake(m);
    switch (m.name) {
      case 'INSTRUMENT_COMMAND': return this.enqueue({ kind: 'command', m });
      case 'PING': return this.send({ type: 'PONG', header: { id: this.nextId(), re: m.header.id } });
      case 'SHUTDOWN': return this.enqueue({ kind: 'system-shutdown', m });
      case 'ERROR': return; // never answered
      default: {
        const info = messageByName(m.name);
        if (!reachesClient(info)) {
          return this.refuse(Object.assign(new ProtocolError('UNEXPECTED_MESSAGE', `${m.name} never travels from a broker to a client`, { statement: 'REQ-6' }), { frameId: m.header.id }));
        }
        if (m.name === 'INIT' || m.name === 'INIT_ACK' || info.kind === 'response') {
          return this.refuse(Object.assign(new ProtocolError('UNEXPECTED_MESSAGE', `${m.name} is not expected here`, { statement: 'REQ-5' }), { frameId: m.header.id }));
        }
        if (info.kind === 'request') return this.refuse(Object.assign(new ProtocolError('UNSUPPORTED', `the worker does not implement ${m.name}`, { statement: 'ERR-8' }), { frameId: m.header.id }));
      }
    }
  }

  private handshake(m: Message): void {
    if (this.o.role === 'client') {
      if (m.name === 'INIT_ACK') {
        const ack = m.payload as { encoding: Encoding };
        this.encodings = ack.encoding === 'cbor' ? ['json', 'cbor'] : ['json'];
        this.state = 'open';
        const f = this.o.faults;
        const injected = [f.delayMs ? `delay ${f.delayMs} ms` : '', f.errorRate ? `error rate ${f.errorRate}` : '', f.dropAfter ? `drop after ${f.dropAfter} commands` : ''].filter(Boolean);
        this.event('ready', { detail: injected.length ? `fault injection: ${injected.join(', ')}` : `seed ${this.o.model.seed}` });
      } else if (m.name === 'ERROR') {
        this.finish('refused');
      }
      return;
    }
    if (m.name !== 'INIT') {
      this.refuse(Object.assign(new ProtocolError('PROTOCOL_VIOLATION', `the first frame must be INIT, not ${m.name}`, { statement: 'HS-2' }), { frameId: m.header.id }));
      return;
    }
    const init = m.payload as { client_id: string; encodings: Encoding[]; protocol_version: string };
    if (init.protocol_version.split('.')[0] !== PROTOCOL_VERSION.split('.')[0]) {
      this.refuse(Object.assign(new ProtocolError('VERSION_MISMATCH', `this worker speaks ${PROTOCOL_VERSION}`, { statement: 'VER-1' }), { frameId: m.header.id }));
      return;
    }
    const encoding = init.encodings.find((e) => e === 'json' || e === 'cbor') ?? 'json';
    this.encodings = init.encodings.includes('cbor') ? ['json', 'cbor'] : ['json'];
    this.send({ type: 'INIT_ACK', header: { id: this.nextId(), re: m.header.id }, payload: {
      broker_id: this.o.worker, client_id: init.client_id, protocol_version: negotiatedVersion(init.protocol_version), encoding, // VER-2
      max_frame: DEFAULT_LIMITS.max_frame, max_in_flight: DEFAULT_LIMITS.max_in_flight, heartbeat_ms: DEFAULT_LIMITS.heartbeat_ms,
    } });
    this.state = 'open';
    this.event('ready', { detail: `seed ${this.o.model.seed}` });
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    if (!this.busy && !this.batching) this.pump();
  }

  /** Answers queued items in order; a delayed answer holds back every later one. */
  private pump(): void {
    while (this.queue.length > 0 && this.state !== 'ended') {
      const item = this.queue.shift()!;
      if (item.kind === 'system-shutdown') {
        this.event('final', { exit_code: 0 });
        this.send({ type: 'SHUTDOWN_ACK', header: { id: this.nextId(), re: item.m.header.id }, payload: { drained: this.answered, timed_out: 0 } });
        this.finish('shutdown', false);
        return;
      }
      const m = item.m;
      const command = (m.payload as InstrumentCommandPayload).command;
      if (this.stopping) {
        this.answer(m, { kind: 'error', error: new CommandError('SHUTTING_DOWN', 'the worker is shutting down', { statement: 'INS-13' }) });
        continue;
      }
      const f = this.o.faults;
      f.count++;
      if (f.dropAfter > 0 && f.count === f.dropAfter) {
        this.finish('dropped', false, true);
        return;
      }
      let outcome: Outcome;
      if (f.errorRate > 0 && command !== 'ping' && command !== 'shutdown' && f.rng.next() < f.errorRate) {
        outcome = { kind: 'error', error: new CommandError('HARDWARE_ERROR', `injected hardware fault on ${command}`, { statement: 'INS-8' }) };
      } else {
        outcome = this.o.model.execute(command, (m.payload as InstrumentCommandPayload).params);
      }
      const wait = f.delayMs + (outcome.kind === 'error' ? outcome.afterMs ?? 0 : 0);
      if (wait > 0) {
        this.busy = true;
        setTimeout(() => {
          this.busy = false;
          if (this.state === 'ended') return;
          this.answer(m, outcome);
          this.pump();
          this.flush();
        }, wait);
        return;
      }
      this.answer(m, outcome);
    }
    if (this.state === 'ended') return;
    if (this.stopping) {
      this.event('final', { exit_code: 0 });
      this.finish(this.stopping, false);
    } else if (this.inputClosed && !this.busy) {
      this.finish('input-closed');
    }
  }

  private answer(m: Message, outcome: Outcome): void {
    const header = { id: this.nextId(), re: m.header.id, ...(m.header.src !== undefined ? { dst: m.header.src } : {}) };
    const command = (m.payload as InstrumentCommandPayload).command;
    this.answered++;
    switch (outcome.kind) {
      case 'data': return this.send({ type: 'INSTRUMENT_RESPONSE', header, payload: { command, data: outcome.data }, encoding: m.encoding });
      case 'trace': return this.send({ type: 'INSTRUMENT_RESPONSE', header, payload: { command, trace: outcome.trace }, encoding: m.encoding });
      case 'shutdown':
        this.stopping = 'shutdown';
        return this.send({ type: 'INSTRUMENT_RESPONSE', header, payload: { command, data: null }, encoding: m.encoding });
      case 'error': {
        const e = outcome.error;
        return this.send({ type: 'ERROR', header, payload: new ProtocolError(e.code, e.message, e.details).toPayload() });
      }
    }
  }

  /** Ends the session: `final` first when asked (and not yet sent), then the close. */
  private finish(reason: EndReason, sendFinal = true, drop = false): void {
    if (this.state === 'ended') return;
    if (sendFinal && this.state === 'open' && reason !== 'fault') this.event('final', { exit_code: EXIT_CODE[reason] });
    this.flush();
    this.state = 'ended';
    if (drop) this.o.destroy();
    else this.o.end();
    this.o.onEnd(reason);
  }
}
