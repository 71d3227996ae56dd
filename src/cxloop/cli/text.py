"""``cxloop text``: re-run the analysis over history, adapt sentiment to a tenant's own scores."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import func, select

from cxloop.cli.common import TenantOption, run_async
from cxloop.collection import Response
from cxloop.identity.tenants import find_tenant
from cxloop.kit.db import Database
from cxloop.kit.settings import Settings

text_app = typer.Typer(no_args_is_help=True, help="Text analytics: re-analyse comments, adapt the models.")


def register(app: typer.Typer) -> None:
    app.add_typer(text_app, name="text")


@text_app.command("reanalyze")
def reanalyze(
    *,
    tenant: TenantOption = None,
    batch: Annotated[int, typer.Option("--batch", min=1, max=5000, help="Responses per transaction.")] = 200,
) -> None:
    """Analyse every complete response again (after the taxonomy or a model changed), with progress.

    Each batch commits on its own, so an interrupted run keeps what it did and
    a second run simply rewrites the same rows."""
    from cxloop.text import engine
    from cxloop.text.service import analysis_context, analyze_response

    async def work(db: Database, settings: Settings) -> tuple[int, int]:
        # The command is its own process: the models load here, not in a child.
        local = settings.model_copy(update={"text_engine": "inline"})
        engine.configure(engine.text_model_dir(local))
        async with db.session(write=False) as session:
            tenant_id = (await find_tenant(session, tenant)).id
            total = (
                await session.scalar(
                    select(func.count()).where(Response.tenant_id == tenant_id, Response.status == "complete")
                )
                or 0
            )
        done = comments = 0
        last = ""
        with Progress(
            TextColumn("analysing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
        ) as progress:
            task = progress.add_task("responses", total=total)
            while True:
                async with db.session(write=True) as session:
                    ids = list(
                        await session.scalars(
                            select(Response.id)
                            .where(
                                Response.tenant_id == tenant_id,
                                Response.status == "complete",
                                Response.id > last,
                            )
                            .order_by(Response.id)
                            .limit(batch)
                        )
                    )
                    if not ids:
                        break
                    context: Any = await analysis_context(session, tenant_id)
                    for response_id in ids:
                        comments += await analyze_response(
                            session, response_id, context=context, settings=local
                        )
                    await session.commit()
                last = ids[-1]
                done += len(ids)
                progress.update(task, completed=done)
        return done, comments

    done, comments = run_async(work)
    typer.echo(f"{done} responses, {comments} comments analysed")


@text_app.command("adapt")
def adapt(*, tenant: TenantOption = None) -> None:
    """Learn the tenant's own sentiment words from its scored comments (NPS 0-6 negative, 9-10 positive:
    a model stacked on the shipped one in Chinese, word weights in English) and the mix of negative,
    neutral and positive in its English comments."""
    from cxloop.text import engine
    from cxloop.text.adapt import Adaptation, train_sentiment_adapters
    from cxloop.text.sentiment import EN_PRIOR_MIN_COMMENTS

    async def work(db: Database, settings: Settings) -> Adaptation:
        engine.configure(engine.text_model_dir(settings))
        async with db.session(write=True) as session:
            tenant_id = (await find_tenant(session, tenant)).id
            adaptation = await train_sentiment_adapters(session, tenant_id)
            await session.commit()
        return adaptation

    adaptation = run_async(work)
    for language, count in sorted(adaptation.learned.items()):
        if not count:
            typer.echo(f"{language}: too few scored comments")
        elif language == "zh" and adaptation.scored_zh is not None:
            taught = ", ".join(f"{label} {n}" for label, n in adaptation.scored_zh["taught_by"].items())
            typer.echo(
                f"zh: a model of {len(adaptation.scored_zh['terms'])} terms, stacked on the shipped one,"
                f" learned from {count} scored comments: {taught}"
            )
        else:
            typer.echo(f"{language}: learned from {count} scored comments")
    if not adaptation.learned:
        typer.echo("no scored comments yet")
    if adaptation.mix is not None:
        shares = ", ".join(f"{label} {share:.2f}" for label, share in adaptation.mix.items())
        typer.echo(f"en: class mix of {adaptation.mix_comments} comments: {shares}")
        if adaptation.taught_by is not None:
            taught = ", ".join(f"{label} {count}" for label, count in adaptation.taught_by.items())
            typer.echo(
                f"en: word model of {adaptation.reader_terms} terms,"
                f" taught by the comments it is sure of: {taught}"
            )
        else:
            typer.echo("en: too few comments the model is sure of in every class for a word model")
    elif adaptation.mix_comments:
        typer.echo(
            f"en: {adaptation.mix_comments} comments, too few to estimate the class mix"
            f" (needs {EN_PRIOR_MIN_COMMENTS})"
        )
    if adaptation.mix is not None or any(adaptation.learned.values()):
        typer.echo("new comments use it now; `cxloop text reanalyze` applies it to the past ones")
