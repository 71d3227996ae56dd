"""Where ``analyze_texts`` runs: in one child process, or inline.

The models (a 1M-weight logistic regression, jieba's dictionary, VADER) take
about 150 MB. With ``text_engine = "process"`` (the default) every process
that needs an analysis (the web process for ``POST /text/analyze`` and its
embedded worker, or ``cxloop worker``) sends the texts to a single child
process started on first use, which loads the models once; the parent's
memory does not grow. ``"inline"`` loads them in the caller, for one-shot
commands and tests. See docs/adr/0019-text-analysis-runs-outside-the-web-process.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
# A tenant's trained topic model is ~1 MB: pickling it to the child for every
# response cost more than analysing the comment. It is sent whole once, then
# named by its content key; the child answers None when it no longer has it.
_BY_KEY = "by_key"
_sent_models: set[str] = set()


def _child_init(model_dir: str) -> None:
    from cxloop.text import engine

    engine.configure(Path(model_dir))
    engine.warm_up()


def _child_analyze(model_dir: str, texts: list[str], language: str | None, context: Any) -> list[Any] | None:
    """The analyses, or None when ``context`` names a topic model by key only
    and this process has not got it (the caller then sends it whole)."""
    from cxloop.text import engine
    from cxloop.text.topics import TopicModel

    engine.configure(Path(model_dir))
    model = context.topic_model if context is not None else None
    if model is not None and model.get(_BY_KEY) and not TopicModel.is_cached(model.get("key")):
        return None
    return engine.analyze_texts(texts, language, context)


def _executor(model_dir: Path) -> ProcessPoolExecutor:
    """The one analysis process of this process; each call says which model dir it uses."""
    global _pool
    with _lock:
        if _pool is None:
            # spawn: a clean interpreter, not a fork of a web process with its threads and sockets.
            _pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_child_init,
                initargs=(str(model_dir),),
            )
        return _pool


def shutdown() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None
        _sent_models.clear()


def _settings() -> Any:
    from cxloop.kit.settings import get_settings

    return get_settings()


def analyze_sync(
    texts: Sequence[str], language: str | None = None, context: Any = None, *, settings: Any = None
) -> list[Any]:
    from cxloop.text import engine

    # A process whose assembly configured the models' directory (the demo
    # with --data-dir) keeps it; explicit settings always win.
    model_dir = None if settings else engine.configured_model_dir()
    settings = settings or _settings()
    model_dir = model_dir or engine.text_model_dir(settings)
    if settings.text_engine == "inline":
        engine.configure(model_dir)
        return engine.analyze_texts(list(texts), language, context)
    try:
        return _analyze_in_child(model_dir, list(texts), language, context)
    except BrokenProcessPool:
        # The child died (killed, out of memory): start a new one once.
        shutdown()
        return _analyze_in_child(model_dir, list(texts), language, context)


def _analyze_in_child(model_dir: Path, texts: list[str], language: str | None, context: Any) -> list[Any]:
    model = getattr(context, "topic_model", None)
    key = model.get("key") if isinstance(model, dict) else None
    if isinstance(key, str) and key in _sent_models:
        light = dataclasses.replace(context, topic_model={"key": key, _BY_KEY: True})
        result = _executor(model_dir).submit(_child_analyze, str(model_dir), texts, language, light).result()
        if result is not None:
            return result
    result = _executor(model_dir).submit(_child_analyze, str(model_dir), texts, language, context).result()
    if isinstance(key, str):
        _sent_models.add(key)
    assert result is not None  # a whole model is always there
    return result


async def analyze(
    texts: Sequence[str], language: str | None = None, context: Any = None, *, settings: Any = None
) -> list[Any]:
    """``analyze_texts`` off the event loop, where the settings say."""
    return await asyncio.to_thread(analyze_sync, texts, language, context, settings=settings)


def _in_models_process(model_dir: str, func: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    from cxloop.text import engine

    engine.configure(Path(model_dir))
    return func(Path(model_dir), *args)


def _call_sync(func: Callable[..., Any], *args: Any, settings: Any = None) -> Any:
    """``func(model_dir, *args)`` where the models run; ``func`` is a module-level function."""
    from cxloop.text import engine

    # As in analyze_sync: an assembly's configured directory, unless settings are given.
    model_dir = None if settings else engine.configured_model_dir()
    settings = settings or _settings()
    where = str(model_dir or engine.text_model_dir(settings))
    if settings.text_engine == "inline":
        return _in_models_process(where, func, args)
    return _executor(Path(where)).submit(_in_models_process, where, func, args).result()


def _train_topics(model_dir: Path, examples: list[Any], topic_ids: list[str], topics: Any) -> dict[str, Any]:
    from cxloop.text.topics import train_topic_model

    return train_topic_model(examples, topic_ids, topics=topics)


def train_topics_sync(
    examples: list[Any], topic_ids: list[str], *, topics: Any = (), settings: Any = None
) -> dict[str, Any]:
    result: dict[str, Any] = _call_sync(_train_topics, examples, topic_ids, topics, settings=settings)
    return result


async def train_topics(
    examples: list[Any], topic_ids: list[str], *, topics: Any = (), settings: Any = None
) -> dict[str, Any]:
    """Fit the topic model where the models run; ``topics`` (the taxonomy) gives its rule features."""
    return await asyncio.to_thread(train_topics_sync, examples, topic_ids, topics=topics, settings=settings)


def _adapt_english(model_dir: Path, texts: list[str], adapter: dict[str, float] | None) -> Any:
    from cxloop.text import self_training

    return self_training.english_adaptation(texts, model_dir, adapter)


def _train_adapter(model_dir: Path, texts: list[str], labels: list[int], language: str) -> Any:
    from cxloop.text import sentiment

    return sentiment.train_adapter(texts, labels, language)


def _train_scored(model_dir: Path, texts: list[str], labels: list[int]) -> Any:
    from cxloop.text import engine

    return engine.train_scored_zh(texts, labels)


async def adapt_english(
    texts: list[str], adapter: dict[str, float] | None, *, settings: Any = None
) -> tuple[dict[str, float] | None, dict[str, Any] | None]:
    """``self_training.english_adaptation`` where the models run (the English model is ~150 MB)."""
    result: tuple[dict[str, float] | None, dict[str, Any] | None] = await asyncio.to_thread(
        _call_sync, _adapt_english, texts, adapter, settings=settings
    )
    return result


async def train_adapter(
    texts: list[str], labels: list[int], language: str, *, settings: Any = None
) -> dict[str, float]:
    """``sentiment.train_adapter`` where the models run (it needs scikit-learn)."""
    result: dict[str, float] = await asyncio.to_thread(
        _call_sync, _train_adapter, texts, labels, language, settings=settings
    )
    return result


async def train_scored(texts: list[str], labels: list[int], *, settings: Any = None) -> dict[str, Any] | None:
    """``scored.train`` on Chinese scored comments where the models run (it needs the shipped scores)."""
    result: dict[str, Any] | None = await asyncio.to_thread(
        _call_sync, _train_scored, texts, labels, settings=settings
    )
    return result
