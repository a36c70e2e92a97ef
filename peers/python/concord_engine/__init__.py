"""The Concord reference engine in Python (spec section engine): the same integer computation as the
TypeScript and C++ engines, bit for bit, served on stdio (engine suite) or through a broker."""
from .core import Engine, EngineError, xorshift32_draws

__all__ = ["Engine", "EngineError", "xorshift32_draws"]
