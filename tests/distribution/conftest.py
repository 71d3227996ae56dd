from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from cxloop.distribution.directory import use_directory
from tests.distribution.provider_server import ProviderServer
from tests.distribution.support import FakeDirectory, Inbox, start_smtp


@pytest.fixture(autouse=True)
def people() -> Iterator[FakeDirectory]:
    fake = FakeDirectory()
    use_directory(fake)
    yield fake
    use_directory(None)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, Controller]]:
    box = Inbox()
    controller = start_smtp(box)
    yield box, controller
    controller.stop()


@pytest.fixture
def tls_inbox(tmp_path: Path) -> Iterator[tuple[Inbox, Controller]]:
    box = Inbox()
    controller = start_smtp(box, tls_dir=tmp_path, password="s3cret")
    yield box, controller
    controller.stop()


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    server = ProviderServer().start()
    yield server
    server.stop()
