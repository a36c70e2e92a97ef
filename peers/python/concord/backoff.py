"""The wait before a connection retry: a function of the retry, or (initial, max) doubling with +-20 % jitter."""
from __future__ import annotations

import random
from typing import Callable, Tuple, Union

Backoff = Union[Callable[[int], float], Tuple[float, float]]


def _backoff_delay(backoff: Backoff, retry: int) -> float:
    if callable(backoff):
        return max(0.0, float(backoff(retry)))
    initial, maximum = backoff
    base = min(maximum, initial * 2 ** max(0, retry - 1))
    return max(0.0, min(maximum, base * (1 + 0.2 * (2 * random.random() - 1))))
