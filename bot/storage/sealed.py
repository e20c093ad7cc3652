"""Column types that keep patient text sealed in the database (see :mod:`bot.encryption`).

Code that uses the ORM never sees a sealed value: it writes and reads plain Python values,
and the database only ever holds ``enc1:...`` strings. Values stored before encryption
existed are read as they are until ``python -m bot keys rotate`` seals them.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Dialect, Text, TypeDecorator

from bot import encryption


class SealedText(TypeDecorator[str]):
    """Free text a patient wrote, sealed at rest."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encryption.seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encryption.open_value(value)


class SealedJSON(TypeDecorator[Any]):
    """A JSON document (a journal entry's answers), serialised and then sealed at rest."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encryption.seal(json.dumps(value, ensure_ascii=False, separators=(",", ":")))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):  # a JSON column read by a driver that parses JSON
            return value
        return json.loads(encryption.open_value(value))
