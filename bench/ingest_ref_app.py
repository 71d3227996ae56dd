"""The ingest reference: a plain FastAPI endpoint that validates the ~1 KB
response body with pydantic and inserts one row with SQLAlchemy async, the
way a small service would. No auth, no survey lookup, no outbox.

Reads its database from CXLOOP_BENCH_REF_URL (sqlite+aiosqlite or
postgresql+psycopg); the table ``bench_ref_responses`` is created by the driver.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import JSON, DateTime, MetaData, String, event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

URL = os.environ["CXLOOP_BENCH_REF_URL"]


class Base(DeclarativeBase):
    metadata = MetaData()


class RefResponse(Base):
    __tablename__ = "bench_ref_responses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    touchpoint: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(35))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answers: Mapped[Any] = mapped_column(JSON)
    contact: Mapped[Any] = mapped_column(JSON)
    embedded: Mapped[Any] = mapped_column(JSON)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Answers(Strict):
    nps: int = Field(ge=0, le=10)
    csat: int | None = Field(default=None, ge=1, le=5)
    ces: int | None = Field(default=None, ge=1, le=7)
    visit_reason: Literal["groceries", "promotion", "pickup"] | None = None
    liked: list[Literal["staff", "fresh", "price", "clean"]] = Field(default_factory=list, max_length=3)
    staff_rating: int | None = Field(default=None, ge=1, le=5)
    area: Literal["produce", "bakery", "household"] | None = None
    visits: int | None = Field(default=None, ge=0, le=100)
    comment: str | None = Field(default=None, max_length=2000)
    contact_ok: bool | None = None


class Contact(Strict):
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    external_id: str | None = Field(default=None, max_length=128)


class ResponseIn(Strict):
    answers: Answers
    unit_code: str = Field(min_length=1, max_length=64)
    channel: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    touchpoint: str = Field(min_length=1, max_length=64)
    language: Literal["zh-CN", "en"]
    submitted_at: AwareDatetime
    contact: Contact
    embedded: dict[str, str | int | float | bool | None] = Field(max_length=100)


class Created(BaseModel):
    id: str
    received_at: datetime


engine = create_async_engine(URL, pool_size=10, max_overflow=10)
if URL.startswith("sqlite"):
    # The same pragmas cxloop uses, so the file-level cost is alike.
    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


sessions = async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.post("/responses", status_code=201)
async def create(body: ResponseIn) -> Created:
    now = datetime.now(UTC)
    row = RefResponse(
        id=str(uuid.uuid4()),
        unit_code=body.unit_code,
        channel=body.channel,
        touchpoint=body.touchpoint,
        language=body.language,
        submitted_at=body.submitted_at,
        received_at=now,
        answers=body.answers.model_dump(),
        contact=body.contact.model_dump(exclude_none=True),
        embedded=body.embedded,
    )
    async with sessions() as session:
        session.add(row)
        await session.commit()
    return Created(id=row.id, received_at=now)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
