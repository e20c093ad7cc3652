"""Rasa's response generator, with crisis and care-team replies filled in from the clinic.

In a long conversation it also ends an ordinary reply, now and then, with the reminder that
the assistant is automated (:mod:`bot.chat.disclosure`).

Configured in endpoints.yml (``nlg: type: bot.chat.clinic_nlg.ClinicResponseGenerator``).
Every response but ``utter_crisis_<kind>`` and the care-team replies is Rasa's templated
response as usual. A crisis reply names the clinic's own emergency number and lines
(:mod:`bot.safety.crisis_replies`); a care-team reply (:data:`CARE_TEAM_RESPONSES`) how to
reach the clinic's care team and when it answers. The clinic is the one the channel put in the
message's metadata; its settings are read from the database and kept for a minute, and when
the database cannot be read the last copy read is used, or the defaults. So these replies
never wait for, or fail on, the database.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from bot import patient_tokens
from bot.chat import disclosure
from bot.clinics import care_team
from bot.safety import crisis_replies

logger = logging.getLogger(__name__)

#: How long a clinic's settings are used before they are read again.
REFRESH_SECONDS = 60.0
#: How long a crisis reply waits for the database before it uses what it has.
READ_TIMEOUT_SECONDS = 1.0

#: Responses with ``{care_team_contact}`` (how to reach the care team, or where to look when
#: the clinic has not said) and ``{response_time}`` (when it usually reads a message).
CARE_TEAM_RESPONSES = frozenset(
    {"utter_care_team", "utter_care_team_message_sent", "utter_care_team_message_failed"}
)
_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
_care_team_cache: dict[str, tuple[float, dict[str, Any] | None]] = {}


def cached_settings(clinic: str | None) -> dict[str, Any] | None:
    """The last settings read for ``clinic`` (None: never read, or no such clinic)."""
    return _cache.get(clinic or "", (0.0, None))[1]


async def clinic_settings(clinic: str | None) -> dict[str, Any] | None:
    """The clinic's crisis settings: fresh if possible, else the last copy, else None (the
    defaults)."""
    return await _read(clinic, _cache, patient_tokens.clinic_crisis_settings)


async def care_team_settings(clinic: str | None) -> dict[str, Any] | None:
    """How the clinic's care team is reached (:func:`bot.patient_tokens.clinic_care_team`), read and
    kept like the crisis settings."""
    return await _read(clinic, _care_team_cache, patient_tokens.clinic_care_team)


async def _read(
    clinic: str | None,
    cache: dict[str, tuple[float, dict[str, Any] | None]],
    read: Callable[[str], dict[str, Any] | None],
) -> dict[str, Any] | None:
    if not clinic:
        return None
    read_at, settings = cache.get(clinic, (0.0, None))
    if time.monotonic() - read_at < REFRESH_SECONDS:
        return settings
    loop = asyncio.get_running_loop()
    try:
        fresh = await asyncio.wait_for(
            loop.run_in_executor(None, read, clinic), READ_TIMEOUT_SECONDS
        )
    except Exception as error:  # noqa: BLE001 - the reply must go out whatever failed
        logger.warning("clinic settings unreadable (%s); last copy used", type(error).__name__)
        return settings
    cache[clinic] = (time.monotonic(), fresh)
    return fresh


def clinic_of(tracker: DialogueStateTracker) -> str | None:
    metadata = tracker.latest_message.metadata if tracker.latest_message else None
    clinic = (metadata or {}).get("clinic")
    return clinic if isinstance(clinic, str) else None


class ClinicResponseGenerator(TemplatedNaturalLanguageGenerator):
    """Templated responses; crisis replies with the clinic's numbers."""

    def __init__(self, endpoint_config: Any = None, domain: Domain | None = None, **_: Any):
        super().__init__((domain or Domain.empty()).responses)

    async def generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """The response, ending with the reminder that the assistant is automated when one
        is due in this conversation (:mod:`bot.chat.disclosure`; never on a crisis reply)."""
        message = await self._generate(utter_action, tracker, output_channel, **kwargs)
        return disclosure.add_reminder_if_due(message, tracker, utter_action)

    async def _generate(
        self,
        utter_action: str,
        tracker: DialogueStateTracker,
        output_channel: str,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        if utter_action in CARE_TEAM_RESPONSES:
            values = care_team.reply_values(await care_team_settings(clinic_of(tracker)))
            return await super().generate(
                utter_action, tracker, output_channel, **{**kwargs, **values}
            )
        kind = crisis_replies.kind_of(utter_action)
        if kind is None:
            return await super().generate(utter_action, tracker, output_channel, **kwargs)
        settings = await clinic_settings(clinic_of(tracker))
        values = crisis_replies.values(kind, settings)
        response = await super().generate(
            utter_action, tracker, output_channel, **{**values, **kwargs}
        )
        template = (self.responses.get(utter_action) or [{}])[0].get("text")
        if response is not None and template:
            response["text"] = crisis_replies.render(template, kind, settings)
        return response
