"""The demo's customers step: contacts with encrypted identities, consent, events, segments with members."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cxloop.customers import crypto, segment_contact_ids
from cxloop.customers.segments import list_segments
from cxloop.demo import seed_demo
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings
from tests.customers.support import rows


def test_demo_contacts(database_url: str, tmp_path: Path) -> None:
    crypto.configure(Settings(data_dir=tmp_path, secret_key="demo-test-" + "z" * 32))

    async def run() -> dict[str, int]:
        db = Database(database_url)
        try:
            result = await seed_demo(db, response_count=600)
            assert "customers" in result.ran
            async with db.session(write=False) as session:
                tenant_id = rows(database_url, "SELECT id FROM tenants WHERE slug = 'demo'")[0][0]
                return {
                    s.name: len(await segment_contact_ids(session, tenant_id, s.id))
                    for s in await list_segments(session, tenant_id)
                }
        finally:
            await db.dispose()

    counts = asyncio.run(run())
    assert rows(database_url, "SELECT count(*) FROM contacts") == [(300,)]
    assert rows(database_url, "SELECT count(*) FROM contact_events") == [(1200,)]
    assert rows(database_url, "SELECT count(*) FROM contact_responses")[0][0] == 600
    assert all(
        value.startswith("k1:") for (value,) in rows(database_url, "SELECT value_enc FROM contact_identities")
    )
    assert "member0@example.com" not in str(rows(database_url, "SELECT * FROM contact_identities"))
    assert set(counts) == {"VIP 会员 (VIPs)", "华东 VIP (VIPs of East)", "近90天贬损者 (Detractors, 90 days)"}
    assert 0 < counts["华东 VIP (VIPs of East)"] < counts["VIP 会员 (VIPs)"] < 300
    assert counts["近90天贬损者 (Detractors, 90 days)"] > 0
