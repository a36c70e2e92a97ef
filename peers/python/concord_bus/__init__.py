"""The command bus and coordinator of seed 002 in Python (spec section bus-semantics), asyncio and the
standard library only. Error codes come from the generated constants (ErrorCode)."""
from .errors import BusError, as_bus_error
from .bus import InMemoryBus, Message, Middleware, DEFAULT_QUERY_TIMEOUT_MS
from .coordinator import Coordinator, backoff_ms

__all__ = ["BusError", "as_bus_error", "InMemoryBus", "Message", "Middleware", "DEFAULT_QUERY_TIMEOUT_MS", "Coordinator", "backoff_ms"]
