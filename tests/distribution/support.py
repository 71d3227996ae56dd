"""Test support: an in-memory customer directory, a real SMTP server
(aiosmtpd on 127.0.0.1, optionally STARTTLS + AUTH), and a way to run the
periodic tick at a chosen time."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.distribution.channels.email import close_pools
from cxloop.distribution.directory import Person
from cxloop.distribution.tick import tick
from cxloop.kit.db import Database
from cxloop.kit.ids import new_id
from cxloop.kit.jobs import OutboxJob, run_job, take_enqueued


@dataclass
class FakeDirectory:
    """The customers surface distribution uses, in memory (customers is built in parallel)."""

    people: dict[str, Person] = field(default_factory=dict)
    consents: dict[tuple[str, str], bool] = field(default_factory=dict)
    ledger: list[tuple[str, str, bool, str]] = field(default_factory=list)
    segments: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    batch_reads: int = 0  # calls of the batch forms (reach_many, consent_many)

    def add(self, **values: Any) -> str:
        contact_id = values.pop("contact_id", None) or new_id()
        self.people[contact_id] = Person(contact_id=contact_id, **values)
        return contact_id

    def update(self, contact_id: str, **values: Any) -> None:
        self.people[contact_id] = replace(self.people[contact_id], **values)

    async def reach(self, session: AsyncSession, tenant_id: str, contact_id: str) -> Person | None:
        return self.people.get(contact_id)

    async def consent(
        self, session: AsyncSession, tenant_id: str, contact_id: str, channel: str, purpose: str = "survey"
    ) -> bool:
        return self.consent_of(contact_id, channel)

    async def reach_many(
        self, session: AsyncSession, tenant_id: str, contact_ids: Collection[str]
    ) -> dict[str, Person]:
        self.batch_reads += 1
        return {each: self.people[each] for each in contact_ids if each in self.people}

    async def consent_many(
        self,
        session: AsyncSession,
        tenant_id: str,
        wanted: Iterable[tuple[str, str]],
        purpose: str = "survey",
    ) -> dict[tuple[str, str], bool]:
        self.batch_reads += 1
        return {(contact_id, channel): self.consent_of(contact_id, channel) for contact_id, channel in wanted}

    def consent_of(self, contact_id: str, channel: str) -> bool:
        return self.consents.get((contact_id, channel), True)

    async def withdraw(
        self, session: AsyncSession, tenant_id: str, contact_id: str, channel: str, *, source: str
    ) -> None:
        with self.lock:
            self.consents[(contact_id, channel)] = False
            self.ledger.append((contact_id, channel, False, source))

    async def segment(self, session: AsyncSession, tenant_id: str, segment_id: str) -> list[str]:
        from cxloop.kit.errors import not_found

        if segment_id not in self.segments:
            raise not_found("segment")
        return list(self.segments[segment_id])

    async def find(self, session: AsyncSession, tenant_id: str, kind: str, value: str) -> str | None:
        for person in self.people.values():
            if (kind == "phone" and person.phone == value) or (kind == "email" and person.email == value):
                return person.contact_id
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []
        self.refuse: dict[str, int] = {}  # recipient -> SMTP code to answer
        self.fail_data = 0  # answer the next N DATA commands with 451

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        code = self.refuse.get(address)
        if code is not None:
            return f"{code} refused"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.fail_data > 0:
            self.fail_data -= 1
            return "451 try again later"
        self.messages.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(envelope.content, policy=policy.default),
            )
        )
        return "250 Message accepted"


def self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def start_smtp(inbox: Inbox, *, tls_dir: Path | None = None, password: str | None = None) -> Controller:
    kwargs: dict[str, Any] = {}
    if tls_dir is not None:
        cert, key = self_signed(tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        kwargs.update(tls_context=context, require_starttls=True)
    if password is not None:

        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and data.login == b"mailer"
                and data.password == password.encode()
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticate, auth_required=True, auth_require_tls=tls_dir is not None)
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    return controller


async def _drive(url: str, now: dt.datetime) -> dict[str, int]:
    db = Database(url)
    try:
        async with db.session(write=True) as session:
            done = await tick(session, now)
            await session.commit()
            job_ids = take_enqueued(session)
        await run_pending(db, job_ids)
        await close_pools()
        return done
    finally:
        await db.dispose()


async def run_pending(db: Database, job_ids: list[str]) -> None:
    for job_id in job_ids:
        with contextlib.suppress(Exception):  # RetryLater: the job stays in the outbox
            await run_job(db, job_id)


def drive(url: str, now: dt.datetime) -> dict[str, int]:
    """One periodic tick at ``now``, then the delivery jobs it enqueued."""
    return asyncio.run(_drive(url, now))


async def _pending_jobs(url: str, name: str) -> list[str]:
    db = Database(url)
    try:
        async with db.session(write=False) as session:
            found = await session.execute(
                select(OutboxJob.id).where(OutboxJob.name == name, OutboxJob.status != "done")
            )
            return list(found.scalars())
    finally:
        await db.dispose()


def pending_jobs(url: str, name: str = "distribution.deliver") -> list[str]:
    return asyncio.run(_pending_jobs(url, name))


async def _complete(url: str, invitation_id: str) -> None:
    """What a response through the invitation's link does (the pipeline subscriber)."""
    from cxloop.distribution.models import COMPLETED, Invitation

    db = Database(url)
    try:
        async with db.session(write=True) as session:
            invitation = await session.get(Invitation, invitation_id)
            assert invitation is not None
            invitation.status, invitation.responded_at = COMPLETED, invitation.created_at
            await session.commit()
    finally:
        await db.dispose()


def complete(url: str, invitation_id: str) -> None:
    asyncio.run(_complete(url, invitation_id))
