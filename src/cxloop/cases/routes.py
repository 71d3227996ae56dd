"""The cases API."""

from __future__ import annotations

from fastapi import APIRouter

from cxloop.kit.http import TransactionalRoute

router = APIRouter(prefix="/api/v1", tags=["cases"], route_class=TransactionalRoute)
