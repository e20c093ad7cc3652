"""The four journal forms as the action tests drive them: which form asks which slot, each
form's validation action, and the turns Rasa sends them (built with :mod:`action_support`).

Shared by the action tests of the forms (tests/app/actions/); the fixtures that go with them
(``domain``, ``dispatcher``, ``journal_db``, ``broken_journal``, ``failing_journal``) are in
tests/app/conftest.py.
"""

from __future__ import annotations

from typing import Any

import action_support
from action_support import PATIENT, empty_slots, parse_data, run, slot_events
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin import ValidateCheckinForm
from actions.forms import FORM_EXTRA_SLOTS
from actions.integration import ValidateIntegrationForm
from actions.triggers import ValidateTriggerForm
from actions.urge_surfing import ValidateUrgeSurfingForm

VALIDATORS = {
    "integration_form": ValidateIntegrationForm,
    "trigger_form": ValidateTriggerForm,
    "urge_surfing_form": ValidateUrgeSurfingForm,
    "checkin_form": ValidateCheckinForm,
}
FORM_OF_SLOT = {
    "session_date": "integration_form",
    **{s: "integration_form" for s in ("stood_out", "feelings", "insight", "intention")},
    **{s: "integration_form" for s in ("small_step", "mood", "craving")},
    **{
        s: "trigger_form"
        for s in (
            "trigger_craving",
            "trigger_type",
            "halt",
            "trigger_context",
            "coping_response",
        )
    },
    **{
        s: "urge_surfing_form"
        for s in ("surf_before", "surf_location", "surf_change", "surf_after")
    },
    **{s: "checkin_form" for s in ("checkin_mood", "checkin_craving", "checkin_note")},
}

# Words that have no place in what the bot says after a slip or an urge that did not drop.
JUDGEMENT_WORDS = (
    "fail",
    "should have",
    "blame",
    "shame on",
    "disappoint",
    "bad ",
    "wrong",
)


def form_turn(domain: dict[str, Any], slot: str, text: str, **kwargs: Any) -> Tracker:
    """The tracker Rasa sends to the validation of the form that asks ``slot`` after the
    person answered it (``action_support.form_turn``)."""
    return action_support.form_turn(domain, FORM_OF_SLOT[slot], slot, text, **kwargs)


def activation_turn(
    domain: dict[str, Any],
    form: str,
    text: str,
    *,
    intent: str,
    slots: dict[str, Any] | None = None,
) -> Tracker:
    """The tracker Rasa sends to ``validate_<form>`` when the form starts."""
    latest = parse_data(text, intent)
    values = empty_slots(domain) | (slots or {})
    events: list[dict[str, Any]] = [
        {"event": "user", "text": text, "parse_data": latest},
        {"event": "slot", "name": "requested_slot", "value": None},
        {"event": "action", "name": form},
    ]
    for name, value in (slots or {}).items():
        events.append({"event": "slot", "name": name, "value": value})
    return Tracker(PATIENT, values, latest, events, False, None, {}, form)


def validate(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """Run the form's validation action; the slots it set (not which question comes next:
    that is tested in tests/app/actions/test_risk.py, where a low mood brings the safety
    question; nor the acknowledgement said, tested in tests/app/actions/test_form_replies.py)."""
    form = tracker.active_loop_name or tracker.latest_action_name
    events = slot_events(run(VALIDATORS[form](), dispatcher, tracker, domain))
    return {name: value for name, value in events.items() if name not in NOT_ANSWER_SLOTS}


#: Slots a validation sets besides the answer: the next question, the acknowledgement.
NOT_ANSWER_SLOTS = frozenset({"requested_slot", "last_ack", "support_offered"})

#: Slots every form clears with its answers: how the next question is worded, the last
#: acknowledgement, a rating proposed from a range or a word.
CONVERSATION_SLOTS = frozenset(
    {
        "reask",
        "range_low",
        "range_high",
        "rating_guess",
        "last_ack",
        "support_offered",
        "craving_told",
    }
)


def reset_slots_of(domain: dict[str, Any], form: str) -> set[str]:
    """Every slot a form's end clears: its questions, the slots that go with it
    (:data:`actions.forms.FORM_EXTRA_SLOTS`) and the conversation slots."""
    extra = set(FORM_EXTRA_SLOTS.get(form, ()))
    return set(domain["forms"][form]["required_slots"]) | extra | CONVERSATION_SLOTS
