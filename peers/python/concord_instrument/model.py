"""The stateful hardware mock (INS-18 .. INS-20): scope, three PIDs, two signal generators, three iq
demodulators and the sampler. Traces are computed with numpy; every random value comes from one
generator seeded with the worker's seed."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .params import check_params
from .spec import CommandError, instrument_spec


@dataclass
class Outcome:
    """`data`, a `trace` dict, an error (after `after_s` seconds), or the shutdown."""
    kind: str
    data: Any = None
    trace: Optional[Dict[str, Any]] = None
    error: Optional[CommandError] = None
    after_s: float = 0.0


def _routed(asgs: Dict[str, Dict[str, Any]], out: str) -> List[Dict[str, Any]]:
    return [a for a in asgs.values() if a["output_direct"] in (out, "both")]


class InstrumentModel:
    def __init__(self, seed: int = 0) -> None:
        s = instrument_spec()
        self.seed = seed
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.scope = dict(s["initial"]["scope"])
        self.pids = {n: dict(s["initial"]["pid"]) for n in s["enums"]["pid_channel"]}
        self.asgs = {n: dict(s["initial"]["asg"]) for n in s["enums"]["asg_channel"]}
        self.iqs = {n: dict(s["initial"]["iq"]) for n in s["enums"]["iq_channel"]}

    def execute(self, command: str, params: Any) -> Outcome:
        try:
            return self._run(command, check_params(command, params))
        except CommandError as e:
            return Outcome("error", error=e)

    def _run(self, command: str, p: Dict[str, Any]) -> Outcome:
        channel = p.pop("channel", None)
        if command == "ping":
            return Outcome("data", "pong")
        if command == "shutdown":
            return Outcome("shutdown")
        if command == "scope_set_decimation":
            self.scope["decimation"] = p["value"]
            return Outcome("data", None)
        if command == "scope_set_trigger":
            self.scope["trigger_source"] = p["source"]
            return Outcome("data", None)
        if command == "scope_acquire":
            return self._acquire(p)
        if command == "pid_configure":
            self.pids[channel].update(p)
            return Outcome("data", None)
        if command == "pid_set_setpoint":
            self.pids[channel]["setpoint"] = p["value"]
            return Outcome("data", None)
        if command == "pid_get_setpoint":
            return Outcome("data", self.pids[channel]["setpoint"])
        if command == "asg_setup":
            self.asgs[channel].update(p)
            return Outcome("data", None)
        if command == "iq_setup":
            self.iqs[channel].update(p)
            return Outcome("data", None)
        if command == "iq_get_quadratures":
            return Outcome("data", self._quadratures(self.iqs[channel]))
        if command == "sampler_read":
            t = np.array([self.rng.random()])
            return Outcome("data", float(self._measure(channel, t)[0]))
        raise CommandError("UNKNOWN_COMMAND", f"the worker has no command {command!r}")

    # signals -----------------------------------------------------------------------------------
    def _asg(self, a: Dict[str, Any], t: np.ndarray) -> np.ndarray:
        if a["trigger_source"] == "off":
            return np.zeros_like(t)
        ft = a["frequency"] * t
        ph = ft - np.floor(ft)
        w = a["waveform"]
        if w == "sin":
            v = np.sin(2 * math.pi * ph)
        elif w == "cos":
            v = np.cos(2 * math.pi * ph)
        elif w == "square":
            v = np.where(ph < 0.5, 1.0, -1.0)
        elif w == "ramp":
            v = 2 * ph - 1
        elif w == "halframp":
            v = np.where(ph < 0.5, 2 * ph, 0.0)
        elif w == "noise":
            v = self.rng.uniform(-1.0, 1.0, t.shape)
        else:  # dc: the offset alone
            v = np.zeros_like(t)
        return a["offset"] + a["amplitude"] * v

    def _signal(self, name: str, t: np.ndarray) -> np.ndarray:
        d = instrument_spec()["scope"]["default_signal"]
        if name in ("in1", "out1"):
            routed = _routed(self.asgs, "out1")
            if not routed:
                return d["amplitude"] * np.sin(2 * math.pi * d["frequency"] * t) if name == "in1" else np.zeros_like(t)
            return sum((self._asg(a, t) for a in routed), np.zeros_like(t))
        if name in ("in2", "out2"):
            return sum((self._asg(a, t) for a in _routed(self.asgs, "out2")), np.zeros_like(t))
        if name in ("asg0", "asg1"):
            return self._asg(self.asgs[name], t)
        return np.zeros_like(t)

    def _measure(self, name: str, t: np.ndarray) -> np.ndarray:
        s = instrument_spec()["scope"]
        v = self._signal(name, t)
        if name in ("in1", "in2"):
            v = v + self.rng.normal(0.0, s["noise_sigma_volts"], t.shape)
        return np.clip(v, s["min_volts"], s["max_volts"])

    def _acquire(self, p: Dict[str, Any]) -> Outcome:
        s = instrument_spec()["scope"]
        if "decimation" in p:
            self.scope["decimation"] = p["decimation"]
        if "trigger_source" in p:
            self.scope["trigger_source"] = p["trigger_source"]
        timeout = float(p["timeout"])
        if self.scope["trigger_source"] in s["triggers_that_never_arrive"]:
            ms = int(round(timeout * 1000))
            return Outcome("error", error=CommandError("TIMEOUT", f"no {self.scope['trigger_source']} trigger within {timeout} s",
                                                       {"timeout_ms": ms, "statement": "INS-7"}), after_s=timeout)
        decimation = int(self.scope["decimation"])
        dt = decimation * s["sample_time_s"]
        start = self.rng.random()  # trigger time: the mock does not align edges
        t = start + (np.arange(s["samples"], dtype=np.float64) - s["trigger_index"]) * dt
        samples = self._measure(p["input_channel"], t).astype("<f4")
        return Outcome("trace", trace={"samples": samples, "t0": -s["trigger_index"] * dt, "dt": dt, "decimation": decimation})

    def _components(self, name: str) -> List[Tuple[float, float]]:
        d = instrument_spec()["scope"]["default_signal"]

        def sines(lst: List[Dict[str, Any]]) -> List[Tuple[float, float]]:
            return [(a["frequency"], a["amplitude"]) for a in lst if a["trigger_source"] != "off" and a["waveform"] in ("sin", "cos")]
        if name in ("in1", "out1"):
            routed = _routed(self.asgs, "out1")
            if not routed:
                return [(d["frequency"], d["amplitude"])] if name == "in1" else []
            return sines(routed)
        if name in ("in2", "out2"):
            return sines(_routed(self.asgs, "out2"))
        if name in ("asg0", "asg1"):
            return sines([self.asgs[name]])
        return []

    def _quadratures(self, iq: Dict[str, Any]) -> Dict[str, float]:
        sigma = instrument_spec()["scope"]["noise_sigma_volts"]
        i = q = 0.0
        for f, amp in self._components(iq["input"]):
            if abs(f - iq["frequency"]) > abs(iq["bandwidth"]):
                continue
            phase = 2 * math.pi * self.rng.random()
            i += amp / 2 * math.cos(phase)
            q += amp / 2 * math.sin(phase)
        return {"i": i + sigma * float(self.rng.normal()), "q": q + sigma * float(self.rng.normal())}
