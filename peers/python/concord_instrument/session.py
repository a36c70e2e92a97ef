"""One connection of the worker (spec section 17): the handshake (client on stdio and through a
broker, broker when listening on a port), `ready`, commands answered one by one in order (INS-2),
`final` before the end and fault injection. Frames produced while one input chunk is handled are
written together. Delays and trigger timeouts block the loop, which keeps the order."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from concord import PROTOCOL_VERSION, FrameDecoder, NDArray, ProtocolError, decode_message, encode_message_frame, message_info, proto, reaches_client
from concord.framing import MAX_FRAME
from concord.message import SUPPORTED_ENCODINGS

from .model import InstrumentModel, Outcome
from .spec import CommandError

M = proto.MessageName  # message names come from the generated catalog

EXIT_CODE = {"shutdown": 0, "input-closed": 0, "parent-died": 0, "refused": 69, "fault": 65, "dropped": 75}
_KIND = {info.name: info.kind for info in proto.MESSAGES.values()}


def _negotiated(offered: str) -> str:
    """VER-2: the worker's major with the smaller of its own minor and the client's (same major: VER-1 checked it)."""
    major, minor = PROTOCOL_VERSION.split(".")
    return f"{major}.{min(int(minor), int(offered.split('.')[1]))}"


class Faults:
    def __init__(self, delay_ms: int = 0, error_rate: float = 0.0, drop_after: int = 0, seed: int = 0) -> None:
        self.delay_ms = delay_ms
        self.error_rate = error_rate
        self.drop_after = drop_after
        self.rng = np.random.Generator(np.random.PCG64((seed ^ 0x9E3779B9) & 0xFFFFFFFF))
        self.count = 0


class WorkerSession:
    def __init__(self, role: str, worker: str, model: InstrumentModel, faults: Faults,
                 write: Callable[[bytes], None], events_dst: Optional[str] = None) -> None:
        self.role = role
        self.worker = worker
        self.model = model
        self.faults = faults
        self._write = write
        self.events_dst = events_dst
        self.decoder = FrameDecoder(max_frame=MAX_FRAME)
        # CBOR frames only once an INIT_ACK chose CBOR (ENC-3); this worker's own INIT_ACK chooses JSON.
        self.encodings: tuple = ("json",)
        self.state = "handshake"
        self.ended: Optional[str] = None
        self.stopping = False
        self.drop = False
        self.ids = 0
        self.answered = 0
        self.out: List[bytes] = []
        self.lock = threading.Lock()
        if role == "client":
            self._send(M.INIT, {"id": "worker-init"}, {
                "client_id": worker, "language": "python", "role": "worker", "protocol_version": PROTOCOL_VERSION,
                "encodings": list(SUPPORTED_ENCODINGS), "max_frame": MAX_FRAME, "name": "concord-python-instrument",
                "version": PROTOCOL_VERSION, "features": [],
            })
            self.flush()

    # output ------------------------------------------------------------------------------------
    def _next_id(self) -> str:
        self.ids += 1
        return f"w{self.ids}"

    def _send(self, type_: str, header: Dict[str, Any], payload: Any = None) -> None:
        self.out.append(encode_message_frame(type_, header, payload))

    def flush(self) -> None:
        with self.lock:
            if self.out and self.ended is None:
                data = b"".join(self.out)
                self.out = []
                try:
                    self._write(data)
                except OSError:
                    self.ended = "input-closed"

    def event(self, event: str, **extra: Any) -> None:
        header = {"id": self._next_id()}
        if self.events_dst is not None:
            header["dst"] = self.events_dst
        self._send(M.INSTRUMENT_EVENT, header, {"event": event, "worker": self.worker, "mock": True, **extra})

    # input -------------------------------------------------------------------------------------
    def push(self, chunk: bytes) -> None:
        """Handles a chunk of input; `self.ended` says when the session is over."""
        try:
            bodies = self.decoder.push(chunk)
        except ProtocolError as e:
            for body in e.frames_before:
                if self.ended is None:
                    self._on_body(body)
            if self.ended is None:
                self._refuse(e)
            self.flush()
            return
        for body in bodies:
            if self.ended is not None:
                break
            self._on_body(body)
            if len(self.out) >= 256:
                self.flush()
        self.after_chunk()
        self.flush()

    def input_ended(self) -> None:
        self.finish("input-closed")

    def finish(self, reason: str, send_final: bool = True) -> None:
        if self.ended is not None:
            return
        if send_final and self.state == "open" and reason != "fault":
            self.event("final", exit_code=EXIT_CODE[reason])
        self.flush()
        self.ended = reason

    def _refuse(self, e: ProtocolError) -> None:
        header = {"id": self._next_id()}
        if e.frame_id is not None:
            header["re"] = e.frame_id
        self._send(M.ERROR, header, e.to_payload())
        if e.closes or self.state == "handshake":
            self.finish("refused" if self.state == "handshake" and self.role == "client" else "fault", send_final=False)

    def _on_body(self, body: bytes) -> None:
        try:
            m = decode_message(body, encodings=self.encodings)
        except ProtocolError as e:
            if body[:1] == b"\xff":
                return  # a faulty ERROR is never answered (ERR-6)
            self._refuse(e)
            return
        if self.state == "handshake":
            self._handshake(m)
            return
        if m.name == M.INSTRUMENT_COMMAND:
            self._command(m)
        elif m.name == M.PING:
            self._send(M.PONG, {"id": self._next_id(), "re": m.id})
        elif m.name == M.SHUTDOWN:
            self.event("final", exit_code=0)
            self._send(M.SHUTDOWN_ACK, {"id": self._next_id(), "re": m.id}, {"drained": self.answered, "timed_out": 0})
            self.finish("shutdown", send_final=False)
        elif not reaches_client(message_info(m.name)):
            e = ProtocolError("UNEXPECTED_MESSAGE", f"{m.name} never travels from a broker to a client", details={"statement": "REQ-6"})
            e.frame_id = m.id
            self._refuse(e)
        elif m.name == M.ERROR or _KIND.get(m.name) == "notification":
            return
        elif m.name in (M.INIT, M.INIT_ACK) or _KIND.get(m.name) == "response":
            e = ProtocolError("UNEXPECTED_MESSAGE", f"{m.name} is not expected here", details={"statement": "REQ-5"})
            e.frame_id = m.id
            self._refuse(e)
        else:
            e = ProtocolError("UNSUPPORTED", f"the worker does not implement {m.name}", details={"statement": "ERR-8"})
            e.frame_id = m.id
            self._refuse(e)

    def _handshake(self, m: Any) -> None:
        if self.role == "client":
            if m.name == M.INIT_ACK:
                self.state = "open"
                if m.payload.get("encoding") == "cbor":
                    self.encodings = tuple(SUPPORTED_ENCODINGS)
                f = self.faults
                injected = [x for x in (f"delay {f.delay_ms} ms" if f.delay_ms else "", f"error rate {f.error_rate}" if f.error_rate else "",
                                        f"drop after {f.drop_after} commands" if f.drop_after else "") if x]
                self.event("ready", detail=f"fault injection: {', '.join(injected)}" if injected else f"seed {self.model.seed}")
            elif m.name == M.ERROR:
                self.finish("refused", send_final=False)
            return
        if m.name != M.INIT:
            e = ProtocolError("PROTOCOL_VIOLATION", f"the first frame must be INIT, not {m.name}", details={"statement": "HS-2"})
            e.frame_id = m.id
            self._refuse(e)
            return
        p = m.payload
        if p["protocol_version"].split(".")[0] != PROTOCOL_VERSION.split(".")[0]:
            e = ProtocolError("VERSION_MISMATCH", f"this worker speaks {PROTOCOL_VERSION}", details={"statement": "VER-1"})
            e.frame_id = m.id
            self._refuse(e)
            return
        self._send(M.INIT_ACK, {"id": self._next_id(), "re": m.id}, {
            "broker_id": self.worker, "client_id": p["client_id"], "protocol_version": _negotiated(p["protocol_version"]), "encoding": "json",
            "max_frame": MAX_FRAME, "max_in_flight": proto.LIMITS["max_in_flight"], "heartbeat_ms": proto.LIMITS["heartbeat_ms"],
        })
        self.state = "open"
        self.event("ready", detail=f"seed {self.model.seed}")

    def _command(self, m: Any) -> None:
        command = m.payload["command"]
        if self.stopping:
            self._answer(m, Outcome("error", error=CommandError("SHUTTING_DOWN", "the worker is shutting down", {"statement": "INS-13"})))
            return
        f = self.faults
        f.count += 1
        if f.drop_after > 0 and f.count == f.drop_after:
            self.drop = True  # earlier answers still go out (finish flushes), this one never does
            self.finish("dropped", send_final=False)
            return
        if f.error_rate > 0 and command not in ("ping", "shutdown") and f.rng.random() < f.error_rate:
            outcome = Outcome("error", error=CommandError("HARDWARE_ERROR", f"injected hardware fault on {command}", {"statement": "INS-8"}))
        else:
            outcome = self.model.execute(command, m.payload.get("params"))
        wait = f.delay_ms / 1000 + (outcome.after_s if outcome.kind == "error" else 0)
        if wait > 0:
            self.flush()
            time.sleep(wait)
        self._answer(m, outcome)

    def _answer(self, m: Any, outcome: Outcome) -> None:
        header = {"id": self._next_id(), "re": m.id}
        if "src" in m.header:
            header["dst"] = m.header["src"]
        command = m.payload["command"]
        self.answered += 1
        if outcome.kind == "data":
            self._send(M.INSTRUMENT_RESPONSE, header, {"command": command, "data": outcome.data})
        elif outcome.kind == "trace":
            t = dict(outcome.trace)
            t["samples"] = NDArray.from_numpy(t["samples"])
            self._send(M.INSTRUMENT_RESPONSE, header, {"command": command, "trace": t})
        elif outcome.kind == "shutdown":
            self.stopping = True
            self._send(M.INSTRUMENT_RESPONSE, header, {"command": command, "data": None})
        else:
            e = outcome.error
            self._send(M.ERROR, header, ProtocolError(e.code, e.message, details=e.details).to_payload())

    def after_chunk(self) -> None:
        """Ends the session after a `shutdown` once every command read with it is answered (INS-13)."""
        if self.stopping and self.ended is None:
            self.event("final", exit_code=0)
            self.finish("shutdown", send_final=False)


def write_all(fd: int) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    return write
