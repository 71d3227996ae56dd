"""The reference: a bare FastAPI + pydantic endpoint with a body like /me's."""

from __future__ import annotations

from fastapi import FastAPI, Header
from pydantic import BaseModel

app = FastAPI()


class Me(BaseModel):
    id: str
    email: str
    name: str
    roles: list[str]


@app.get("/api/v1/me")
async def me(authorization: str = Header(default="")) -> Me:
    return Me(id="01J0000000000000000000000", email="bench@bench.test", name="Bench", roles=["admin"])
