"""The Python worker's parameter checks, clamping, state and determinism (INS-5, INS-6, INS-11, INS-14)."""
import math

import numpy as np
import pytest

from concord_instrument import CommandError, InstrumentModel, check_params, instrument_spec
from concord_instrument.params import round_to_step


def refusal(command, params):
    with pytest.raises(CommandError) as e:
        check_params(command, params)
    return e.value


def test_refused_parameters_are_named():
    assert refusal("scope_acquire", {"decimation": 100}).details["param"] == "decimation"
    assert refusal("pid_configure", {"d": 1}).details["param"] == "d"
    assert refusal("asg_setup", {"waveform": "triangle"}).details["param"] == "waveform"
    assert refusal("asg_setup", {"amplitude": True}).details["param"] == "amplitude"
    assert refusal("ping", {"x": 1}).details["param"] == "x"
    assert refusal("pid_set_setpoint", {}).details["param"] == "value"
    assert refusal("scope_acquire", {"timeout": 0}).details["param"] == "timeout"
    assert refusal("asg_setup", {"waveform": "bad", "colour": "red"}).details["param"] == "colour"
    assert refusal("nope", {}).code == "UNKNOWN_COMMAND"


def test_clamped_and_rounded():
    step = 125e6 / 2 ** 30
    assert check_params("asg_setup", {"frequency": 1e9})["frequency"] == 62.5e6
    assert check_params("asg_setup", {"frequency": 1000})["frequency"] == round_to_step(1000, step)
    assert check_params("pid_configure", {"p": 1e6, "i": -1e6}) == {"channel": "pid0", "p": 2048, "i": -38856}
    assert check_params("pid_set_setpoint", {"value": 1})["value"] == 8191 / 8192
    assert check_params("iq_setup", {"bandwidth": 1e12})["bandwidth"] == max(instrument_spec()["iq_bandwidths"])
    assert check_params("scope_set_decimation", {"value": 64.0})["value"] == 64


def test_setpoints_on_the_grid():
    rng = np.random.default_rng(1)
    for v in rng.uniform(-3, 3, 500):
        got = check_params("pid_set_setpoint", {"value": float(v)})["value"]
        assert -1 <= got <= 8191 / 8192 and float(got * 8192).is_integer()
        if -1 <= v <= 8191 / 8192:
            assert abs(got - v) <= 2 ** -14


def test_state_reads_back_and_loopback():
    m = InstrumentModel(1)
    m.execute("pid_set_setpoint", {"channel": "pid2", "value": 0.25})
    assert m.execute("pid_get_setpoint", {"channel": "pid2"}).data == 0.25
    m.execute("asg_setup", {"channel": "asg1", "waveform": "dc", "offset": 0.4, "output_direct": "out1"})
    o = m.execute("scope_acquire", {"decimation": 4})
    assert o.kind == "trace" and o.trace["decimation"] == 4 and o.trace["dt"] == 4 * 8e-9
    s = o.trace["samples"]
    assert s.dtype == np.float32 and s.shape == (16384,)
    assert abs(float(s.mean()) - 0.4) < 1e-3 and 0.0013 < float(s.std()) < 0.003


def test_deterministic_per_seed():
    def run(seed):
        m = InstrumentModel(seed)
        return m.execute("scope_acquire", {}).trace["samples"][:64].tolist() + [m.execute("sampler_read", {}).data]
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_trigger_timeout():
    o = InstrumentModel().execute("scope_acquire", {"trigger_source": "ext_negative_edge", "timeout": 0.25})
    assert o.kind == "error" and o.error.code == "TIMEOUT" and o.error.details["timeout_ms"] == 250 and math.isclose(o.after_s, 0.25)
