"""Email throughput to a local SMTP server (aiosmtpd in its own process).

Two figures: the SMTP adapter alone (messages built and sent over a few
reused connections), and the whole delivery path on SQLite or, with
``--database postgresql``, a fresh schema of the test database (invitations
made by ``invite`` the way a campaign makes them, then their outbox jobs run
to completion: consent re-check, rendering, SMTP, status and attempt rows
committed). Bulk sends go out in jobs of ``DELIVERY_BATCH`` invitations;
``--per-invitation`` measures one job per invitation (triggered sends);
``--real-directory`` makes real contacts (encrypted, with identities) and
reads them and their consent through ``cxloop.customers`` instead of a stub
directory: the figure that counts for the target.
Target: at least 200 emails/s on 2 cores.

    .venv/bin/python bench/distribution_email.py --messages 2000 --rounds 2 --real-directory
    .venv/bin/python bench/distribution_email.py --messages 2000 --rounds 2 --real-directory \
        --database postgresql
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import arg_parser, free_port, machine_info, postgres_schema, write_results


def start_sink(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import socket

    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("aiosmtpd did not start")


async def adapter_only(port: int, messages: int, connections: int) -> float:
    from cxloop.distribution.channels.base import Outgoing
    from cxloop.distribution.channels.email import EmailAdapter, SmtpConfig, close_pools
    from cxloop.distribution.content import render_invitation

    adapter = EmailAdapter(
        SmtpConfig(
            host="127.0.0.1", port=port, security="none", connections=connections, sender="b <b@bench.test>"
        )
    )
    rendered = render_invitation(
        language="en",
        title="Bench",
        link="http://x/i/abc",
        name="Li",
        unsubscribe_url="http://x/u",
        expires=None,
    )

    def outgoing(index: int) -> Outgoing:
        return Outgoing(
            invitation_id=str(index),
            tenant_id="t",
            channel="email",
            to=f"c{index}@bench.test",
            language="en",
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            link="http://x/i/abc",
            idempotency_key=f"inv-{index}-0",
            unsubscribe_url="http://x/u",
        )

    started = time.perf_counter()
    await asyncio.gather(*(adapter.send(outgoing(i)) for i in range(messages)))
    elapsed = time.perf_counter() - started
    await close_pools()
    return messages / elapsed


async def full_path(
    port: int,
    messages: int,
    workers: int = 1,
    *,
    per_invitation: bool = False,
    real_directory: bool = False,
    database: str = "sqlite",
    connections: int = 4,
) -> tuple[float, float]:
    from sqlalchemy import func, select

    from cxloop.customers import upsert_contact
    from cxloop.distribution.channels.email import close_pools
    from cxloop.distribution.directory import Person, use_directory
    from cxloop.distribution.models import ChannelConfig, Invitation
    from cxloop.distribution.service import enqueue_deliveries, invite
    from cxloop.identity.audit import Actor
    from cxloop.identity.tenants import create_tenant
    from cxloop.kit.clock import utc_now
    from cxloop.kit.db import Database
    from cxloop.kit.ids import new_id
    from cxloop.kit.jobs import run_job, take_enqueued
    from cxloop.kit.migrate import upgrade
    from cxloop.surveys.service import create_survey, publish_survey
    from cxloop.worker.jobs import load_job_handlers

    load_job_handlers()

    class Directory:
        async def reach(self, session: Any, tenant_id: str, contact_id: str) -> Person:
            return Person(contact_id=contact_id, email=f"{contact_id}@bench.test", language="en")

        async def consent(self, *args: Any, **kwargs: Any) -> bool:
            return True

        async def reach_many(self, session: Any, tenant_id: str, contact_ids: Any) -> dict[str, Person]:
            return {each: await self.reach(session, tenant_id, each) for each in contact_ids}

        async def consent_many(self, session: Any, tenant_id: str, wanted: Any, *_: Any) -> dict[Any, bool]:
            return dict.fromkeys(wanted, True)

        async def withdraw(self, *args: Any, **kwargs: Any) -> None:
            return None

        async def segment(self, *args: Any) -> list[str]:
            return []

        async def find(self, *args: Any) -> None:
            return None

    # The real directory reads the contact and its consent ledger per message (cxloop.customers).
    use_directory(None if real_directory else Directory())
    with tempfile.TemporaryDirectory() as tmp, _database_url(database, Path(tmp)) as url:
        upgrade(url)
        db = Database(url)
        try:
            async with db.session(write=True) as session:
                tenant = await create_tenant(session, slug="bench", name="Bench")
                survey_id = await _survey(session, tenant, create_survey, publish_survey, Actor)
                session.add(
                    ChannelConfig(
                        id=new_id(),
                        tenant_id=tenant.id,
                        channel="email",
                        provider="smtp",
                        config={
                            "host": "127.0.0.1",
                            "port": port,
                            "security": "none",
                            "from": "b <b@bench.test>",
                            "connections": connections,
                        },
                        enabled=True,
                        updated_at=utc_now(),
                    )
                )
                batch: list[str] | None = None if per_invitation else []
                for index in range(messages):
                    contact_id = new_id()
                    if real_directory:
                        contact_id = await upsert_contact(
                            session,
                            tenant.id,
                            {"email": f"c{index}@example.com"},
                            language="en",
                            source="bench",
                        )
                    await invite(
                        session,
                        tenant.id,
                        contact_id,
                        survey_id,
                        channel="email",
                        reason="bench",
                        batch=batch,
                    )
                if batch is not None:
                    enqueue_deliveries(session, batch)
                await session.commit()
                job_ids = take_enqueued(session)
            started, cpu_started = time.perf_counter(), time.process_time()
            # SQLite has one writer: a second worker only waits on the lock a sending job holds.
            queue = list(job_ids)

            async def worker() -> None:
                while queue:
                    await run_job(db, queue.pop())

            await asyncio.gather(*(worker() for _ in range(workers)))
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            await close_pools()
            async with db.session(write=False) as session:
                counted = select(Invitation.status, func.count()).group_by(Invitation.status)
                statuses = {status: count for status, count in await session.execute(counted)}
            # A figure counts only if every message went out exactly as recorded.
            if statuses != {"sent": messages}:
                sys.exit(f"not every invitation was sent: {statuses}")
        finally:
            await db.dispose()
    # Emails/s, and this process's CPU per message (less sensitive to the
    # machine's load than the rate; the SMTP sink and PostgreSQL not counted).
    return messages / elapsed, cpu * 1000 / messages


@contextlib.contextmanager
def _database_url(database: str, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file, or a fresh schema of the PostgreSQL test database (dropped afterwards)."""
    if database == "postgresql":
        with postgres_schema() as url:
            yield url
    else:
        yield f"sqlite:///{tmp}/bench.db"


async def _survey(session: Any, tenant: Any, create_survey: Any, publish_survey: Any, actor: Any) -> str:
    from cxloop.identity import Principal

    del actor
    definition = {
        "title": {"zh-CN": "基准", "en": "Bench"},
        "languages": ["zh-CN", "en"],
        "default_language": "zh-CN",
        "pages": [
            {"id": "p1", "questions": [{"id": "nps", "type": "nps", "text": {"zh-CN": "推荐", "en": "R"}}]}
        ],
    }
    from cxloop.identity.access import Grant, Role

    principal = Principal(
        tenant_id=tenant.id,
        kind="service",
        user_id=None,
        token_id="bench",
        label="bench",
        name="bench",
        locale=None,
        grants=(Grant(role=Role.ADMIN, unit_id=None, unit_path=None, unit_code=None),),
    )
    from cxloop.surveys import parse_definition

    view = await create_survey(session, principal, parse_definition(definition))
    await publish_survey(session, principal, view.survey.id)
    survey_id: str = view.survey.id
    return survey_id


def main() -> None:
    parser = arg_parser(__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--smtp-connections", type=int, default=4)
    parser.add_argument("--per-invitation", action="store_true", help="one delivery job per invitation")
    parser.add_argument(
        "--real-directory", action="store_true", help="real contacts and consent reads instead of a stub"
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--adapter-rounds", type=int, help="rounds of the adapter alone (default: --rounds)")
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        adapter_rates = [
            asyncio.run(adapter_only(port, args.messages, args.smtp_connections))
            for _ in range(args.rounds if args.adapter_rounds is None else args.adapter_rounds)
        ]
        full_rates = [
            asyncio.run(
                full_path(
                    port,
                    args.messages,
                    per_invitation=args.per_invitation,
                    real_directory=args.real_directory,
                    database=args.database,
                    connections=args.smtp_connections,
                )
            )
            for _ in range(max(1, args.rounds // 2))
        ]
    finally:
        sink.terminate()
        sink.wait()
    results = {
        **machine_info(),
        "messages": args.messages,
        "smtp_connections": args.smtp_connections,
        "delivery_jobs": "per invitation" if args.per_invitation else "batches",
        "directory": "real" if args.real_directory else "stub",
        "database": args.database,
        "adapter_emails_per_s": [round(r) for r in adapter_rates],
        "full_path_emails_per_s": [round(rate) for rate, _ in full_rates],
        "full_path_cpu_ms_per_email": [round(cpu, 2) for _, cpu in full_rates],
        "target_emails_per_s": 200,
    }
    write_results("distribution_email.json", results)
    print(results)


if __name__ == "__main__":
    main()
