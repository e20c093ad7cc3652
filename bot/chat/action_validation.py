"""Rasa's check of every action server reply, with the JSON-schema validator built once.

Rasa 3.6 checks each reply of the action server against its response schema with
``jsonschema.validate(result, spec)`` (``RemoteAction._validate_action_result``). That call
first validates the *schema itself* against JSON Schema's meta-schema and builds a new
validator, on every call: profiling the Rasa server under load (docs/benchmarks.md) showed
this taking about a third of its event loop, more than the neural networks. Every form turn
and journal write goes through a custom action, so every patient pays for it.

:func:`install` swaps in a method that checks the same schema, raises the same
``ValidationError`` with the same message, and builds the validator once per process.
:mod:`bot.chat.patient_channel` installs it, so it is in place whenever our channels serve.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import exceptions, validators
from jsonschema.exceptions import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

_stock_validate = RemoteAction._validate_action_result


@lru_cache(maxsize=1)
def _validator() -> Any:
    spec = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(spec)
    cls.check_schema(spec)  # once, as jsonschema.validate would on every call
    return cls(spec)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """What Rasa's ``_validate_action_result`` does, with a validator built once."""
    error = exceptions.best_match(_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


def install() -> None:
    """Make every ``RemoteAction`` of this process use :func:`validate_action_result`."""
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]


__all__ = ["ValidationError", "install", "validate_action_result"]
