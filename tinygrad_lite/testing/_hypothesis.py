"""The one place that imports hypothesis, so that a missing install fails with one message saying what to do."""

try:
    import hypothesis
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        "tinygrad_lite.testing needs hypothesis, which is not installed. "
        "Install the extra: pip install 'tinygrad-lite[testing]' (or just: pip install hypothesis)",
        name="hypothesis",
    ) from error

__all__ = ["hnp", "hypothesis", "st"]
