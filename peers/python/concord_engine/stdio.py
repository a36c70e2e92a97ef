"""The engine on stdin/stdout (the engine suite's transport): INIT with role testee and feature engine (ENG-17), then each engine
request answered with its response or ERROR, PING with PONG; exits 0 at end of input."""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

from concord import PROTOCOL_VERSION, FrameDecoder, ProtocolError, __version__, decode_message, encode_message_frame, message_info, proto
from concord.framing import MAX_FRAME
from concord.message import SUPPORTED_ENCODINGS

from .core import Engine, EngineError
from .handler import ENGINE_REQUESTS, handle

M = proto.MessageName  # message names come from the generated catalog


class StdioEngine:
    def __init__(self, make_engine: Callable[[], Engine], out_fd: int) -> None:
        # The engine (its weights drawn) is made after INIT is written, so a slow start does not delay INIT.
        self.make_engine = make_engine
        self.engine: Optional[Engine] = None
        self.out_fd = out_fd
        self.count = 0

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
        payload = {"code": code, "message": message[:proto.ERROR_MESSAGE_MAX_LENGTH], "definite": True}
        if details:
            payload["details"] = details
        self.send(M.ERROR, re, payload)

    def on_body(self, body: bytes) -> None:
        try:
            m = decode_message(body)
        except ProtocolError as e:
            self.error(e.frame_id, e.code, str(e))
            return
        if m.name in (M.INIT_ACK, M.ERROR) or message_info(m.name).kind == "response":
            return
        if m.name == M.PING:
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
                self.error(None, e.code, str(e))
                return 0
            for body in bodies:
                self.on_body(body)
