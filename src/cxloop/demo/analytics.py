"""Demo step ``rollups``: the analytics rollups built from the demo history.

The ``surveys`` step writes its 18 months of responses in bulk, outside the
post-commit pipeline, so nothing has counted them yet. The metrics engine
answers whole-period questions from the rollups; without them every
dashboard of a fresh demo would be empty. This step counts the history in
the step's own transaction, batch by batch, with the same function the
pipeline uses for each new response, so the numbers are the ones live
traffic would have produced.
"""

from __future__ import annotations

from sqlalchemy import select

from cxloop.analytics.rollups import refresh_responses
from cxloop.analytics.schemas import TargetIn
from cxloop.analytics.service import set_target
from cxloop.collection import Response
from cxloop.demo.registry import SeedContext, seed_step
from cxloop.demo.surveys import demo_principal

# What the chain aims for: a company-wide bar, and a higher one for East China,
# whose stores the regional manager's dashboard compares against it.
TARGETS = (
    (None, "nps", 30.0),
    (None, "csat", 90.0),
    ("EAST", "nps", 35.0),
)

BATCH = 5000


@seed_step("rollups", order=22)
async def seed_rollups(ctx: SeedContext) -> None:
    """Count the demo's historical responses into the analytics rollups."""
    last_id = ""
    while True:
        ids = list(
            await ctx.session.scalars(
                select(Response.id)
                .where(Response.tenant_id == ctx.tenant.id, Response.id > last_id)
                .order_by(Response.id)
                .limit(BATCH)
            )
        )
        if not ids:
            return
        await refresh_responses(ctx.session, ids)
        last_id = ids[-1]


@seed_step("targets", order=23)
async def seed_targets(ctx: SeedContext) -> None:
    """NPS and CSAT targets, so the tiles "against target" show how far each unit is from them."""
    principal = demo_principal(ctx)
    for unit_code, metric, value in TARGETS:
        await set_target(ctx.session, principal, TargetIn(unit_code=unit_code, metric=metric, value=value))
