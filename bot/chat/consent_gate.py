"""What the chat channels do with a message from a patient without current consent.

Nothing of it reaches the assistant, whose tracker store, journal and flags are where a
conversation is kept (:mod:`bot.patient_consent`). It still goes through the risk assessment
the assistant would give it, here in the channel:

- the deterministic detector: danger now (``urgent``) gets the crisis reply of its kind and an
  urgent crisis flag; a recent overdose or attempt (``recent``) gets the calm reply and an
  elevated flag - the flags kept for the care team, the one thing kept without consent;
- a possible crisis short of that (the detector's ``ask`` level, or the assistant's NLU - the
  classifier - reading the message as a crisis) gets the consent text's ``ask`` words with the
  clinic's numbers: there is no conversation to ask the direct question in, and no flag;
- every answer ends with the ``required`` notice, which carries the clinic's crisis numbers
  like every refusal.

If the consent cannot be read (the database is down) the message is treated as without
consent: storage fails closed, while the crisis replies depend on nothing but the detector and
the clinic's cached numbers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot import patient_consent
from bot.chat import clinic_nlg, message_gate

logger = logging.getLogger(__name__)

#: Flag level per detector level, for the flags kept before consent.
FLAG_LEVELS = {"urgent": "urgent", "recent": "elevated"}


@dataclass(frozen=True)
class Refusal:
    """What a patient without current consent is told, in order, and the text's version."""

    replies: list[str]
    version: int | None
    #: The patient had agreed to an older version of the text (it changed since).
    changed: bool = False


async def _off_loop(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(function, *args, **kwargs))


async def current_status(sender_id: str, clinic: str | None) -> patient_consent.Status | None:
    """The patient's consent, read off the event loop; ``None`` if it cannot be read (no
    clinic, or the database is down): the message is then treated as without consent."""
    if not clinic:
        return None
    try:
        return await _off_loop(patient_consent.status, sender_id, clinic)
    except Exception as error:
        logger.error("consent could not be read (%s): nothing is stored", type(error).__name__)
        return None


async def _keep_flag(sender_id: str, clinic: str, text: str, category: str, level: str) -> None:
    try:
        await _off_loop(
            patient_consent.keep_crisis_flag,
            sender_id,
            clinic,
            message_text=text,
            category=category,
            level=level,
        )
    except Exception as error:
        # The type only: an exception's text may quote the patient's message.
        logger.error("crisis flag before consent not kept (%s)", type(error).__name__)


async def refuse(
    text: str,
    sender_id: str,
    clinic: str | None,
    status: patient_consent.Status | None,
    *,
    crisis_reply: Callable[[str, str | None], str | None],
    second_opinion: Callable[[str], Awaitable[bool]] | None = None,
) -> Refusal:
    """The answer to ``text`` from a patient without current consent (see the module).

    ``crisis_reply(kind, clinic)`` renders a crisis reply with the clinic's numbers, as the
    channel's early reply does; ``second_opinion`` is the assistant's NLU.
    """
    numbers = await clinic_nlg.clinic_settings(clinic)
    replies: list[str] = []
    match = message_gate.crisis_check().match_now(text)
    flag_level = FLAG_LEVELS.get(match.level) if match is not None else None
    if match is not None and flag_level is not None:
        reply = crisis_reply(match.reply, clinic)
        if reply:
            replies.append(reply)
        if clinic:
            await _keep_flag(sender_id, clinic, text, match.category, flag_level)
    else:
        possible = match is not None
        if not possible and second_opinion is not None:
            try:
                possible = await second_opinion(text)
            except Exception as error:
                logger.error("second opinion before consent failed (%s)", type(error).__name__)
                possible = True
        if possible:
            replies.append(patient_consent.message("ask", numbers))
    replies.append(patient_consent.message("required", numbers))
    return Refusal(
        replies=replies,
        version=status.version if status is not None else None,
        changed=bool(status is not None and status.changed),
    )
