"""Shared pytest set-up: hypothesis profiles, chosen with the HYPOTHESIS_PROFILE environment variable.

- ``default``: ~25 examples per property, no deadline (timings on a shared 2-core machine are noisy).
- ``ci``: like ``default``, random examples each run, and a reproduction blob printed on failure.
- ``thorough``: ten times the examples of ``default``, for a long run before a release.
"""

import os

from hypothesis import settings

_DEFAULT_EXAMPLES = 25

settings.register_profile("default", max_examples=_DEFAULT_EXAMPLES, deadline=None)
settings.register_profile("ci", settings.get_profile("default"), derandomize=False, print_blob=True)
settings.register_profile("thorough", settings.get_profile("default"), max_examples=10 * _DEFAULT_EXAMPLES)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_report_header() -> str:
    """Which BLAS library and kernel computed this run (long training runs depend on it): ``BLAS: ...``."""
    try:
        import numpy  # noqa: F401 - threadpoolctl reports only libraries already loaded
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: unknown (threadpoolctl is not installed)"
    found = [f"{i['internal_api']} {i.get('version')}, kernel {i.get('architecture')}"
             for i in threadpool_info() if i["user_api"] == "blas"]
    return "BLAS: " + ("; ".join(found) or "unknown")
