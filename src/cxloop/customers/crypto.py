"""The directory's field encryption: the key ring now lives in ``cxloop.kit.crypto``.

It is shared with the configuration secrets of other domains (webhook signing
secrets, channel settings), so it moved to kit; this module keeps the names
the directory, the CLI and the tests import. See
docs/adr/0014-field-encryption-and-blind-index.md.
"""

from __future__ import annotations

from cxloop.kit.crypto import (
    KEY_FILE,
    NONCE_BYTES,
    FieldKeyError,
    KeyRing,
    aad,
    build_keyring,
    configure,
    keyring,
    new_key_spec,
    parse_keys,
)

__all__ = [
    "KEY_FILE",
    "NONCE_BYTES",
    "FieldKeyError",
    "KeyRing",
    "aad",
    "build_keyring",
    "configure",
    "keyring",
    "new_key_spec",
    "parse_keys",
]
