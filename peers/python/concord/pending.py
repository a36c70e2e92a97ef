"""Book-keeping of requests sent and awaiting an answer, and of requests received and being answered."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

from .message import Message


@dataclass
class _Pending:
    type_name: str
    expected: str
    event: threading.Event = field(default_factory=threading.Event)
    answer: Optional[Message] = None
    error: Optional[Exception] = None


@dataclass
class _Incoming:
    answered: bool = False
