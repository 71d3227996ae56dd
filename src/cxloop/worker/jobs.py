"""Where every domain's job handlers are imported, so a worker knows them all.

A new domain with a ``tasks`` module adds it here.
"""

from __future__ import annotations

import importlib

JOB_MODULES: tuple[str, ...] = ()


def load_job_handlers() -> None:
    for module in JOB_MODULES:
        importlib.import_module(module)
