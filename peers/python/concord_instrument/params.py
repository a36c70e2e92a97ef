"""Parameter checks per spec/instrument/commands.json (INS-5, INS-6, INS-14): unknown names and
refused values raise INVALID_PARAMS naming the parameter; clamped numbers are clamped, then rounded
to their register step (halfway values upward, as every worker does)."""
from __future__ import annotations

import math
from typing import Any, Dict, Union

from .spec import CommandError, instrument_spec

Value = Union[str, int, float]


def _invalid(param: str, why: str) -> CommandError:
    return CommandError("INVALID_PARAMS", f"parameter {param}: {why}", {"param": param, "statement": "INS-5"})


def round_to_step(value: float, step: float) -> float:
    return math.floor(value / step + 0.5) * step


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_one(name: str, p: Dict[str, Any], value: Any) -> Value:
    s = instrument_spec()
    if p["type"] == "string":
        if not isinstance(value, str):
            raise _invalid(name, f"expected a string, got {value!r}")
        allowed = s["enums"][p["enum"]] if "enum" in p else None
        if allowed is not None and value not in allowed:
            raise _invalid(name, f"{value!r} is not one of {', '.join(map(str, allowed))}")
        return value
    if not _is_number(value):
        raise _invalid(name, f"expected a finite number, got {value!r}")
    if p["type"] == "integer":
        if float(value) != math.floor(value):
            raise _invalid(name, f"expected an integer, got {value}")
        value = int(value)
    if "enum" in p:
        allowed = s["enums"][p["enum"]]
        if value not in allowed:
            raise _invalid(name, f"{value} is not one of {', '.join(map(str, allowed))}")
        return value
    if "exclusive_minimum" in p and not value > p["exclusive_minimum"]:
        raise _invalid(name, f"{value} is not above {p['exclusive_minimum']}")
    lo, hi = p.get("minimum"), p.get("maximum")
    if p["invalid"] == "refuse":
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise _invalid(name, f"{value} is outside {lo} .. {hi}")
        return value
    if "nearest" in p:
        best = s[p["nearest"]][0]
        for v in s[p["nearest"]]:
            if abs(v - value) < abs(best - value):
                best = v
        return best

    def clamp(x: float) -> float:
        if lo is not None:
            x = max(lo, x)
        if hi is not None:
            x = min(hi, x)
        return x

    v = clamp(float(value))
    if "step" in p:
        v = clamp(round_to_step(v, p["step"]))
    return v


def check_params(command: str, params: Any) -> Dict[str, Value]:
    """The checked params plus defaults; absent ones without a default keep the current setting."""
    spec = instrument_spec()["commands"].get(command)
    if spec is None:
        raise CommandError("UNKNOWN_COMMAND", f"the worker has no command {command!r}", {"statement": "INS-4"})
    given = params if isinstance(params, dict) else {}
    for name in given:
        if name not in spec["params"]:
            raise _invalid(name, f"{command} has no parameter {name}")
    out: Dict[str, Value] = {}
    for name, p in spec["params"].items():
        if name in given:
            out[name] = _check_one(name, p, given[name])
        elif p.get("required"):
            raise _invalid(name, f"{command} needs {name}")
        elif "default" in p:
            out[name] = p["default"]
    return out
