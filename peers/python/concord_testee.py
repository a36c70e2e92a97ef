#!/usr/bin/env python3
"""Concord testee (spec section 15) for the Python peer: frames on stdin/stdout.

INIT first (role "testee"); then every complete frame is answered, in order, with its echo (same
type and encoding, a fresh id, re = the frame's id, the payload re-encoded from the decoded value)
or with the ERROR of the first failing check (re when the frame's id was readable). The harness's
INIT_ACK is the only frame not echoed. After an ERROR that closes, stdout is closed and the testee
exits; at end of input it exits 0 once everything is answered. Logs go to stderr only.

It declares the encodings its codec implements: JSON and CBOR (with the `cbor` feature, TST-2)
when cbor2 is installed (Debian python3-cbor2), JSON only otherwise; a frame in an encoding the
harness did not choose is answered with UNSUPPORTED_ENCODING (ENC-3).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from concord._spec import proto  # noqa: E402
from concord import PROTOCOL_VERSION, FrameDecoder, ProtocolError, __version__, decode_message, encode_message_frame  # noqa: E402
from concord.framing import MAX_FRAME  # noqa: E402
from concord.message import SUPPORTED_ENCODINGS, accepted_encodings  # noqa: E402
from concord.parent import exit_when_parent_dies  # noqa: E402

E = proto.ErrorCode
M = proto.MessageName

NAME = "concord-python-testee"


def log(message: str) -> None:
    sys.stderr.write(f"[{NAME}] {message}\n")
    sys.stderr.flush()


class Testee:
    def __init__(self, out_fd: int) -> None:
        self.out_fd = out_fd
        self.decoder = FrameDecoder(max_frame=MAX_FRAME)
        self.count = 0
        self.handshaken = False
        #: Encodings accepted on this connection: what the INIT_ACK chose, and JSON always (ENC-1, ENC-3).
        self.accepted = SUPPORTED_ENCODINGS
        self.closed = False

    def write(self, frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            n = os.write(self.out_fd, view)
            view = view[n:]

    def next_id(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.count}"

    def start(self) -> None:
        self.write(encode_message_frame(M.INIT, {"id": "testee-init"}, {
            "client_id": f"testee-{os.getpid()}", "language": "python", "role": "testee",
            "protocol_version": PROTOCOL_VERSION, "encodings": list(SUPPORTED_ENCODINGS), "max_frame": MAX_FRAME,
            "name": NAME, "version": __version__, "features": ["cbor"] if "cbor" in SUPPORTED_ENCODINGS else [],
        }))

    def close(self) -> None:
        self.closed = True
        os.close(self.out_fd)

    def refuse(self, e: ProtocolError) -> None:
        header = {"id": self.next_id("err")}
        if e.frame_id is not None:
            header["re"] = e.frame_id
        log(f"refused: {e.code} {e.message[:200]}")
        self.write(encode_message_frame(M.ERROR, header, e.to_payload()))
        if e.closes:
            self.close()

    def answer(self, body: bytes) -> None:
        try:
            m = decode_message(body, encodings=self.accepted)
        except ProtocolError as e:
            self.refuse(e)
            return
        if not self.handshaken:
            # The harness's INIT_ACK: the one frame a testee does not echo.
            self.handshaken = m.name == M.INIT_ACK
            if self.handshaken:
                self.accepted = accepted_encodings(m.payload.get("encoding"))
                return
        try:
            frame = encode_message_frame(m.type, {"id": self.next_id("echo"), "re": m.header["id"]}, m.payload, m.encoding)
        except Exception as e:  # a value our decoder accepted but our encoder refuses is our own fault
            log(f"cannot echo {m.name}: {e}")
            frame = encode_message_frame(M.ERROR, {"id": self.next_id("err"), "re": m.header["id"]},
                                         {"code": E.INTERNAL, "message": str(e)[:4000], "definite": False})
        self.write(frame)

    def feed(self, chunk: bytes) -> None:
        try:
            bodies = self.decoder.push(chunk)
        except ProtocolError as e:
            for body in e.frames_before:
                if not self.closed:
                    self.answer(body)
            if not self.closed:
                self.refuse(e)
            return
        for body in bodies:
            if self.closed:
                return
            self.answer(body)

    def run(self, in_fd: int) -> int:
        self.start()
        while not self.closed:
            chunk = os.read(in_fd, 1 << 16)
            if not chunk:
                if self.decoder.mid_frame:
                    log("input ended inside a frame; partial frame discarded (FRM-7)")
                break
            self.feed(chunk)
        if not self.closed:
            self.close()
        return 0


def main() -> int:
    exit_when_parent_dies()  # STDIO-3: the parent's death ends the testee even while stdin stays open
    try:
        return Testee(sys.stdout.fileno()).run(sys.stdin.fileno())
    except BrokenPipeError:
        log("output closed by the harness")
        return 0


if __name__ == "__main__":
    sys.exit(main())
