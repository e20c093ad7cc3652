"""Inside a form: replies that are not answers, ratings as people give them, acknowledgements,
a slip told in the middle of a craving reflection, a rating told with a "no" to the safety
question, and a request for a person."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from action_support import (
    PATIENT,
    empty_slots,
    form_turn,
    parse_data,
    responses,
    run,
    slot_events,
    stored_entries,
    stored_flags,
    turn,
)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.checkin import ActionSaveCheckin, ValidateCheckinForm
from actions.integration import ValidateIntegrationForm
from actions.risk import ActionCheckLapse
from actions.triggers import ActionSaveTrigger, ValidateTriggerForm
from bot.content.psychoeducation import more_texts
from bot.journal import entries as journal
from bot.journal.acknowledgements import lines_of
from bot.journal.parsing import SKIPPED

SELECTED = {
    "response_selector": {
        "default": {
            "response": {
                "intent_response_key": "psychoeducation/side_effects",
                "utter_action": "utter_psychoeducation/side_effects",
                "confidence": 0.8,
            },
            "ranking": [
                {"intent_response_key": "psychoeducation/side_effects", "confidence": 0.8},
                {"intent_response_key": "psychoeducation/next_day_effects", "confidence": 0.15},
            ],
        }
    }
}


def validate_integration(domain, dispatcher, slot, text, **kwargs) -> dict[str, Any]:
    """The slots the validation sets (which question comes next is the form's business)."""
    tracker = form_turn(domain, "integration_form", slot, text, **kwargs)
    events = slot_events(run(ValidateIntegrationForm(), dispatcher, tracker, domain))
    return {name: value for name, value in events.items() if name != "requested_slot"}


def test_a_question_inside_the_form_is_answered_not_stored(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    text = "wait, is it normal to feel spaced out for days?"
    slots = validate_integration(
        domain, dispatcher, "feelings", text, intent="psychoeducation", parsed=SELECTED
    )
    assert slots["feelings"] is None
    assert slots["reask"] == "once"
    assert slots["last_topic"] == "side_effects"
    assert responses(dispatcher) == ["utter_psychoeducation/side_effects"]
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["Tell me more", "That's not what I asked"]


def test_tell_me_more_inside_the_form_gives_more_and_asks_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate_integration(
        domain,
        dispatcher,
        "feelings",
        "/more_detail",
        intent="more_detail",
        slots={"last_topic": "side_effects"},
    )
    assert slots["feelings"] is None
    assert dispatcher.messages[0]["text"] == more_texts()["side_effects"]


def test_a_statement_the_classifier_reads_as_psychoeducation_is_still_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    text = "warm hands and a heavy chest, like the ketamine was working"
    slots = validate_integration(
        domain, dispatcher, "feelings", text, intent="psychoeducation", parsed=SELECTED
    )
    assert slots["feelings"] == text


@pytest.mark.parametrize("text", ["fine", "ok i guess, a bit flat", "good"])
def test_a_short_feeling_is_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    slots = validate_integration(domain, dispatcher, "feelings", text, intent="share_feeling")
    assert slots["feelings"] == text


#: The turn before: a question inside the form, answered (the topic slots set).
ANSWERED_BEFORE = [
    {"event": "user", "text": "wait, is it normal to feel spaced out for days?"},
    {"event": "slot", "name": "last_topic", "value": "side_effects"},
    {"event": "slot", "name": "other_topics", "value": ["next_day_effects"]},
    {"event": "slot", "name": "reask", "value": "once"},
]


def _feelings_after(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, earlier: list[Any]
) -> dict[str, Any]:
    """The feelings question answered with ``text``, the topic slots still set from before."""
    return validate_integration(
        domain,
        dispatcher,
        "feelings",
        text,
        intent="share_reflection",
        slots={"last_topic": "side_effects", "other_topics": ["next_day_effects"]},
        earlier=earlier,
    )


@pytest.mark.parametrize(
    "text", ["i meant the next day actually", "that has nothing to do with my question"]
)
def test_right_after_an_answer_in_the_form_a_miss_gets_the_next_best_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    slots = _feelings_after(domain, dispatcher, text, ANSWERED_BEFORE)
    assert slots["feelings"] is None
    assert "utter_psychoeducation/next_day_effects" in responses(dispatcher)


def test_without_an_answer_just_before_i_meant_is_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    text = "i meant the next day actually"
    earlier = [*ANSWERED_BEFORE, {"event": "user", "text": "sad and tired"}]
    assert _feelings_after(domain, dispatcher, text, earlier)["feelings"] == text


@pytest.mark.parametrize(
    ("slot", "text", "intent", "reply"),
    [
        # "What do you mean?" gets the question's explanation.
        ("insight", "what do you mean?", "nlu_fallback", "utter_explain_insight"),
        ("insight", "wdym", "nlu_fallback", "utter_explain_insight"),
        ("insight", "huh", "nlu_fallback", "utter_explain_insight"),
        ("insight", "why do you need to know", "nlu_fallback", "utter_explain_insight"),
        # A bare acknowledgement is no answer to an open question: a kind word.
        ("intention", "ok", "affirm", "utter_im_here"),
        ("intention", "yeah sure", "affirm", "utter_im_here"),
        ("intention", "thanks!", "affirm", "utter_im_here"),
        ("intention", "Okay.", "affirm", "utter_im_here"),
    ],
)
def test_a_reply_that_is_no_answer_gets_its_word_and_the_question_again(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    slot: str,
    text: str,
    intent: str,
    reply: str,
) -> None:
    slots = validate_integration(domain, dispatcher, slot, text, intent=intent)
    assert slots == {slot: None, "reask": "once"}
    assert responses(dispatcher) == [reply]


@pytest.mark.parametrize("text", ["idk", "i literally said idk", "no idea tbh", "dunno"])
def test_i_dont_know_is_a_kind_skip(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str
) -> None:
    slots = validate_integration(domain, dispatcher, "small_step", text, intent="unsure")
    assert slots["small_step"] == SKIPPED
    assert responses(dispatcher) == ["utter_unsure_skipped"]


def test_you_didnt_answer_is_an_apology_not_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    text = "you didnt answer my question lol"
    slots = validate_integration(domain, dispatcher, "insight", text, intent="share_feeling")
    assert slots == {"insight": None, "reask": "once"}
    assert responses(dispatcher) == ["utter_form_unanswered"]


def test_asking_twice_never_reads_the_same(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate_integration(
        domain, dispatcher, "insight", "huh", intent="nlu_fallback", slots={"reask": "once"}
    )
    assert slots["reask"] == "again"


def test_every_re_ask_has_its_own_wording(domain: dict[str, Any]) -> None:
    """Each question a form asks again has a plain, an "once" and an "again" wording."""
    for slot in ("stood_out", "feelings", "insight", "intention", "small_step", "mood", "craving"):
        variants = domain["responses"][f"utter_ask_{slot}"]
        conditions = {
            (v.get("condition") or [{}])[0].get("value") for v in variants if v.get("condition")
        }
        assert {"once", "again"} <= conditions, slot
        texts = [v["text"] for v in variants]
        assert len(set(texts)) == len(texts), slot


def test_small_step_does_not_mention_a_skipped_intention(domain: dict[str, Any]) -> None:
    variants = domain["responses"]["utter_ask_small_step"]
    skipped = [
        v for v in variants if any(c.get("name") == "intention" for c in v.get("condition") or [])
    ]
    assert skipped and all("intention" not in v["text"] for v in skipped)
    assert skipped[0]["condition"][0]["value"] == SKIPPED


@pytest.mark.parametrize(
    ("text", "low", "high"), [("still like 6-7", "6", "7"), ("between 4 and 6", "4", "6")]
)
def test_a_range_asks_which_is_closer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, low: str, high: str
) -> None:
    slots = validate_integration(domain, dispatcher, "mood", text)
    assert slots == {"mood": None, "reask": "range", "range_low": low, "range_high": high}
    assert dispatcher.messages == []  # the form's next ask says it


def test_a_word_is_proposed_as_a_number_and_yes_takes_it(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate_integration(domain, dispatcher, "mood", "meh")
    assert slots == {"mood": None, "reask": "word", "rating_guess": "5"}
    confirmed = validate_integration(
        domain,
        dispatcher,
        "mood",
        "yes",
        intent="affirm",
        slots={"reask": "word", "rating_guess": "5"},
    )
    assert confirmed["mood"] == "5"
    assert confirmed["reask"] is None and confirmed["rating_guess"] is None


def test_words_mean_different_numbers_for_a_craving(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate_integration(domain, dispatcher, "craving", "pretty bad")
    assert slots["rating_guess"] == "7"


def test_a_heavy_answer_is_acknowledged_with_an_offer_once(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    text = "my dad died in march and i cried through the whole session"
    slots = validate_integration(domain, dispatcher, "stood_out", text)
    said = [m["text"] for m in dispatcher.messages]
    assert slots["stood_out"] == text
    assert said[0] in lines_of("heavy")
    assert "care team" in said[1]
    assert slots["support_offered"] is True
    again = CollectingDispatcher()
    later = validate_integration(
        domain,
        again,
        "feelings",
        "grief, mostly, and tears",
        slots={"support_offered": True, "last_ack": said[0]},
    )
    assert len(again.messages) == 1 and again.messages[0]["text"] != said[0]
    assert "support_offered" not in later


def answer_craving_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str, text: str, intent: str
) -> dict[str, Any]:
    """The slots the craving reflection's validation sets for ``text`` given at ``slot``."""
    tracker = form_turn(
        domain, "trigger_form", slot, text, intent=intent, slots={"trigger_kind": "craving"}
    )
    return slot_events(run(ValidateTriggerForm(), dispatcher, tracker, domain))


def test_a_slip_told_in_a_craving_reflection_turns_it_into_a_slip_reflection(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = answer_craving_reflection(
        domain, dispatcher, "trigger_craving", "i didnt though. i drank", "report_lapse"
    )
    assert slots["trigger_kind"] == "lapse"
    assert slots["trigger_craving"] is None
    assert slots["lapse_report"] == "i didnt though. i drank"
    assert responses(dispatcher) == ["utter_lapse_told_in_form"]
    assert not any("acting on it" in (m.get("text") or "") for m in dispatcher.messages)


def test_an_opioid_slip_in_a_craving_reflection_gets_the_harm_reduction_note(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = answer_craving_reflection(
        domain,
        dispatcher,
        "trigger_context",
        "i was at my cousins and ended up taking some of his percs",
        "share_reflection",
    )
    assert slots["trigger_context"].startswith("i was at my cousins")
    assert slots["trigger_kind"] == "lapse"
    assert responses(dispatcher)[:2] == ["utter_lapse_told_in_form", "utter_lapse_harm_reduction"]
    assert stored_flags(journal_db) == []


def test_a_craving_that_stayed_a_craving_is_left_alone(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = form_turn(
        domain,
        "checkin_form",
        "checkin_note",
        "almost drank but called my sponsor",
        slots={"trigger_kind": None},
    )
    slots = slot_events(run(ValidateCheckinForm(), dispatcher, tracker, domain))
    assert slots["checkin_note"] == "almost drank but called my sponsor"


def test_a_slip_is_saved_with_what_was_taken_and_when(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {
        "trigger_kind": "lapse",
        "lapse_report": "had a couple drinks last night after. feel like an idiot",
        "trigger_context": "my brother's birthday",
    }
    run(ActionSaveTrigger(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert entry["fields"]["trigger_kind"] == "lapse"
    assert entry["fields"]["substances"] == ["alcohol"]
    assert entry["fields"]["lapse_when"] == "last night"
    assert entry["fields"]["lapse_date"] == (date.today() - timedelta(days=1)).isoformat()


def test_a_craving_keeps_no_slip_details(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"trigger_kind": "craving", "lapse_report": None, "trigger_context": "payday"}
    run(ActionSaveTrigger(), dispatcher, turn(domain, slots=slots), domain)
    (entry,) = stored_entries(journal_db)
    assert "substances" not in entry["fields"] and "lapse_date" not in entry["fields"]


@pytest.mark.parametrize(("days", "noted"), [(1, True), (3, True), (9, False)])
def test_a_slip_days_after_a_session_gets_the_after_session_note(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    days: int,
    noted: bool,
) -> None:
    journal.save_entry(
        PATIENT, "integration", fields={}, session_date=date.today() - timedelta(days=days)
    )
    tracker = turn(domain, "i drank last night", intent="report_lapse")
    run(ActionCheckLapse(), dispatcher, tracker, domain)
    assert ("utter_lapse_after_session" in responses(dispatcher)) is noted


def test_a_slip_without_any_recorded_session_gets_no_session_note(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionCheckLapse(),
        dispatcher,
        turn(domain, "used on friday", intent="report_lapse"),
        domain,
    )
    assert responses(dispatcher) == []


@pytest.mark.parametrize(("mood", "offered"), [("3", True), ("4", True), ("5", False)])
def test_a_low_mood_check_in_ends_with_an_offer_not_only_thanks(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    journal_db: str,
    mood: str,
    offered: bool,
) -> None:
    slots = {"checkin_mood": mood, "checkin_craving": "2", "checkin_note": "lost my job today"}
    run(ActionSaveCheckin(), dispatcher, turn(domain, slots=slots), domain)
    assert ("utter_low_mood_offer" in responses(dispatcher)) is offered


def test_a_question_about_the_scale_is_not_a_rating(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate_integration(domain, dispatcher, "mood", "is 10 the best or the worst?")
    assert slots == {"mood": None, "reask": "once"}
    assert responses(dispatcher) == ["utter_explain_mood"]


@pytest.mark.parametrize(
    ("text", "rating"), [("unsure tbh... 6", "6"), ("idk, somewhere in the middle", "5")]
)
def test_a_rating_said_with_doubt_is_the_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, text: str, rating: str
) -> None:
    slots = validate_integration(domain, dispatcher, "mood", text, intent="unsure")
    # A number is taken; words are offered back as a number to confirm ("about a 5?").
    assert slots.get("mood") == rating or slots.get("rating_guess") == rating


def test_doubt_without_a_rating_is_not_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    slots = validate_integration(domain, dispatcher, "mood", "idk honestly", intent="unsure")
    assert slots.get("mood") in (None, SKIPPED)
    assert "rating_guess" not in slots


@pytest.mark.parametrize(("slot", "text"), [("mood", "banana"), ("session_date", "the blue one")])
def test_after_three_asks_the_question_is_left_kindly(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str, text: str
) -> None:
    slots = validate_integration(domain, dispatcher, slot, text, slots={"reask": "again"})
    assert slots[slot] == SKIPPED
    assert responses(dispatcher) == ["utter_moving_on"]


# --------------------------------------------------------------------------- after "no" to the safety question


def resumed_after_a_no(
    domain: dict[str, Any],
    form: str,
    message: str,
    *,
    thanked: bool = True,
    slots: dict[str, Any] | None = None,
    reply: str = "utter_safety_thanks",
) -> Tracker:
    """The tracker the form's validation gets when the crisis policy read ``message`` as "no"
    to the direct safety question: thanks, then the paused form again, nothing requested.
    (``reply="utter_safety_noted"``: the message went on with something else after a
    classifier's guess asked.)"""
    latest = parse_data(message, "deny")
    events: list[dict[str, Any]] = [
        {"event": "user", "text": message, "parse_data": latest},
        *([{"event": "action", "name": reply}] if thanked else []),
        {"event": "active_loop", "name": form},
        {"event": "action", "name": form},
    ]
    values = empty_slots(domain) | (slots or {})
    return Tracker(PATIENT, values, latest, events, False, None, {"name": form}, form)


def validate_resumed(domain: dict[str, Any], dispatcher, tracker: Tracker) -> dict[str, Any]:
    return slot_events(run(ValidateCheckinForm(), dispatcher, tracker, domain))


@pytest.mark.parametrize(
    ("message", "reply", "mood", "safety_answer"),
    [
        ("no. honestly its like a 6 today", "utter_safety_thanks", "6", None),
        # A mood low enough for the question takes the "no" just given: not asked twice.
        ("nah, its a 2 but im ok", "utter_safety_thanks", "2", "no"),
        # Given instead of an answer to a question a classifier's guess asked.
        ("6", "utter_safety_noted", "6", None),
        ("like a 2", "utter_safety_noted", "2", "skipped"),  # not answered: never a "no"
    ],
)
def test_a_rating_given_with_or_instead_of_the_answer_answers_the_paused_question(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    message: str,
    reply: str,
    mood: str,
    safety_answer: str | None,
) -> None:
    tracker = resumed_after_a_no(domain, "checkin_form", message, reply=reply)
    slots = validate_resumed(domain, dispatcher, tracker)
    assert slots["checkin_mood"] == mood
    assert slots.get("safety_answer") == safety_answer
    assert slots["requested_slot"] == "checkin_craving"
    assert dispatcher.messages == []


def resumed_after_a_guessed_ask(
    domain: dict[str, Any], asked_on: str, asked_intent: str, reply: str, resumed_with: str
) -> Tracker:
    """The check-in resumed after the safety question a classifier's guess asked on
    ``asked_on`` (which Rasa put in the mood's slot before anything ran), answered ``reply``."""
    latest = parse_data(reply, "nlu_fallback")
    events: list[dict[str, Any]] = [
        {"event": "active_loop", "name": "checkin_form"},
        {"event": "slot", "name": "requested_slot", "value": "checkin_mood"},
        {"event": "user", "text": asked_on, "parse_data": parse_data(asked_on, asked_intent)},
        {"event": "slot", "name": "checkin_mood", "value": asked_on},
        {"event": "action", "name": "action_deactivate_loop"},
        {"event": "active_loop", "name": None},
        {"event": "action", "name": "utter_ask_safety"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": reply, "parse_data": latest},
        {"event": "action", "name": resumed_with},
        {"event": "active_loop", "name": "checkin_form"},
        {"event": "action", "name": "checkin_form"},
    ]
    values = empty_slots(domain) | {"checkin_mood": asked_on}
    return Tracker(PATIENT, values, latest, events, False, None, {"name": "checkin_form"}, "")


@pytest.mark.parametrize("resumed_with", ["utter_safety_noted", "utter_safety_thanks"])
@pytest.mark.parametrize(
    ("asked_on", "intent"),
    [
        ("wait is it normal to feel this off after?", "psychoeducation"),
        ("is 10 the best or the worst?", "nlu_fallback"),
    ],
)
def test_a_question_the_safety_question_was_asked_on_is_not_kept_as_the_answer(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    resumed_with: str,
    asked_on: str,
    intent: str,
) -> None:
    tracker = resumed_after_a_guessed_ask(domain, asked_on, intent, "6", resumed_with)
    slots = validate_resumed(domain, dispatcher, tracker)
    assert slots["checkin_mood"] == "6"  # the rating given afterwards answers the mood
    assert slots["requested_slot"] == "checkin_craving"


def test_a_rating_rasa_already_took_for_the_resumed_question_is_not_taken_twice(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = resumed_after_a_no(domain, "checkin_form", "no, its a 6", reply="utter_safety_thanks")
    # Rasa's own extraction, with the question still requested, took it for the mood.
    tracker.events.append({"event": "slot", "name": "checkin_mood", "value": "no, its a 6"})
    tracker.slots["checkin_mood"] = "no, its a 6"
    slots = validate_resumed(domain, dispatcher, tracker)
    assert slots["checkin_mood"] == "6"
    assert slots.get("checkin_craving") is None
    assert slots["requested_slot"] == "checkin_craving"


def test_a_rating_the_safety_question_was_asked_on_is_kept(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = resumed_after_a_guessed_ask(
        domain, "like a 4, rough day", "share_feeling", "no", "utter_safety_thanks"
    )
    slots = validate_resumed(domain, dispatcher, tracker)
    assert slots["checkin_mood"] == "4"
    assert slots["requested_slot"] == "checkin_craving"


def test_a_rating_said_with_the_no_fills_the_first_empty_question_only(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = resumed_after_a_no(
        domain, "checkin_form", "no, craving is like 3", slots={"checkin_mood": "5"}
    )
    slots = validate_resumed(domain, dispatcher, tracker)
    assert slots["checkin_craving"] == "3"
    assert slots["requested_slot"] == "checkin_note"


@pytest.mark.parametrize(
    ("message", "thanked", "filled"),
    [
        ("no i just meant work is hard", True, {}),
        ("no. its like a 6 today", False, {}),  # not the turn of a "no": nothing taken
        ("no, 6", True, {"checkin_note": None}),  # the pending question is the note, not a rating
    ],
)
def test_nothing_is_taken_from_a_no_without_a_rating_for_the_question(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    message: str,
    thanked: bool,
    filled: dict[str, Any],
) -> None:
    answered = {"checkin_mood": "5", "checkin_craving": "2"} if filled else {}
    tracker = resumed_after_a_no(domain, "checkin_form", message, thanked=thanked, slots=answered)
    slots = validate_resumed(domain, dispatcher, tracker)
    assert not {"checkin_mood", "checkin_craving", "checkin_note"} & set(slots)


# --------------------------------------------------------------------------- asking for a person


@pytest.mark.parametrize("intent", ["nlu_fallback", "out_of_scope", "share_feeling", "inform"])
@pytest.mark.parametrize(
    ("slot", "text"),
    [
        ("insight", "i want to talk to my therapist"),
        ("mood", "can i talk to a real person please"),
    ],
)
def test_asking_for_a_person_inside_a_form_gets_the_care_team_and_the_question_again(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, intent: str, slot: str, text: str
) -> None:
    slots = validate_integration(domain, dispatcher, slot, text, intent=intent)
    assert slots == {slot: None, "reask": "once"}
    assert responses(dispatcher) == ["utter_care_team"]


def test_naming_the_care_team_in_the_safety_plan_is_an_answer(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    from actions.safety_plan import ValidateSafetyPlanForm

    text = "i want to talk to my therapist"
    tracker = form_turn(domain, "safety_plan_form", "plan_professionals", text)
    slots = slot_events(run(ValidateSafetyPlanForm(), dispatcher, tracker, domain))
    assert slots["plan_professionals"] == text
    assert "utter_care_team" not in responses(dispatcher)
