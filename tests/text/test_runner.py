"""In "process" mode the models live in a child process: the caller never imports them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = """
import json, sys
from cxloop.kit.settings import Settings
from cxloop.text import runner
settings = Settings(text_engine="process")
[result] = runner.analyze_sync(["送餐太慢了，13812345678"], settings=settings)
heavy = sorted(m for m in ("sklearn", "jieba", "vaderSentiment", "snownlp") if m in sys.modules)
print(json.dumps({"sentiment": result.sentiment, "masked": result.masked_text, "heavy": heavy}))
runner.shutdown()
"""


@pytest.mark.slow
def test_the_caller_stays_free_of_the_models() -> None:
    env = {**os.environ, "CXLOOP_TEXT_ENGINE": "process"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"sentiment": "negative", "masked": "送餐太慢了，[PHONE]", "heavy": []}
