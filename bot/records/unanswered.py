"""The questions the assistant could not answer, found in Rasa's tracker store.

Nothing marks them when they happen; the ``events`` table records what the assistant did
instead, and that is what is read here (the replies and actions are named in
``bot/content/digest.yml``):

- it did not understand: the fallback (``action_default_fallback``) or its reply
  ``utter_default``, after the patient's message;
- the message was outside what it covers (``utter_out_of_scope``);
- it answered the wrong question: the patient said "That's not what I asked"
  (``not_what_i_asked``) about the question before;
- it had no answer: a question about the treatment got the reply asking to put it another
  way, or the one saying everything on the topic was said
  (:data:`bot.content.psychoeducation.REPHRASE`, :data:`~bot.content.psychoeducation.ALL_SAID`).

The question listed is the patient's latest typed message before that; a button they pressed
is never one. Patient text, so the page escapes it like any other.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import encryption
from bot.content import FOLDER, read_yaml
from bot.content.psychoeducation import ALL_SAID, REPHRASE
from bot.records.button_titles import offered_buttons, payload_intent
from bot.records.views import UnansweredQuestion
from bot.storage.rasa_events import EVENTS, events_exist

DIGEST_FILE = FOLDER / "digest.yml"
NOT_UNDERSTOOD, OUT_OF_SCOPE, WRONG_ANSWER, NO_ANSWER = (
    "not_understood",
    "out_of_scope",
    "wrong_answer",
    "no_answer",
)
#: The replies of the treatment questions that mean there was no answer.
_NO_ANSWER_TEXTS = frozenset({" ".join(REPHRASE.split()), " ".join(ALL_SAID.split())})


@cache
def digest_settings() -> dict[str, Any]:
    """``bot/content/digest.yml``: the digest's period, and how unanswered questions are found."""
    return read_yaml(DIGEST_FILE)


def reason_label(reason: str) -> str:
    """Why a question counts as unanswered, as staff read it."""
    return str(digest_settings()["unanswered"][reason]["label"])


def unanswered_questions(
    session: Session, sender_id: str, since: datetime
) -> list[UnansweredQuestion]:
    """The patient's questions since ``since`` the assistant could not answer, newest first;
    ``[]`` where Rasa never ran (no ``events`` table)."""
    if not events_exist(session):
        return []
    rules = digest_settings()["unanswered"]
    actions = {
        name: reason
        for reason in (NOT_UNDERSTOOD, OUT_OF_SCOPE)
        for name in rules[reason].get("actions", ())
    }
    wrong_intents = set(rules[WRONG_ANSWER].get("intents", ()))
    rows = session.execute(
        select(
            EVENTS.c.id,
            EVENTS.c.type_name,
            EVENTS.c.timestamp,
            EVENTS.c.intent_name,
            EVENTS.c.action_name,
            EVENTS.c.data,
        )
        .where(
            EVENTS.c.sender_id == sender_id,
            EVENTS.c.type_name.in_(("user", "bot", "action")),
            EVENTS.c.timestamp >= since.timestamp(),
        )
        .order_by(EVENTS.c.id)
    ).all()
    found: dict[int, UnansweredQuestion] = {}
    question: tuple[int, datetime, str] | None = None
    offered: dict[str, str] = {}

    def note(reason: str) -> None:
        if question is not None and question[0] not in found:
            found[question[0]] = UnansweredQuestion(
                *question, reason=reason, reason_label=reason_label(reason)
            )

    for event_id, type_name, timestamp, intent, action, raw in rows:
        if type_name == "action":
            if action in actions:
                note(actions[action])
            continue
        data = _data(raw)
        if type_name == "bot":
            extra = data.get("data")
            if isinstance(extra, dict):
                offered.update(offered_buttons(extra.get("buttons") or ()))
            utter = (data.get("metadata") or {}).get("utter_action")
            if utter in actions:
                note(actions[utter])
            elif " ".join(str(data.get("text") or "").split()) in _NO_ANSWER_TEXTS:
                note(NO_ANSWER)
            continue
        text = data.get("text")
        intent = intent or ((data.get("parse_data") or {}).get("intent") or {}).get("name")
        pressed = isinstance(text, str) and (text in offered or payload_intent(text) is not None)
        offered.clear()
        if intent in wrong_intents:
            note(WRONG_ANSWER)
        elif isinstance(text, str) and text.strip() and not pressed and timestamp is not None:
            question = (event_id, datetime.fromtimestamp(float(timestamp), UTC), text)
    return sorted(found.values(), key=lambda q: q.event_id, reverse=True)


def _data(raw: str | None) -> dict[str, Any]:
    """An event's data, opened; ``{}`` for one that is not a JSON object."""
    try:
        data = json.loads(encryption.open_value(raw) if raw else "{}")
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
