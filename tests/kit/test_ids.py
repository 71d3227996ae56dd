"""Identifiers keep their ULID text: 48 bits of milliseconds, 80 random bits, Crockford base32."""

from __future__ import annotations

from unittest import mock

from cxloop.kit.ids import is_id, new_id, new_ids


def _id_at(seconds: float, random_bytes: bytes) -> str:
    with mock.patch("time.time", return_value=seconds), mock.patch("os.urandom", return_value=random_bytes):
        return new_id()


def test_ids_encode_time_then_randomness_in_crockford_base32() -> None:
    # Expected values were made by the character-at-a-time encoder this one replaced.
    assert _id_at(1764628300.123, bytes(range(1, 11))) == "01KBE0P0AV041061050R3GG28A"
    assert _id_at(0.0, bytes(10)) == "00000000000000000000000000"
    assert _id_at(281474976710.655, b"\xff" * 10) == "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
    made = [new_id() for _ in range(1000)]
    assert len(set(made)) == 1000
    assert all(is_id(value) for value in made)


def test_ids_made_together_are_the_same_text_as_one_at_a_time() -> None:
    with (
        mock.patch("time.time", return_value=1764628300.123),
        mock.patch("os.urandom", side_effect=lambda size: bytes(range(1, 11)) * (size // 10)),
    ):
        assert new_ids(3) == ["01KBE0P0AV041061050R3GG28A"] * 3
    made = new_ids(1000)
    assert len(set(made)) == 1000
    assert made == sorted(made)
    assert all(is_id(value) for value in made)
    assert new_ids(0) == []
