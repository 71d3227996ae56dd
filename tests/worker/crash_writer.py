"""A process that dies around a commit, for the outbox crash tests.

    python crash_writer.py after-commit ADMIN_TOKEN
        Sends POST /api/v1/system/heartbeats through the real app and request
        boundary; the transport kills the process the moment the boundary
        hands the committed job off, i.e. after the commit, before dispatch.
    python crash_writer.py before-commit TENANT_ID
        Writes a heartbeat and enqueues its job, flushes, says "flushed" and
        waits to be killed (SIGKILL) by the parent before it commits.

Settings come from CXLOOP_* in the environment.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime

from fastapi.testclient import TestClient


class DieOnHandOff:
    async def send(self, job_id: str, eta: datetime | None) -> None:
        print(f"committed job {job_id}; dying before hand-off", flush=True)
        os._exit(1)


def after_commit(token: str) -> None:
    from cxloop.web import create_app

    app = create_app(start_worker=False)
    with TestClient(app) as client:
        app.state.transport = DieOnHandOff()
        response = client.post("/api/v1/system/heartbeats", headers={"Authorization": f"Bearer {token}"})
    print(f"survived: {response.status_code} {response.text}", flush=True)
    sys.exit(3)


async def before_commit(tenant_id: str) -> None:
    from cxloop.kit.clock import utc_now
    from cxloop.kit.db import Database
    from cxloop.kit.ids import new_id
    from cxloop.kit.jobs import enqueue
    from cxloop.kit.settings import get_settings
    from cxloop.ops import HEARTBEAT_JOB, Heartbeat
    from cxloop.worker.jobs import load_job_handlers

    load_job_handlers()
    db = Database(get_settings().effective_database_url)
    async with db.session(write=True) as session:
        beat = Heartbeat(
            id=new_id(), tenant_id=tenant_id, requested_by="crash-test", requested_at=utc_now(), runs=0
        )
        session.add(beat)
        enqueue(session, HEARTBEAT_JOB, {"heartbeat_id": beat.id})
        await session.flush()
        print("flushed", flush=True)
        await asyncio.sleep(120)
    sys.exit(3)


if __name__ == "__main__":
    mode, argument = sys.argv[1], sys.argv[2]
    if mode == "after-commit":
        after_commit(argument)
    else:
        asyncio.run(before_commit(argument))
