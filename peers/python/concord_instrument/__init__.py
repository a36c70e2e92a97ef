"""The Python instrument worker (spec sections 9.8 and 17): the hardware mock of seed 003 speaking
Concord frames over stdio, a TCP port or through a broker. Standard library plus numpy; the command
domains come from spec/instrument/commands.json, type codes and error names from the generated
constants, framing and payloads from the `concord` package."""
from .model import InstrumentModel, Outcome
from .params import check_params
from .spec import CommandError, instrument_spec

__all__ = ["InstrumentModel", "Outcome", "check_params", "CommandError", "instrument_spec"]
