"""Which column feeds which part of a response, and a first guess at it.

A target is ``answers.<question>`` (``answers.<matrix>.<row>``,
``answers.<servqual>.expectation|perception``, ``answers.<multiple or ranking>.<choice>``,
``answers.<single choice>.other_text``), ``unit_code``, ``channel``,
``touchpoint``, ``language``, ``submitted_at``, ``contact.email|phone|external_id``,
``embedded.<name>`` or ``ignore``. A bare question id stands for ``answers.<id>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from cxloop.collection.imports.reading import Column, Table
from cxloop.kit.errors import FieldError, ValidationFailed
from cxloop.surveys import SurveyDefinition

IGNORE = "ignore"
OTHER_TEXT = "other_text"
# Question types whose "other" choice carries the respondent's text.
TAKES_TEXT = ("single_choice", "dropdown", "multiple_choice")


def _takes_text(question: Any) -> bool:
    return question.type in TAKES_TEXT and any(choice.other for choice in question.choices)


RESPONSE_FIELDS = (
    "unit_code",
    "channel",
    "touchpoint",
    "language",
    "submitted_at",
    "contact.email",
    "contact.phone",
    "contact.external_id",
)
MAX_MAPPING_BYTES = 200_000

# Column names other tools and people use, casefolded, by target; earlier names win
# (a Qualtrics RecordedDate says when the answers were saved, StartDate when typing began).
COMMON_NAMES: dict[str, tuple[str, ...]] = {
    "submitted_at": (
        "submitted_at",
        "recordeddate",
        "recorded date",
        "enddate",
        "end date",
        "submitted",
        "submitted at",
        "submission date",
        "timestamp",
        "提交时间",
        "提交日期",
        "完成时间",
        "答题时间",
        "startdate",
        "start date",
        "开始时间",
    ),
    "unit_code": (
        "unit_code",
        "unit",
        "unit code",
        "store",
        "store code",
        "store_code",
        "门店",
        "门店编码",
        "门店代码",
        "单位",
        "单位编码",
    ),
    "channel": ("channel", "渠道", "来源渠道"),
    "touchpoint": ("touchpoint", "touch point", "触点", "接触点"),
    "language": ("language", "lang", "userlanguage", "user language", "语言"),
    "contact.email": (
        "contact.email",
        "email",
        "e-mail",
        "email address",
        "emailaddress",
        "recipientemail",
        "邮箱",
        "电子邮箱",
        "电子邮件",
    ),
    "contact.phone": (
        "contact.phone",
        "phone",
        "mobile",
        "telephone",
        "phone number",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "联系电话",
    ),
    "contact.external_id": (
        "contact.external_id",
        "external_id",
        "externalreference",
        "externaldatareference",
        "external reference",
        "customer_id",
        "customer id",
        "客户编号",
        "客户id",
        "会员号",
    ),
}
# Qualtrics' ImportIds of its own metadata columns.
QUALTRICS_IDS = {
    "recordeddate": "submitted_at",
    "enddate": "submitted_at",
    "startdate": "submitted_at",
    "userlanguage": "language",
    "recipientemail": "contact.email",
    "externaldatareference": "contact.external_id",
}


def targets(definition: SurveyDefinition) -> list[str]:
    """Every target a column may have for this survey, in question order."""
    found: list[str] = []
    for _, question in definition.questions():
        if question.type == "matrix":
            found += [f"answers.{question.id}.{row.id}" for row in question.rows]
        elif question.type == "servqual":
            found += [f"answers.{question.id}.expectation", f"answers.{question.id}.perception"]
        else:
            found.append(f"answers.{question.id}")
        if question.type in ("multiple_choice", "ranking"):
            # One column per choice, as exports write them: picked 1/0, or the rank.
            found += [f"answers.{question.id}.{choice.id}" for choice in question.choices]
        if _takes_text(question):
            found.append(f"answers.{question.id}.{OTHER_TEXT}")
    found += RESPONSE_FIELDS
    found += [f"embedded.{field.name}" for field in definition.embedded]
    return found


def _fold(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


class _Guesser:
    def __init__(self, definition: SurveyDefinition) -> None:
        self.known = targets(definition)
        self.by_fold: dict[str, str] = {}
        for target in self.known:
            self.by_fold.setdefault(target.casefold(), target)
            bare = target.removeprefix("answers.").removeprefix("embedded.")
            self.by_fold.setdefault(bare.casefold(), target)
        self.by_text: dict[str, str] = {}
        self.matrix: dict[str, tuple[str, dict[str, str]]] = {}
        self.takes_text: dict[str, str] = {}
        for _, question in definition.questions():
            for text in question.text.values():
                if question.type not in ("matrix", "servqual"):
                    self.by_text.setdefault(_fold(text), f"answers.{question.id}")
            if _takes_text(question):
                self.takes_text[question.id.casefold()] = question.id
            if question.type in ("multiple_choice", "ranking"):
                picks = {choice.id.casefold(): choice.id for choice in question.choices}
                self.matrix[question.id.casefold()] = (question.id, picks)
            if question.type == "matrix":
                rows = {row.id.casefold(): row.id for row in question.rows}
                self.matrix[question.id.casefold()] = (question.id, rows)
                for row in question.rows:
                    for text in row.text.values():
                        self.by_text.setdefault(_fold(text), f"answers.{question.id}.{row.id}")
        self.common = {name: target for target, names in COMMON_NAMES.items() for name in names}
        self.rank = {name: rank for names in COMMON_NAMES.values() for rank, name in enumerate(names)}

    def _by_id(self, name: str) -> str | None:
        folded = name.strip().casefold()
        target = self.by_fold.get(folded)
        if target is not None:
            return target
        # Qualtrics names matrix rows Q3_1 (ImportId QID3_1), the choices of a legacy multiple
        # choice export Q5_2, and text entries QID2_TEXT; its .qsf importer names them r1 and c2.
        base, _, rest = folded.rpartition("_")
        if base and base in self.matrix:
            question_id, rows = self.matrix[base]
            row = rows.get(rest) or rows.get(f"r{rest}") or rows.get(f"c{rest}")
            if row:
                return f"answers.{question_id}.{row}"
        if folded.endswith("_text"):
            # Q2_4_TEXT: what was typed for choice 4 of Q2, the choice that takes text.
            owner = folded.removesuffix("_text").rpartition("_")[0]
            if owner in self.takes_text:
                return f"answers.{self.takes_text[owner]}.{OTHER_TEXT}"
            return self.by_fold.get(folded.removesuffix("_text"))
        return None

    def guess(self, column: Column) -> tuple[str, int]:
        """(target, rank): lower ranks are surer; a target goes to its surest column."""
        if column.import_id:
            target = self._by_id(column.import_id)
            if target:
                return target, 0
            meta = QUALTRICS_IDS.get(column.import_id.casefold())
            if meta:
                return meta, 100 + self.rank.get(column.import_id.casefold(), 50)
        target = self._by_id(column.name)
        if target:
            return target, 1
        for text in (column.name, column.text):
            target = self.by_text.get(_fold(text))
            if target:
                return target, 2
        for text in (column.name, column.text):
            folded = _fold(text)
            if folded in self.common:
                return self.common[folded], 100 + self.rank[folded]
        return IGNORE, 0


def suggest(table: Table, definition: SurveyDefinition) -> dict[str, str]:
    """Column name -> target for every column; each target goes to one column at most."""
    guesser = _Guesser(definition)
    guesses = {column.name: guesser.guess(column) for column in table.columns}
    best: dict[str, tuple[int, int]] = {}
    for position, (target, rank) in enumerate(guesses.values()):
        if target != IGNORE and (target not in best or (rank, position) < best[target]):
            best[target] = (rank, position)
    winners = {position for _, position in best.values()}
    return {
        name: (target if position in winners else IGNORE)
        for position, (name, (target, _)) in enumerate(guesses.items())
    }


def parse_mapping(raw: str | bytes | None) -> dict[str, str] | None:
    """A mapping sent as JSON text: {"column": "target", ...}."""
    if raw is None or (isinstance(raw, str | bytes) and not raw.strip()):
        return None
    if len(raw) > MAX_MAPPING_BYTES:
        raise _refused([FieldError("mapping", f"is longer than {MAX_MAPPING_BYTES} bytes")])
    try:
        value: Any = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _refused([FieldError("mapping", f"is not valid JSON: {exc}")]) from exc
    if isinstance(value, dict) and set(value) == {"columns"} and isinstance(value["columns"], dict):
        value = value["columns"]
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _refused(
            [FieldError("mapping", 'must be an object of column name to target: {"NPS": "answers.nps"}')]
        )
    return dict(value)


def _refused(errors: list[FieldError]) -> ValidationFailed:
    return ValidationFailed(
        "The column mapping is not valid; see errors.", code="invalid_mapping", errors=errors
    )


def resolve(table: Table, definition: SurveyDefinition, given: Mapping[str, str] | None) -> dict[str, str]:
    """The mapping used: the suggestion, with every column ``given`` names set as given."""
    mapping = suggest(table, definition)
    if not given:
        return mapping
    known = set(targets(definition))
    errors: list[FieldError] = []
    for column, wanted in given.items():
        if column not in mapping:
            errors.append(FieldError(f"mapping.{column}", f"the file has no column {column!r}"))
            continue
        target = wanted.strip()
        if target != IGNORE and target not in known and f"answers.{target}" in known:
            target = f"answers.{target}"
        if target != IGNORE and target not in known:
            errors.append(
                FieldError(f"mapping.{column}", f"{wanted!r} is not a question or field of this survey")
            )
            continue
        mapping[column] = target
    for column in given:
        if column in mapping and mapping[column] != IGNORE and given.get(column):
            # The given targets take precedence over guesses for the same target.
            for other, target in mapping.items():
                if other != column and other not in given and target == mapping[column]:
                    mapping[other] = IGNORE
    errors += _duplicates(mapping.items())
    if errors:
        raise _refused(errors)
    return mapping


def _duplicates(pairs: Iterable[tuple[str, str]]) -> list[FieldError]:
    first: dict[str, str] = {}
    errors: list[FieldError] = []
    for column, target in pairs:
        if target == IGNORE:
            continue
        if target in first:
            errors.append(
                FieldError(f"mapping.{column}", f"{target!r} is already fed by column {first[target]!r}")
            )
        else:
            first.setdefault(target, column)
    return errors
