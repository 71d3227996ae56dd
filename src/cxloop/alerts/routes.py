"""The alerts API."""

from __future__ import annotations

from fastapi import APIRouter

from cxloop.kit.http import TransactionalRoute

router = APIRouter(prefix="/api/v1", tags=["alerts"], route_class=TransactionalRoute)
