"""The customers API."""

from __future__ import annotations

from fastapi import APIRouter

from cxloop.kit.http import TransactionalRoute

router = APIRouter(prefix="/api/v1", tags=["customers"], route_class=TransactionalRoute)
