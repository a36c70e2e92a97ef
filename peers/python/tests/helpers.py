"""Comparison of decoded values in typed-JSON form (ENC-17): numbers by value, bools apart."""
import math
from typing import Any, Optional


def first_difference(a: Any, b: Any, path: str = "") -> Optional[str]:
    if isinstance(a, bool) or isinstance(b, bool):
        return None if (type(a) is type(b) and a == b) else path or "/"
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
            return None
        return path or "/"
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return path or "/"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}/{i}")
            if d is not None:
                return d
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return f"{path}/{sorted(set(a) ^ set(b))[0]}"
        for k in a:
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d is not None:
                return d
        return None
    return None if (type(a) is type(b) and a == b) else path or "/"
