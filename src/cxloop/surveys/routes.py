"""The surveys API: definitions, their lifecycle, templates and the schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse

from cxloop.identity import CurrentPrincipal, Perm, Principal
from cxloop.kit.errors import PayloadTooLarge
from cxloop.kit.http import DbSession, TransactionalRoute
from cxloop.kit.idempotency import idempotent
from cxloop.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, PageRequest
from cxloop.surveys.definition import definition_schema, parse_definition
from cxloop.surveys.importers import MAX_IMPORT_BYTES, import_survey
from cxloop.surveys.schemas import (
    ImportWarningOut,
    SurveyCreate,
    SurveyImportOut,
    SurveyOut,
    SurveyPage,
    SurveyUpdate,
    TemplateList,
    TemplateOut,
    VersionList,
    VersionOut,
)
from cxloop.surveys.service import (
    TEMPLATE_IDS,
    SurveyView,
    close_survey,
    create_survey,
    duplicate_survey,
    get_survey,
    list_surveys,
    list_versions,
    publish_survey,
    template_definition,
    update_survey,
)

router = APIRouter(prefix="/api/v1", route_class=TransactionalRoute, tags=["surveys"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=500)]
CREATED: dict[int | str, dict[str, Any]] = {
    200: {"model": SurveyOut, "description": "Replayed by Idempotency-Key"}
}


def _out(request: Request, principal: Principal, view: SurveyView) -> SurveyOut:
    return SurveyOut.of(view, principal.locale or getattr(request.state, "locale", None))


@router.get(
    "/schemas/survey", summary="The JSON Schema of a survey definition", response_model=dict[str, Any]
)
async def get_survey_schema(principal: CurrentPrincipal) -> JSONResponse:
    return JSONResponse(definition_schema())


@router.get("/survey-templates", response_model=TemplateList, summary="Templates to start a survey from")
async def get_templates(principal: CurrentPrincipal) -> TemplateList:
    return TemplateList(items=[TemplateOut.of(t) for t in TEMPLATE_IDS])


@router.post(
    "/surveys", status_code=201, response_model=SurveyOut, summary="Create a survey", responses=CREATED
)
async def post_survey(
    request: Request, body: SurveyCreate, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    principal.require(Perm.CONFIG_WRITE)

    # Validated before the idempotency fingerprint, which serialises the body.
    if body.template is not None:
        definition = parse_definition(template_definition(body.template, body.language))
    else:
        definition = parse_definition(body.definition)

    async def create() -> Any:
        view = await create_survey(session, principal, definition, body.unit_code)
        return _out(request, principal, view).model_dump(mode="json")

    return await idempotent(
        request, session, principal.idempotency_owner, body.model_dump(mode="json"), create
    )


@router.post(
    "/surveys/import",
    status_code=201,
    response_model=SurveyImportOut,
    summary="A draft survey from a Qualtrics .qsf, LimeSurvey .lss, SurveyJS JSON or XLSForm file",
    responses={400: {"description": "The multipart body cannot be parsed"}},
)
async def post_survey_import(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="The survey file, at most 5 MB")],
) -> SurveyImportOut:
    principal.require(Perm.CONFIG_WRITE)
    data = await file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        raise PayloadTooLarge(f"The survey file is larger than {MAX_IMPORT_BYTES} bytes.")
    result = import_survey(file.filename or "", data)
    view = await create_survey(session, principal, parse_definition(result.definition))
    return SurveyImportOut(
        survey=_out(request, principal, view),
        source_format=result.source_format,
        warnings=[ImportWarningOut(**w) for w in result.warnings],
    )


@router.get("/surveys", response_model=SurveyPage, summary="Surveys of my organisation")
async def get_surveys(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Literal["draft", "published", "closed"] | None = None,
) -> SurveyPage:
    page = await list_surveys(session, principal, PageRequest(limit=limit, cursor=cursor), status)
    return SurveyPage(items=[_out(request, principal, v) for v in page.items], next_cursor=page.next_cursor)


@router.get("/surveys/{survey_id}", response_model=SurveyOut, summary="One survey, with its newest version")
async def get_one_survey(
    request: Request, survey_id: str, session: DbSession, principal: CurrentPrincipal
) -> SurveyOut:
    return _out(request, principal, await get_survey(session, principal, survey_id))


@router.put(
    "/surveys/{survey_id}",
    response_model=SurveyOut,
    summary="Change the definition (a published survey gets a new draft version)",
)
async def put_survey(
    request: Request, survey_id: str, body: SurveyUpdate, session: DbSession, principal: CurrentPrincipal
) -> SurveyOut:
    definition = parse_definition(body.definition)
    return _out(request, principal, await update_survey(session, principal, survey_id, definition))


@router.post("/surveys/{survey_id}/publish", response_model=SurveyOut, summary="Publish the newest version")
async def post_publish(
    request: Request, survey_id: str, session: DbSession, principal: CurrentPrincipal
) -> SurveyOut:
    return _out(request, principal, await publish_survey(session, principal, survey_id))


@router.post("/surveys/{survey_id}/close", response_model=SurveyOut, summary="Stop taking responses")
async def post_close(
    request: Request, survey_id: str, session: DbSession, principal: CurrentPrincipal
) -> SurveyOut:
    return _out(request, principal, await close_survey(session, principal, survey_id))


@router.post(
    "/surveys/{survey_id}/duplicate",
    status_code=201,
    response_model=SurveyOut,
    summary="A new draft survey from this one",
    responses=CREATED,
)
async def post_duplicate(
    request: Request, survey_id: str, session: DbSession, principal: CurrentPrincipal
) -> JSONResponse:
    async def create() -> Any:
        view = await duplicate_survey(session, principal, survey_id)
        return _out(request, principal, view).model_dump(mode="json")

    return await idempotent(request, session, principal.idempotency_owner, {"duplicate": survey_id}, create)


@router.get("/surveys/{survey_id}/versions", response_model=VersionList, summary="A survey's versions")
async def get_versions(survey_id: str, session: DbSession, principal: CurrentPrincipal) -> VersionList:
    versions = await list_versions(session, principal, survey_id)
    return VersionList(items=[VersionOut.of(v) for v in versions])
