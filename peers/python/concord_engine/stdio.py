"""The engine on stdin/stdout (the engine suite's transport): INIT with role testee and feature engine (ENG-17), then each engine
request answered with its response or ERROR, PING with PONG; exits 0 at end of input."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

from concord import PROTOCOL_VERSION, FrameDecoder, ProtocolError, __version__, decode_message, encode_message_frame, message_info, proto, reaches_client
from concord.framing import MAX_FRAME
from concord.errors import registry_definite
from concord.message import SUPPORTED_ENCODINGS

from .core import Engine, EngineError
from .handler import ENGINE_REQUESTS, handle

M = proto.MessageName  # message names come from the generated catalog


class _Closed(Exception):
    """A fault that closes the connection was answered: the engine stops reading (ERR-4)."""


class StdioEngine:
    def __init__(self, make_engine: Callable[[], Engine], out_fd: int) -> None:
        # The engine (its weights drawn) is made after INIT is written, so a slow start does not delay INIT.
        self.make_engine = make_engine
        self.engine: Optional[Engine] = None
        self.out_fd = out_fd
        self.count = 0
        self.acked = False
        self.encodings = tuple(SUPPORTED_ENCODINGS)

    def send(self, type_: str, re: Optional[str], payload: Any, encoding: str = "json") -> None:
        # An answer is written in the request's encoding, as the other engines do; an ERROR always in JSON (ENC-1).
        self.count += 1
        header = {"id": f"e{self.count}"}
        if re is not None:
            header["re"] = re
        view = memoryview(encode_message_frame(type_, header, payload, encoding))
        while view:
            view = view[os.write(self.out_fd, view):]

    def error(self, re: Optional[str], code: str, message: str, details: Optional[dict] = None) -> None:
        payload = {"code": code, "message": message[:proto.ERROR_MESSAGE_MAX_LENGTH], "definite": registry_definite(code)}
        if details:
            payload["details"] = details
        self.send(M.ERROR, re, payload)

    def refuse(self, e: ProtocolError, body: Optional[bytes] = None) -> None:
        """Answers a faulty frame with the fault's own ERROR payload (its details, its registry `definite`),
        never a faulty ERROR (ERR-6); a fault that closes ends the output (ERR-4)."""
        if not (body and body[0] == proto.MessageType.ERROR):
            self.send(M.ERROR, e.frame_id, e.to_payload())
        if e.closes:
            raise _Closed()

    def on_body(self, body: bytes) -> None:
        try:
            m = decode_message(body, self.encodings)
        except ProtocolError as e:
            self.refuse(e, body)
            return
        if m.name == M.ERROR:
            return
        if m.name == M.INIT_ACK and not self.acked:
            # The one answer an engine awaits; CBOR frames only when it chose CBOR (ENC-3).
            self.acked = True
            if m.payload.get("encoding") != "cbor":
                self.encodings = ("json",)
            return
        info = message_info(m.name)
        if not reaches_client(info):
            self.error(m.header["id"], "UNEXPECTED_MESSAGE", f"{m.name} never travels from a broker to a client (REQ-6)")
        elif info.kind == "response":
            self.error(m.header["id"], "UNEXPECTED_MESSAGE", f"{m.name} answers no request of this engine (REQ-5)")
        elif m.name == M.PING:
            self.send(M.PONG, m.header["id"], None, m.encoding)
        elif m.name not in ENGINE_REQUESTS:
            self.error(m.header["id"], "UNSUPPORTED", f"an engine does not handle {m.name}")
        else:
            try:
                self.send(message_info(m.name).response, m.header["id"], handle(self.engine, m.name, m.payload), m.encoding)
            except EngineError as e:
                self.error(m.header["id"], e.code, e.message, e.details)

    def run(self) -> int:
        self.send(M.INIT, None, {
            "client_id": f"engine-python-{os.getpid()}", "language": "python", "role": "testee",
            "protocol_version": PROTOCOL_VERSION, "encodings": list(SUPPORTED_ENCODINGS), "max_frame": MAX_FRAME,
            "name": "concord-python-engine", "version": __version__, "features": ["engine"],
        })
        self.engine = self.make_engine()
        decoder = FrameDecoder(max_frame=MAX_FRAME)
        stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
        while True:
            chunk = stdin.read(65536)
            if not chunk:
                return 0
            try:
                bodies = decoder.push(chunk)
            except ProtocolError as e:
                try:
                    for body in getattr(e, "frames_before", None) or []:
                        self.on_body(body)
                    self.refuse(e)
                except _Closed:
                    pass
                return 0
            try:
                for body in bodies:
                    self.on_body(body)
            except _Closed:
                return 0
