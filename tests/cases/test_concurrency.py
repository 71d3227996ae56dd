"""Concurrent openers of the same alert (a retried job racing the first run)
get one case, on both databases, and numbering stays dense."""

from __future__ import annotations

import asyncio

from cxloop.cases import open_case
from cxloop.kit.db import Database
from tests.cases.support import submit, survey
from tests.collection.support import rows
from tests.factories import Org


def test_two_openers_of_one_response_make_one_case(client, org: Org, database_url: str) -> None:  # type: ignore[no-untyped-def]
    survey_id = survey(client, org)
    responses = [submit(client, org, survey_id, nps=1) for _ in range(3)]

    async def race() -> list[tuple[str, bool]]:
        db = Database(database_url)
        try:

            async def one(response_id: str) -> tuple[str, bool]:
                async with db.session(write=True) as session:
                    result = await open_case(
                        session,
                        org.tenant_id,
                        response_id=response_id,
                        contact_id=None,
                        unit_id=None,
                        priority="high",
                        title="NPS 1",
                        source="alert",
                    )
                    await asyncio.sleep(0.05)  # hold the transaction open while the others try
                    await session.commit()
                    return result

            return list(await asyncio.gather(*(one(r) for r in responses + responses)))
        finally:
            await db.dispose()

    results = asyncio.run(race())
    assert sum(created for _, created in results) == 3
    assert len({case_id for case_id, _ in results}) == 3
    assert rows(database_url, "SELECT number FROM cases ORDER BY number") == [(1,), (2,), (3,)]
    # The unit comes from the response when the alert gives none.
    assert rows(database_url, "SELECT DISTINCT unit_id FROM cases") == [(org.unit_ids["SH001"],)]
