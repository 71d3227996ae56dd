"""The agreed interface: ``send_survey`` (cases' follow-up surveys) and ``Invitation``."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi.testclient import TestClient

from cxloop.distribution import Invitation, send_survey
from cxloop.kit.db import Database
from cxloop.kit.jobs import take_enqueued
from tests.distribution.helpers import configure_email, make_survey, rows
from tests.distribution.support import FakeDirectory, run_pending
from tests.factories import Org


def test_send_survey_returns_an_id_or_none_and_sends_after_commit(
    client: TestClient, org: Org, people: FakeDirectory, inbox: Any, database_url: str
) -> None:
    box, controller = inbox
    configure_email(client, org, controller.port)
    survey_id = make_survey(client, org)
    reachable = people.add(email="li@example.com")
    unreachable = people.add()

    async def work() -> tuple[str | None, str | None, int]:
        db = Database(database_url)
        try:
            async with db.session(write=True) as session:
                sent = await send_survey(
                    session,
                    org.tenant_id,
                    reachable,
                    survey_id,
                    reason="case_follow_up",
                    respect_frequency=False,
                )
                skipped = await send_survey(
                    session, org.tenant_id, unreachable, survey_id, reason="case_follow_up"
                )
                before_commit = len(box.messages)
                await session.commit()
                jobs = take_enqueued(session)
            await run_pending(db, jobs)
            return sent, skipped, before_commit
        finally:
            await db.dispose()

    sent, skipped, before_commit = asyncio.run(work())
    assert sent is not None and skipped is None
    assert before_commit == 0  # nothing leaves before the commit
    assert [m[1] for m in box.messages] == [["li@example.com"]]
    assert rows(database_url, "SELECT status, reason FROM invitations ORDER BY status") == [
        ("sent", "case_follow_up"),
        ("skipped", "case_follow_up"),
    ]
    assert Invitation.__tablename__ == "invitations"
