"""Identity kinds and their normal forms (what the blind index is computed over)."""

from __future__ import annotations

import functools
import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from cxloop.kit.errors import FieldError

KINDS = (
    "email",
    "phone",
    "wechat_openid",
    "wechat_unionid",
    "wecom_userid",
    "alipay_user_id",
    "member_id",
    "external_id",
)
# When one upsert names several contacts, the first kind in this order picks
# the record that is updated (a member id is more deliberate than an email).
PRIORITY = ("member_id", "external_id", "wechat_unionid", "wechat_openid", "alipay_user_id", "wecom_userid")
DEFAULT_REGION = "CN"
MAX_VALUE = 128


class BadIdentity(ValueError):
    pass


# A plain ASCII dot-atom local part: for these, email-validator's verdict
# depends on the domain only, so the domain's verdict is cached (measured:
# validating every address in full was half of a 100,000-row import).
_PLAIN_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# An 11-digit mainland mobile number, as written with or without +86.
_CN_MOBILE = re.compile(r"^(?:\+?86)?(1\d{10})$")
_PHONE_NOISE = re.compile(r"[\s\-().]")


def _full_email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise BadIdentity(f"is not a valid email address ({exc})") from exc
    return str(result.normalized)


@functools.lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str:
    return _full_email(f"a@{domain}").partition("@")[2]


def normal_email(value: str) -> str:
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if at and len(local) <= 64 and len(value) <= 254 and _PLAIN_LOCAL.match(local):
        try:
            return f"{local}@{_email_domain(domain)}"
        except BadIdentity:
            pass  # the full check words the message about the whole address
    return _full_email(value)


@functools.lru_cache(maxsize=8192)
def _valid_cn_mobile_prefix(prefix: str) -> bool:
    # In the CN metadata a mobile number's validity is fixed by its first 7
    # digits (the patterns end in free digits), so one verdict per prefix.
    number = phonenumbers.parse(prefix + "0000", "CN")
    return bool(phonenumbers.is_valid_number(number))


def normal_phone(value: str, region: str = DEFAULT_REGION) -> str:
    value = value.strip()
    if region == "CN":
        mobile = _CN_MOBILE.match(_PHONE_NOISE.sub("", value))
        if mobile is not None:
            digits = mobile.group(1)
            if _valid_cn_mobile_prefix(digits[:7]):
                return "+86" + digits
            raise BadIdentity("is not a valid phone number")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise BadIdentity("is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise BadIdentity("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, value: str) -> str:
    """The stored form; raises BadIdentity with a message for people."""
    if kind not in KINDS:
        raise BadIdentity(f"unknown identity kind; use one of {', '.join(KINDS)}")
    if not isinstance(value, str) or not value.strip():
        raise BadIdentity("may not be empty")
    if len(value) > 320 or not value.isprintable():
        raise BadIdentity("is too long or contains control characters")
    if kind == "email":
        return normal_email(value)
    if kind == "phone":
        return normal_phone(value)
    value = value.strip()
    if len(value) > MAX_VALUE:
        raise BadIdentity(f"may have at most {MAX_VALUE} characters")
    return value


def index_form(kind: str, normal: str) -> str:
    """What the blind index hashes: emails compare without case."""
    return normal.lower() if kind == "email" else normal


def normalise_all(
    identities: dict[str, str], path: str = "identities"
) -> tuple[dict[str, str], list[FieldError]]:
    cleaned: dict[str, str] = {}
    errors: list[FieldError] = []
    for kind, value in identities.items():
        try:
            cleaned[kind] = normalise(kind, value)
        except BadIdentity as exc:
            errors.append(FieldError(f"{path}.{kind}", str(exc)))
    return cleaned, errors
