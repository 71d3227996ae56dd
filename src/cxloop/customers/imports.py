"""Contact import from CSV/XLSX: read, map columns, check every row, then store in bulk.

Every row is checked before anything is written; errors name the row (as
the spreadsheet numbers it, the header being row 1) and the column. Modes:
``all_or_nothing`` (one bad row refuses the file), ``skip_bad_rows``, and a
dry run of either. Storing does not go row by row through ``upsert``: the
identities of the whole file are looked up in chunks by blind index and new
contacts and identities are inserted with one executemany each (measured:
100,000 rows in bench/contacts_import.py). Rows that name an existing
contact update it; rows of the file that share an identity become one
contact. Import never merges two existing contacts (that needs verified
identities, see upsert).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from sqlalchemy import Table as SqlTable
from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cxloop.customers.attributes import check_value, definitions
from cxloop.customers.crypto import aad, keyring
from cxloop.customers.identities import KINDS, PRIORITY, BadIdentity, index_form, normalise
from cxloop.customers.models import Contact, ContactIdentity
from cxloop.customers.service import check_profile
from cxloop.identity import Perm, Principal, Unit
from cxloop.kit.clock import utc_now
from cxloop.kit.errors import FieldError, ValidationFailed, invalid
from cxloop.kit.ids import new_id

MAX_FILE_BYTES = 30 * 1024 * 1024
MAX_ROWS = 200_000
MAX_COLUMNS = 500
MAX_UNZIPPED_BYTES = 600 * 1024 * 1024
IGNORE = "ignore"
PROFILE = ("name", "first_name", "language", "timezone", "unit_code", "tags")
Mode = Literal["all_or_nothing", "skip_bad_rows"]
_TAG_SPLIT = re.compile(r"\s*[;；,，、|]\s*")
CHUNK = 500
_CONTACTS = cast(SqlTable, Contact.__table__)
_IDENTITIES = cast(SqlTable, ContactIdentity.__table__)

# Header words (folded) a column is recognised by.
_GUESSES: dict[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "mail", "邮箱", "电子邮件", "邮件"),
    "phone": ("phone", "mobile", "tel", "telephone", "cell", "手机", "手机号", "电话", "联系电话"),
    "wechat_openid": ("openid", "wechat_openid", "微信openid"),
    "wechat_unionid": ("unionid", "wechat_unionid"),
    "wecom_userid": ("wecom_userid", "企业微信"),
    "alipay_user_id": ("alipay_user_id", "支付宝"),
    "member_id": ("member_id", "member", "会员号", "会员编号", "会员id"),
    "external_id": ("external_id", "customer_id", "客户编号"),
    "name": ("name", "full_name", "姓名", "名字"),
    "first_name": ("first_name", "given_name", "名"),
    "language": ("language", "lang", "语言"),
    "timezone": ("timezone", "time_zone", "时区"),
    "unit_code": ("unit", "unit_code", "store", "门店", "门店编码", "单位"),
    "tags": ("tags", "tag", "标签"),
}


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class RowError:
    row: int
    column: str | None
    message: str


@dataclass
class Outcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)


class RowsInvalid(ValidationFailed):
    def __init__(self, outcome: Outcome) -> None:
        listed = [
            FieldError(f"row {e.row}" + (f", {e.column}" if e.column else ""), e.message)
            for e in outcome.errors[:200]
        ]
        super().__init__(
            f"{len(outcome.errors)} problem(s) in the file; nothing was imported.",
            code="import_rows_invalid",
            errors=listed,
        )
        self.outcome = outcome


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10] if type(value).__name__ == "datetime" else str(value.isoformat())
    return str(value).strip()


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Excel on Chinese Windows saves CSV as GB18030 (a superset of GBK).
        return data.decode("gb18030")


def read_table(data: bytes, filename: str) -> Table:
    """The table in a contact file; raises ValidationFailed (code on the ``file`` field) for any
    file it cannot read, including one with more than MAX_ROWS rows, which is refused as it is read."""
    if len(data) > MAX_FILE_BYTES:
        raise invalid(
            "file", f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB.", code="file_too_large"
        )
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        rows = _xlsx_rows(data)
    else:
        rows = _csv_rows(data)
    if not rows:
        raise invalid("file", "The file has no header row.", code="empty_file")
    header = [name.strip() for name in rows[0]]
    seen: set[str] = set()
    for index, given in enumerate(header):
        name = given or f"column {index + 1}"
        header[index] = name
        if name in seen:
            raise invalid("file", f"The column {name!r} appears twice.", code="duplicate_column")
        seen.add(name)
    width = len(header)
    body = [(row + [""] * width)[:width] for row in rows[1:]]
    return Table(header, body)


def _keep(rows: list[list[str]], cells: list[str]) -> None:
    """Adds a non-blank row; stops the read as soon as the file is over the limits."""
    if not any(cells):
        return
    if len(cells) > MAX_COLUMNS:
        raise invalid("file", f"A row has more than {MAX_COLUMNS} columns.", code="too_many_columns")
    rows.append(cells)
    if len(rows) - 1 > MAX_ROWS:
        raise invalid("file", f"The file has more than {MAX_ROWS} rows.", code="too_many_rows")


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = _decode(data)
    except UnicodeDecodeError as exc:
        raise invalid("file", "The file is neither UTF-8 nor GB18030 text.", code="unreadable_file") from exc
    if "\x00" in text:
        raise invalid(
            "file", "The file contains NUL characters: it is not a CSV text file.", code="unreadable_file"
        )
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[str]] = []
    try:
        # newline="" lets the csv module see every line ending (CR alone included) and quoted line breaks.
        for row in csv.reader(io.StringIO(text, newline=""), dialect):
            _keep(rows, [cell.strip() for cell in row])
    except csv.Error as exc:
        raise invalid(
            "file", f"The CSV cannot be read at row {len(rows) + 1}: {exc}.", code="unreadable_file"
        ) from exc
    return rows


def _xlsx_rows(data: bytes) -> list[list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile as exc:
        raise invalid("file", "The file is not a readable XLSX workbook.", code="unreadable_file") from exc
    if unzipped > MAX_UNZIPPED_BYTES:
        # A small zip can inflate to gigabytes; real contact lists of MAX_ROWS rows stay well below this.
        raise invalid(
            "file",
            f"The workbook unpacks to more than {MAX_UNZIPPED_BYTES // (1024 * 1024)} MB; split it.",
            code="file_too_large",
        )
    from openpyxl import load_workbook

    rows: list[list[str]] = []
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            if not book.worksheets:
                raise invalid("file", "The workbook has no sheet.", code="empty_file")
            for values in book.worksheets[0].iter_rows(values_only=True):
                _keep(rows, [_cell(value) for value in values])
        finally:
            book.close()
    except ValidationFailed:
        raise
    except Exception as exc:  # openpyxl lets zipfile's, zlib's, the XML parser's and its own errors through
        raise invalid("file", "The file is not a readable XLSX workbook.", code="unreadable_file") from exc
    return rows


def _fold(text: str) -> str:
    return re.sub(r"[\s\-_.:：()（）]+", "_", text.strip().lower()).strip("_")


def suggest(table: Table) -> dict[str, str]:
    """A target for each column: an identity kind, a profile field, ``attr:<key>`` or ignore."""
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for column in table.columns:
        folded = _fold(column)
        target = IGNORE
        for candidate, words in _GUESSES.items():
            if candidate not in taken and folded in {_fold(w) for w in words}:
                target = candidate
                break
        else:
            if folded.startswith("attr_") and re.match(r"^[a-z][a-z0-9_]{0,63}$", folded[5:]):
                target = "attr:" + folded[5:]
            elif re.match(r"^[a-z][a-z0-9_]{0,63}$", folded):
                target = "attr:" + folded
        if target != IGNORE and not target.startswith("attr:"):
            taken.add(target)
        mapping[column] = target
    return mapping


def targets() -> list[str]:
    return [*KINDS, *PROFILE]


def check_mapping(table: Table, given: dict[str, str] | None) -> dict[str, str]:
    mapping = dict(suggest(table))
    errors: list[FieldError] = []
    for column, target in (given or {}).items():
        if column not in table.columns:
            errors.append(FieldError(f"mapping.{column}", "no such column in the file"))
        elif (
            target != IGNORE
            and target not in targets()
            and not re.match(r"^attr:[a-z][a-z0-9_]{0,63}$", target)
        ):
            errors.append(FieldError(f"mapping.{column}", f"unknown target {target!r}"))
        else:
            mapping[column] = target
    used = [t for t in mapping.values() if t != IGNORE]
    for target in {t for t in used if used.count(t) > 1}:
        errors.append(FieldError("mapping", f"two columns go to {target!r}"))
    if not any(t in KINDS for t in used):
        errors.append(FieldError("mapping", "no column holds an identity (email, phone, member_id ...)"))
    if errors:
        raise ValidationFailed(
            "The column mapping is not valid; see errors.", code="invalid_mapping", errors=errors
        )
    return mapping


@dataclass
class _Row:
    number: int
    identities: dict[str, str]
    profile: dict[str, Any]
    attributes: dict[str, Any]
    unit_id: str | None


async def _units(session: AsyncSession, tenant_id: str) -> dict[str, tuple[str, str]]:
    rows = await session.execute(select(Unit.code, Unit.id, Unit.path).where(Unit.tenant_id == tenant_id))
    return {code: (unit_id, path) for code, unit_id, path in rows.all()}


async def check_rows(
    session: AsyncSession, principal: Principal, table: Table, mapping: dict[str, str]
) -> tuple[list[_Row], list[RowError]]:
    principal.require(Perm.DATA_WRITE)
    reach = principal.reach(Perm.DATA_WRITE)
    units = await _units(session, principal.tenant_id)
    defined = await definitions(session, principal.tenant_id)
    plan = [
        (index, column, mapping[column])
        for index, column in enumerate(table.columns)
        if mapping[column] != IGNORE
    ]
    good: list[_Row] = []
    errors: list[RowError] = []
    for offset, cells in enumerate(table.rows):
        number = offset + 2
        row = _Row(number, {}, {}, {}, None)
        row_errors: list[RowError] = []
        for index, column, target in plan:
            value = cells[index]
            if not value:
                continue
            if target in KINDS:
                try:
                    row.identities[target] = normalise(target, value)
                except BadIdentity as exc:
                    row_errors.append(RowError(number, column, f"{value!r} {exc}"))
            elif target == "unit_code":
                unit = units.get(value)
                if unit is None or not reach.covers(unit[0], unit[1]):
                    row_errors.append(RowError(number, column, f"no unit {value!r}"))
                else:
                    row.unit_id = unit[0]
            elif target == "tags":
                row.profile["tags"] = [tag for tag in _TAG_SPLIT.split(value) if tag]
            elif target.startswith("attr:"):
                key = target[5:]
                try:
                    row.attributes[key] = _attribute(defined.get(key), value)
                except ValueError as exc:
                    row_errors.append(RowError(number, column, str(exc)))
            else:
                row.profile[target] = value
        for error in check_profile(
            row.profile.get("language"),
            row.profile.get("timezone"),
            row.profile.get("tags"),
            {"name": row.profile.get("name"), "first_name": row.profile.get("first_name")},
        ):
            named = next((c for _i, c, t in plan if t == error.path.split("[")[0]), None)
            row_errors.append(RowError(number, named, error.message))
        if not row.identities and not row_errors:
            row_errors.append(RowError(number, None, "the row has no identity"))
        if row.unit_id is None and not reach.everywhere and not row_errors:
            row_errors.append(
                RowError(number, None, "a unit is required: you may import contacts of your units only")
            )
        if row_errors:
            errors += row_errors
        else:
            good.append(row)
    return good, errors


def _attribute(kind: str | None, text: str) -> Any:
    if kind is None or kind == "text":
        return check_value("text", text)
    if kind == "number":
        try:
            number = float(text.replace(",", ""))
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
        return check_value("number", int(number) if number.is_integer() else number)
    if kind == "boolean":
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "y", "是"):
            return True
        if lowered in ("0", "false", "no", "n", "否"):
            return False
        raise ValueError(f"{text!r} is not yes or no")
    if kind == "list":
        return check_value("list", [item for item in _TAG_SPLIT.split(text) if item])
    return check_value(kind, text[:10] if len(text) > 10 and text[10] in " T" else text)


async def _holders(session: AsyncSession, tenant_id: str, by_kind: dict[str, set[str]]) -> dict[str, str]:
    """{blind index: contact id} of the identities already stored. Asked per kind, so
    that the unique (tenant, kind, blind index) index answers each lookup; without
    the kind a re-import scanned every identity of the tenant per chunk (measured)."""
    found: dict[str, str] = {}
    for kind, indexes in by_kind.items():
        listed = sorted(indexes)
        for start in range(0, len(listed), CHUNK):
            statement = select(ContactIdentity.blind_index, ContactIdentity.contact_id).where(
                ContactIdentity.tenant_id == tenant_id,
                ContactIdentity.kind == kind,
                ContactIdentity.blind_index.in_(listed[start : start + CHUNK]),
            )
            found.update(dict((await session.execute(statement)).all()))
    return found


async def store_rows(
    session: AsyncSession,
    tenant_id: str,
    rows: list[_Row],
    *,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Create or update the contacts of checked rows: (created, updated)."""
    ring = keyring()
    identity_aad = aad(tenant_id, "contact_identities", "value")
    name_aad, first_aad = aad(tenant_id, "contacts", "name"), aad(tenant_id, "contacts", "first_name")
    blinds = [
        {kind: ring.blind(tenant_id, kind, index_form(kind, value)) for kind, value in row.identities.items()}
        for row in rows
    ]
    by_kind: dict[str, set[str]] = {}
    for each in blinds:
        for kind, index in each.items():
            by_kind.setdefault(kind, set()).add(index)
    holders = await _holders(session, tenant_id, by_kind)
    now = utc_now()
    new_contacts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    new_identities: list[dict[str, Any]] = []
    for position, (row, blind) in enumerate(zip(rows, blinds, strict=True)):
        owners = [holders[b] for b in blind.values() if b in holders]
        target: str | None = None
        if owners:
            held = {kind: holders[b] for kind, b in blind.items() if b in holders}
            target = next((held[k] for k in (*PRIORITY, *KINDS) if k in held), owners[0])
        values = _values(row, name_aad, first_aad)
        if target is None:
            target = new_id()
            new_contacts[target] = {
                "id": target,
                "tenant_id": tenant_id,
                "unit_id": row.unit_id,
                "language": None,
                "timezone": None,
                "attributes": {},
                "tags": [],
                "name_enc": None,
                "first_name_enc": None,
                "source": "import",
                "merged_into": None,
                "created_at": now,
                "updated_at": now,
                **values,
            }
        elif target in new_contacts:
            _fold_into(new_contacts[target], values)
        else:
            _fold_into(updates.setdefault(target, {"id": target, "updated_at": now}), values)
        for kind, b in blind.items():
            if b not in holders:
                holders[b] = target
                new_identities.append(
                    {
                        "id": new_id(),
                        "tenant_id": tenant_id,
                        "contact_id": target,
                        "kind": kind,
                        "blind_index": b,
                        "value_enc": ring.encrypt(row.identities[kind], identity_aad),
                        "verified": False,
                        "created_at": now,
                    }
                )
        if progress is not None and position % 1000 == 999:
            progress(1000)
    if updates:
        await _apply_updates(session, updates)
    # Core inserts: the ORM's bulk path costs more than the database does here (measured).
    contacts = list(new_contacts.values())
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite and len(new_identities) > 20_000:
        # The blind index takes inserts in random order: with SQLite's default 2 MB page
        # cache a 100,000-row file rereads index pages from disk (measured); this
        # connection gets 256 MB for the import and its default back afterwards.
        await session.execute(text("PRAGMA cache_size=-262144"))
    for start in range(0, len(contacts), 5000):
        await session.execute(insert(_CONTACTS), contacts[start : start + 5000])
    for start in range(0, len(new_identities), 5000):
        await session.execute(insert(_IDENTITIES), new_identities[start : start + 5000])
    if sqlite and len(new_identities) > 20_000:
        await session.execute(text("PRAGMA cache_size=-2000"))
    if progress is not None:
        progress(len(rows) % 1000)
    return len(new_contacts), len(updates)


def _values(row: _Row, name_aad: str, first_aad: str) -> dict[str, Any]:
    ring = keyring()
    values: dict[str, Any] = {}
    if row.unit_id is not None:
        values["unit_id"] = row.unit_id
    for key in ("language", "timezone"):
        if key in row.profile:
            values[key] = row.profile[key]
    if "tags" in row.profile:
        values["tags"] = list(dict.fromkeys(row.profile["tags"]))
    if "name" in row.profile:
        values["name_enc"] = ring.encrypt(row.profile["name"], name_aad)
    if "first_name" in row.profile:
        values["first_name_enc"] = ring.encrypt(row.profile["first_name"], first_aad)
    if row.attributes:
        values["attributes"] = dict(row.attributes)
    return values


def _fold_into(target: dict[str, Any], values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key == "attributes":
            target["attributes"] = {**target.get("attributes", {}), **value}
        else:
            target[key] = value


async def _apply_updates(session: AsyncSession, updates: dict[str, dict[str, Any]]) -> None:
    ids = list(updates)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        current = await session.execute(select(Contact.id, Contact.attributes).where(Contact.id.in_(chunk)))
        for contact_id, attributes in current.all():
            change = updates[contact_id]
            if "attributes" in change:
                change["attributes"] = {**(attributes or {}), **change["attributes"]}
    # One Core executemany per set of changed columns, in chunks (the ORM's
    # bulk UPDATE by primary key was the slow half of a 100,000-row re-import).
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in updates.values():
        by_shape.setdefault(tuple(sorted(change)), []).append(change)
    for shape, group in by_shape.items():
        columns = [column for column in shape if column != "id"]
        statement = (
            update(_CONTACTS)
            .where(_CONTACTS.c.id == bindparam("b_id"))
            .values({column: bindparam(f"b_{column}") for column in columns})
        )
        for start in range(0, len(group), 5000):
            params = [
                {f"b_{key}": value for key, value in change.items()} for change in group[start : start + 5000]
            ]
            await session.execute(statement, params)


async def import_contacts(
    session: AsyncSession,
    principal: Principal,
    table: Table,
    mapping: dict[str, str] | None,
    *,
    mode: Mode = "all_or_nothing",
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    resolved = check_mapping(table, mapping)
    good, errors = await check_rows(session, principal, table, resolved)
    outcome = Outcome(rows=len(table.rows), errors=errors, dry_run=dry_run)
    outcome.skipped = len(table.rows) - len(good)
    if errors and mode == "all_or_nothing":
        if dry_run:
            return outcome
        raise RowsInvalid(outcome)
    if dry_run:
        return outcome
    outcome.created, outcome.updated = await store_rows(session, principal.tenant_id, good, progress=progress)
    await session.flush()
    return outcome
