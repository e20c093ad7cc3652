"""A slip or a craving told as the answer to a form's question (actions/slips.py): the no-shame
reply and the slip recorded, or the craving acknowledged and coping offered, instead of a
generic acknowledgement of one more answer."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from action_support import form_turn, responses, run, slot_events, stored_entries, turn
from rasa_sdk.executor import CollectingDispatcher

from actions import slips
from actions.checkin import ActionSaveCheckin, ValidateCheckinForm
from actions.integration import ValidateIntegrationForm
from actions.triggers import ValidateTriggerForm
from actions.urge_surfing import ValidateUrgeSurfingForm
from bot.journal.acknowledgements import all_lines

VALIDATORS = {
    "integration_form": ValidateIntegrationForm,
    "checkin_form": ValidateCheckinForm,
    "trigger_form": ValidateTriggerForm,
    "urge_surfing_form": ValidateUrgeSurfingForm,
}


def answer(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    form: str,
    slot: str,
    text: str,
    intent: str = "share_reflection",
    slots: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The slots the form's validation sets for ``text`` given at ``slot`` (the next
    question aside)."""
    tracker = form_turn(domain, form, slot, text, intent=intent, slots=slots)
    events = slot_events(run(VALIDATORS[form](), dispatcher, tracker, domain))
    return {name: value for name, value in events.items() if name != "requested_slot"}


def generic_acknowledgements(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in dispatcher.messages if m.get("text") in all_lines()]


# --------------------------------------------------------------------------- slips


@pytest.mark.parametrize(
    ("form", "slot", "text", "intent"),
    [
        ("integration_form", "stood_out", "honestly that i drank the night after", "report_lapse"),
        ("integration_form", "insight", "that i used again on friday and hid it", "share_feeling"),
        ("checkin_form", "checkin_note", "drank last night. not proud of it", "report_lapse"),
        ("urge_surfing_form", "surf_change", "i gave in and had a few beers", "report_lapse"),
    ],
)
def test_a_slip_told_in_an_answer_gets_the_no_shame_reply_and_is_recorded(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    form: str,
    slot: str,
    text: str,
    intent: str,
) -> None:
    slots = answer(domain, dispatcher, form, slot, text, intent)
    assert slots[slot] == text  # the person's answer, kept
    assert responses(dispatcher)[0] == "utter_lapse_told_in_form"
    assert generic_acknowledgements(dispatcher) == []
    (entry,) = stored_entries(journal_db)
    assert (entry["kind"], entry["status"]) == ("trigger", "partial")
    assert entry["fields"]["trigger_kind"] == "lapse"
    assert entry["fields"]["context"] == text


def test_a_recorded_slip_keeps_what_was_taken_and_when(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    answer(domain, dispatcher, "checkin_form", "checkin_note", "i drank last night", "inform")
    (entry,) = stored_entries(journal_db)
    assert entry["fields"]["substances"] == ["alcohol"]
    assert entry["fields"]["lapse_date"] == (date.today() - timedelta(days=1)).isoformat()


def test_an_opioid_slip_in_the_session_reflection_gets_the_harm_reduction_note(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    text = "what stood out is that i took some of my cousins percs after"
    answer(domain, dispatcher, "integration_form", "stood_out", text)
    assert responses(dispatcher)[:2] == ["utter_lapse_told_in_form", "utter_lapse_harm_reduction"]


def test_a_slip_told_instead_of_a_rating_asks_the_rating_again_and_keeps_one_given(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = answer(domain, dispatcher, "checkin_form", "checkin_mood", "i drank last night")
    assert slots["checkin_mood"] is None and slots["reask"] == "once"
    assert responses(dispatcher) == ["utter_lapse_told_in_form"]  # no "I didn't catch a number"
    again = CollectingDispatcher()
    slots = answer(domain, again, "checkin_form", "checkin_mood", "3. i used on friday")
    assert slots["checkin_mood"] == "3"
    assert len(stored_entries(journal_db)) == 2


def test_a_slip_told_instead_of_the_session_date_is_not_taken_as_the_date(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = form_turn(
        domain,
        "integration_form",
        "session_date",
        "i drank last night",
        intent="report_lapse",
        extracted="i drank last night",
    )
    slots = slot_events(run(ValidateIntegrationForm(), dispatcher, tracker, domain))
    assert slots["session_date"] is None
    assert responses(dispatcher) == ["utter_lapse_told_in_form"]


def test_a_slip_told_in_the_coping_question_of_a_craving_reflection_makes_it_a_slips(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    text = "nothing. i picked up on friday"
    slots = answer(
        domain,
        dispatcher,
        "trigger_form",
        "coping_response",
        text,
        "report_lapse",
        slots={"trigger_kind": "craving"},
    )
    assert slots["coping_response"] == text
    assert slots["trigger_kind"] == "lapse" and slots["lapse_report"] == text
    assert responses(dispatcher) == ["utter_lapse_told_in_form"]
    assert generic_acknowledgements(dispatcher) == []
    assert stored_entries(journal_db) == []  # saved with the reflection, as a slip


def test_a_slip_told_again_in_a_slip_reflection_is_part_of_its_story(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = answer(
        domain,
        dispatcher,
        "trigger_form",
        "coping_response",
        "i just drank more",
        "report_lapse",
        slots={"trigger_kind": "lapse", "lapse_report": "i drank last night"},
    )
    assert slots == {"coping_response": "i just drank more"}
    assert responses(dispatcher) == ["utter_lapse_told_in_form"]


def test_a_slip_in_a_slip_reflection_on_a_sedative_gets_the_harm_reduction_note_once(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    answer(
        domain,
        dispatcher,
        "trigger_form",
        "trigger_context",
        "then i took a couple xanax on top",
        slots={"trigger_kind": "lapse", "lapse_report": "i drank last night"},
    )
    assert "utter_lapse_harm_reduction" in responses(dispatcher)


def test_the_reply_goes_out_when_the_journal_cannot_keep_the_slip(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, broken_journal: None
) -> None:
    slots = answer(domain, dispatcher, "checkin_form", "checkin_note", "i used again yesterday")
    assert slots["checkin_note"] == "i used again yesterday"
    assert responses(dispatcher)[0] == "utter_lapse_told_in_form"


@pytest.mark.parametrize(
    "text", ["almost drank but called my sponsor", "i didnt drink this week", "work was brutal"]
)
def test_an_answer_without_a_slip_is_an_ordinary_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str, text: str
) -> None:
    slots = answer(domain, dispatcher, "integration_form", "stood_out", text)
    assert slots["stood_out"] == text
    assert "utter_lapse_told_in_form" not in responses(dispatcher)
    assert stored_entries(journal_db) == []


def test_an_answer_validated_again_on_resuming_says_nothing(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    """A stopped form resumed validates its answers again: the slip was answered back then."""
    text = "i drank last night"
    tracker = form_turn(domain, "checkin_form", "checkin_note", text, intent="report_lapse")
    tracker.slots["requested_slot"] = None
    slots = slot_events(run(ValidateCheckinForm(), dispatcher, tracker, domain))
    assert slots["checkin_note"] == text
    assert dispatcher.messages == [] and stored_entries(journal_db) == []


# --------------------------------------------------------------------------- cravings


@pytest.mark.parametrize(
    ("form", "slot"), [("checkin_form", "checkin_note"), ("integration_form", "feelings")]
)
def test_a_craving_told_in_an_answer_is_acknowledged_and_remembered(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, form: str, slot: str
) -> None:
    text = "got off the phone w my mom. now i really want a drink"
    slots = answer(domain, dispatcher, form, slot, text, "report_craving")
    assert slots[slot] == text
    assert slots["craving_told"] is True
    assert responses(dispatcher) == ["utter_craving_ack"]
    assert generic_acknowledgements(dispatcher) == []


def test_a_craving_told_in_answer_to_the_craving_question_is_its_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = answer(
        domain, dispatcher, "checkin_form", "checkin_craving", "8, i really want a drink"
    )
    assert slots["checkin_craving"] == "8"
    assert "craving_told" not in slots


@pytest.mark.parametrize(("told", "offered"), [(True, True), (None, False)])
def test_the_saved_check_in_offers_coping_after_a_craving_told_in_words(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    told: bool | None,
    offered: bool,
) -> None:
    slots = {
        "checkin_mood": "6",
        "checkin_craving": "5",
        "checkin_note": "now i really want a drink",
        "craving_told": told,
    }
    events = run(ActionSaveCheckin(), dispatcher, turn(domain, slots=slots), domain)
    assert ("utter_high_craving_offer" in responses(dispatcher)) is offered
    assert slot_events(events)["craving_told"] is None


def test_a_craving_in_a_craving_reflection_is_simply_its_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = answer(
        domain,
        dispatcher,
        "trigger_form",
        "trigger_context",
        "i really want a drink after the fight",
        "report_craving",
        slots={"trigger_kind": "craving"},
    )
    assert "craving_told" not in slots
    assert "utter_craving_ack" not in responses(dispatcher)


# --------------------------------------------------------------------------- the replies


def test_the_in_form_replies_have_their_own_wording(domain: dict[str, Any]) -> None:
    """Started outside a form the craving reply leads into its reflection; inside one it keeps
    the answer and promises the offer. A slip told in the check-in is noted, not reflected."""
    craving = domain["responses"]["utter_craving_ack"]
    starting = [v for v in craving if v.get("condition")]
    in_form = [v for v in craving if not v.get("condition")]
    assert starting[0]["condition"] == [{"type": "slot", "name": "requested_slot", "value": None}]
    assert "look at this one together" in starting[0]["text"]
    assert "urge surfing" in in_form[0]["text"]
    slip = domain["responses"]["utter_lapse_told_in_form"]
    plain = [v["text"] for v in slip if not v.get("condition")]
    assert len(plain) == 1 and "noted it in your journal" in plain[0]
    by_kind = {v["condition"][0]["value"]: v["text"] for v in slip if v.get("condition")}
    assert set(by_kind) == {"craving", "trigger", "lapse"}
    assert "reflection on the slip" in by_kind["craving"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [("yesterday", "report_lapse"), ("last friday", "report_lapse"), ("8", "report_craving")],
)
def test_a_short_answer_is_the_answer_whatever_the_classifier_reads(text, intent):
    assert not slips.tells_slip(text, intent)
    assert not slips.tells_a_craving(text, intent)
