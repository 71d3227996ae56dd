"""Demo text analytics: the default taxonomy saved and the newest comments
analysed, so /text and topic widgets have data right after ``cxloop demo``.

Only the newest comments are analysed here (the demo must stay fast); ``cxloop
text reanalyze`` does the rest of the history.
"""

from __future__ import annotations

from sqlalchemy import select

from cxloop.collection import Response
from cxloop.demo.registry import SeedContext, seed_step
from cxloop.kit.settings import get_settings
from cxloop.text import engine
from cxloop.text.service import analysis_context, analyze_response

DEMO_ANALYSED = 1500


@seed_step("text", order=35)
async def seed_text(ctx: SeedContext) -> None:
    """Save the default taxonomy and analyse the newest demo comments."""
    model_dir = engine.configured_model_dir() or engine.text_model_dir(get_settings())
    settings = get_settings().model_copy(update={"text_engine": "inline", "text_model_dir": model_dir})
    engine.configure(model_dir)
    context = await analysis_context(ctx.session, ctx.tenant.id)
    ids = await ctx.session.scalars(
        select(Response.id)
        .where(Response.tenant_id == ctx.tenant.id, Response.status == "complete")
        .order_by(Response.submitted_at.desc())
        .limit(DEMO_ANALYSED * 3)
    )
    analysed = 0
    for response_id in ids:
        analysed += (
            1 if await analyze_response(ctx.session, response_id, context=context, settings=settings) else 0
        )
        if analysed >= DEMO_ANALYSED:
            break
