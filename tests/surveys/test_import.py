"""Survey import from the shared sample exports: every file maps to a valid
definition (or a clear refusal), exact mappings for a few, warnings for what
cannot be mapped, and damaged files refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from cxloop.surveys.definition import parse_definition
from cxloop.surveys.importers import ImportResult, ImportUnreadable, import_survey

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "surveys"
needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"sample surveys not found at {SAMPLES}")
# Files in the sample folders that are not survey definitions.
NOT_SURVEY_SUFFIXES = {".csv", ".md"}
NOT_SURVEYS = {
    "surveyjs-nodejs_demo_results.json",
    "surveyjs_definition.schema.json",
}


def sample_files() -> list[Path]:
    if not SAMPLES.is_dir():
        return []
    return sorted(p for p in SAMPLES.rglob("*") if p.is_file())


def load(relative: str) -> ImportResult:
    path = SAMPLES / relative
    return import_survey(path.name, path.read_bytes())


def types(result: ImportResult) -> list[tuple[str, str]]:
    return [(q["id"], q["type"]) for page in result.definition["pages"] for q in page["questions"]]


@needs_samples
@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.name)
def test_every_sample_imports_or_is_refused_clearly(path: Path) -> None:
    response_export = "qualtrics-qualtricstools" in path.parts and path.suffix != ".qsf"
    if path.name in NOT_SURVEYS or path.suffix in NOT_SURVEY_SUFFIXES or response_export:
        with pytest.raises(ImportUnreadable) as refused:
            import_survey(path.name, path.read_bytes())
        assert refused.value.status == 422
        assert refused.value.code == "import_unreadable"
        assert str(refused.value)
        return
    result = import_survey(path.name, path.read_bytes())
    # The same validation as POST /api/v1/surveys, and stable: it is already in stored form.
    assert parse_definition(result.definition).model_dump(mode="json", exclude_none=True) == result.definition
    for warning in result.warnings:
        assert set(warning) == {"source", "message"} and warning["source"] and warning["message"]


@needs_samples
def test_qualtrics_single_answer_choices_map_exactly() -> None:
    result = load(
        "qualtrics-qualtricstools/Single Answer Multiple Choice Questions/Single_Answer_MC_Questions.qsf"
    )
    assert result.source_format == "Qualtrics QSF"
    assert [t for _, t in types(result)] == ["single_choice"] * 5
    first = result.definition["pages"][0]["questions"][0]
    assert all(c["id"].startswith("c") for c in first["choices"])


@needs_samples
def test_qualtrics_unmappable_items_are_warnings_with_their_source() -> None:
    result = load("qualtrics-qualtricstools/Side-by-Side Questions/Side-by-Side_Questions.qsf")
    assert types(result) == []
    sbs = [w for w in result.warnings if "SBS" in w["message"]]
    assert sbs and all(w["source"].startswith("QID") for w in sbs)
    assert sbs[0]["message"].endswith("has no cxloop equivalent; not imported")


@needs_samples
def test_qualtrics_block_order_and_duplicate_blocks_in_the_flow() -> None:
    result = load("qualtrics-qualtricstools/Survey Logic/Survey_Logic_EVERYWHERE.qsf")
    assert [t for _, t in types(result)] == ["single_choice"] * 4 + ["matrix"]
    messages = [w["message"] for w in result.warnings]
    assert "survey flow element 'Branch' is not imported" in messages
    assert any(m.startswith("display logic not imported") for m in messages)


@needs_samples
def test_surveyjs_demo_maps_types_and_matrix_scale() -> None:
    result = load("surveyjs/surveyjs-nodejs_demo_survey_1.json")
    assert result.definition["title"] == {"en": "Product Feedback Survey"}
    found = types(result)
    assert len(found) == 9
    assert found[0] == ("Quality", "matrix")
    matrix = result.definition["pages"][0]["questions"][0]
    assert [p["value"] for p in matrix["scale"]] == [1, 2, 3, 4, 5]
    assert matrix["rows"][1]["id"] == "does_what_it_claims"
    assert any("'does what it claims'->'does_what_it_claims'" in w["message"] for w in result.warnings)


@needs_samples
def test_xlsform_languages_groups_and_old_select_syntax() -> None:
    result = load("xlsform-pyxform/xlsform_spec_test.xlsx")
    assert result.definition["languages"] == ["zh", "en"] or "en" in result.definition["languages"]
    assert len(types(result)) == 20
    old = load("xlsform-pyxform/yes_or_no_question.xlsx")
    assert types(old) == [("good_day", "single_choice")]
    assert [c["id"] for c in old.definition["pages"][0]["questions"][0]["choices"]] == ["yes", "no"]
    hidden = load("xlsform-pyxform/hidden.xls")
    assert hidden.definition["embedded"] == [{"name": "hidden_test"}]


@needs_samples
def test_xlsform_unknown_types_and_columns_are_warnings() -> None:
    result = load("xlsform-pyxform/widgets.xls")
    messages = [(w["source"], w["message"]) for w in result.warnings]
    assert ("survey row 3", "column 'jr::constraintMsg' is not imported") in messages
    assert any(m.startswith("constraint ") for _, m in messages)


@needs_samples
def test_limesurvey_maps_choices_arrays_and_relevance_warnings() -> None:
    result = load("limesurvey-citric/answers.lss")
    assert [t for _, t in types(result)] == ["multiple_choice", "matrix"]
    survey = load("limesurvey-citric/survey.lss")
    assert [t for _, t in types(survey)] == ["text", "rating", "single_choice"]
    assert any(w["source"] == "question_attributes" for w in survey.warnings)


SMALL_SURVEYJS = {
    "title": {"default": "Visit", "zh-cn": "到店"},
    "pages": [
        {
            "name": "p1",
            "elements": [
                {
                    "type": "rating",
                    "name": "nps",
                    "title": "Recommend?",
                    "rateMin": 0,
                    "rateMax": 10,
                    "isRequired": True,
                },
                {
                    "type": "checkbox",
                    "name": "why",
                    "title": "Why?",
                    "choices": ["price", "staff"],
                    "hasOther": True,
                },
                {"type": "signaturepad", "name": "sign"},
            ],
        },
        {
            "name": "p2",
            "elements": [
                {"type": "comment", "name": "low", "title": "What went wrong?", "visibleIf": "{nps} <= 6"},
                {
                    "type": "text",
                    "name": "staff_name",
                    "visibleIf": "{why} contains 'staff' and {nps} notempty",
                },
                {"type": "text", "name": "odd", "visibleIf": "({nps} > 1 or {nps} < 0) and {why} empty"},
            ],
        },
    ],
}


def test_surveyjs_logic_translations_and_warnings() -> None:
    result = import_survey("visit.json", json.dumps(SMALL_SURVEYJS).encode())
    d = result.definition
    assert d["languages"] == ["en", "zh-CN"] and d["title"] == {"en": "Visit", "zh-CN": "到店"}
    p1, p2 = d["pages"]
    assert p1["questions"][0] == {"id": "nps", "type": "nps", "text": {"en": "Recommend?"}, "required": True}
    assert [c["id"] for c in p1["questions"][1]["choices"]] == ["price", "staff", "other"]
    assert p2["questions"][0]["display_logic"] == {
        "source": "answers",
        "field": "nps",
        "op": "le",
        "value": 6,
    }
    assert p2["questions"][1]["display_logic"] == {
        "all": [
            {"source": "answers", "field": "why", "op": "contains", "value": "staff"},
            {"source": "answers", "field": "nps", "op": "answered"},
        ]
    }
    assert "display_logic" not in p2["questions"][2]
    assert result.warnings == [
        {
            "source": "pages[0].elements[2] sign",
            "message": "element type 'signaturepad' has no cxloop equivalent; not imported",
        },
        {
            "source": "pages[1].elements[2] odd",
            "message": "visibleIf '({nps} > 1 or {nps} < 0) and {why} empty' is not expressible "
            "as a cxloop condition; not imported",
        },
    ]


def test_logic_on_the_same_page_starts_a_new_page() -> None:
    survey = {
        "elements": [{"type": "text", "name": "a"}, {"type": "text", "name": "b", "visibleIf": "{a} = ‘x’"}]
    }
    result = import_survey("same.json", json.dumps(survey).encode())
    first, second = result.definition["pages"]
    assert [q["id"] for q in first["questions"]] == ["a"]
    assert second["questions"][0]["display_logic"] == {
        "source": "answers",
        "field": "a",
        "op": "eq",
        "value": "x",
    }
    assert result.warnings == [
        {
            "source": "pages[0].elements[1] b",
            "message": "a new page starts at 'b' so its display logic can use ['a']",
        }
    ]


def test_logic_on_a_later_question_is_a_warning() -> None:
    survey = {
        "pages": [
            {"name": "p1", "visibleIf": "{later} = 1", "elements": [{"type": "text", "name": "a"}]},
            {
                "name": "p2",
                "elements": [{"type": "text", "name": "later", "visibleIf": "{a} = 'x' and {a} <= 'y'"}],
            },
        ]
    }
    result = import_survey("odd.json", json.dumps(survey).encode())
    assert result.definition["pages"][1]["questions"][0]["display_logic"]["all"][0]["field"] == "a"
    assert result.warnings[0] == {
        "source": "pages[0]",
        "message": "visibleIf '{later} = 1' is not expressible as a cxloop condition; not imported",
    }


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.qsf", b"", "The file is empty."),
        ("cut.qsf", b'{"SurveyEntry": {"SurveyName": "x"}, "SurveyEl', "The file is not valid JSON"),
        ("latin1.qsf", '{"SurveyEntry": {"SurveyName": "caf\u00e9"}}'.encode("latin-1"), "not valid UTF-8"),
        ("cut.lss", b"<?xml version='1.0'?><document><LimeSurveyDocType>Survey</Lime", "not readable XML"),
        (
            "bomb.lss",
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><document>&a;</document>',
            "not readable XML",
        ),
        ("other.xml", b"<html><body/></html>", "not a LimeSurvey export"),
        ("cut.xlsx", b"PK\x03\x04" + b"\x00" * 40, "cannot be read"),
        ("cut.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 40, "cannot be read"),
        ("notes.txt", b"hello", "Unknown survey file"),
        ("list.json", b"[1, 2]", "neither a Qualtrics"),
    ],
)
def test_damaged_files_are_refused(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ImportUnreadable) as refused:
        import_survey(name, data)
    assert refused.value.code == "import_unreadable"
    assert message in str(refused.value)


def test_too_large_is_refused() -> None:
    with pytest.raises(ImportUnreadable, match="larger than 5 MB"):
        import_survey("big.json", b" " * (5 * 1024 * 1024 + 1))


def test_a_zip_that_is_not_a_workbook_and_deep_panels() -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("word/document.xml", "<x/>")
    with pytest.raises(ImportUnreadable, match="cannot be read"):
        import_survey("letter.xlsx", archive.getvalue())
    inner: dict[str, object] = {"type": "text", "name": "deep"}
    for _ in range(300):
        inner = {"type": "panel", "elements": [inner]}
    result = import_survey("deep.json", json.dumps({"elements": [inner]}).encode())
    assert result.definition["pages"][0]["questions"] == []
    assert result.warnings[0]["message"] == "panels nested more than 10 deep are not imported"


@pytest.mark.parametrize(
    "document",
    [
        {
            "SurveyEntry": {"SurveyName": "x"},
            "SurveyElements": [{"Element": "BL", "Payload": [{"BlockElements": 3}]}],
        },
        {
            "SurveyEntry": {"SurveyName": "x"},
            "SurveyElements": [
                {"Element": "BL", "Payload": [{"ID": "b", "BlockElements": [{"QuestionID": "QID1"}]}]},
                {"Element": "SQ", "Payload": {"QuestionID": "QID1", "QuestionType": "MC", "Validation": "x"}},
            ],
        },
        {"pages": [{"elements": [{"type": "radiogroup", "name": "a", "choices": [{"value": {"x": 1}}]}]}]},
    ],
)
def test_oddly_shaped_exports_are_refused_or_imported_never_crash(document: dict[str, object]) -> None:
    try:
        result = import_survey("odd.json", json.dumps(document).encode())
    except ImportUnreadable as refused:
        assert refused.status == 422
    else:
        parse_definition(result.definition)


def test_long_texts_are_cut_with_a_warning() -> None:
    survey = {"elements": [{"type": "text", "name": "a", "title": "x" * 6000}]}
    result = import_survey("long.json", json.dumps(survey).encode())
    assert result.definition["pages"][0]["questions"][0]["text"] == {"en": "x" * 5000}
    assert result.warnings == [
        {"source": "pages[0].questions[0].text.en", "message": "text cut to 5000 of 6000 characters"}
    ]
