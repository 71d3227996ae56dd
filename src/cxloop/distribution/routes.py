"""The distribution API."""

from __future__ import annotations

from fastapi import APIRouter

from cxloop.kit.http import TransactionalRoute

router = APIRouter(prefix="/api/v1", tags=["distribution"], route_class=TransactionalRoute)
