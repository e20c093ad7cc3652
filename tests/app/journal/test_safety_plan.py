"""The safety plan (bot/journal/safety_plan.py, actions/safety_plan.py): made, changed step by step,
shown in the chat, pointed to by the crisis replies, and shown to the care team on the
patient page and in the PDF.

The actions run the way the action server runs them, against a real SQLite journal; the
dashboard tests talk to a real web app process over HTTP (:mod:`servers`).
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any

import action_support
import pypdf
import pytest
from action_support import PATIENT, raw_rows, responses, run, slot_events, texts, turn
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from servers import Browser, SeededServer, attribute_names, point_at, seeded_server
from sqlalchemy import text

from actions.safety import ActionRecordRiskFlag
from actions.safety_plan import (
    ActionAskPlanPeopleToAsk,
    ActionAskPlanWarningSigns,
    ActionSafetyPlanIntro,
    ActionSaveSafetyPlan,
    ActionShowSafetyPlan,
    AskPlanStep,
    ValidateSafetyPlanForm,
)
from actions.stopping import ActionKeepPartial, ActionStopForm
from bot import encryption
from bot.journal import entries as journal
from bot.journal import replies, safety_plan, schema
from bot.journal.parsing import SKIPPED
from bot.storage import db

PROJECT_ROOT = Path(__file__).resolve().parents[3]
FORM = "safety_plan_form"
SLOTS = safety_plan.SLOTS

#: A whole plan, as a patient might write it (multi-line answers included).
PLAN = {
    "warning_signs": "Not sleeping, skipping meetings\nthinking nobody would notice",
    "coping_alone": "hot shower, walk the dog, loud music",
    "distractions": "Coffee with Jo, the library",
    "people_to_ask": "Maria (555-0101)",
    "professionals": "Dr Okafor at the clinic 555-0199; 988",
    "safer_surroundings": "Give my pills to Maria to keep, no beer in the house",
    "reasons_for_living": "My son Leo 👦 and my garden",
}
CRISIS_TEXT = "I want to end it all"


# --------------------------------------------------------------------------- helpers
# (the fixtures and the rest of the helpers are in conftest.py and action_support.py)


def slots_of(plan: dict[str, str]) -> dict[str, str]:
    return {safety_plan.slot_of(key): value for key, value in plan.items()}


def form_turn(domain: dict[str, Any], slot: str, message: str, **kwargs: Any) -> Tracker:
    """The tracker Rasa sends to ``validate_safety_plan_form`` after ``slot`` was answered
    (``action_support.form_turn``)."""
    return action_support.form_turn(domain, FORM, slot, message, **kwargs)


def validate(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    return slot_events(run(ValidateSafetyPlanForm(), dispatcher, tracker, domain))


#: A patient's safety-plan entries as stored; patient and kind are bound parameters.
PLAN_ROWS = text(
    "SELECT e.number, e.status, e.fields FROM journal_entries e "
    "JOIN patients p ON p.id = e.patient_id "
    "WHERE p.sender_id = :sender AND e.kind = :kind ORDER BY e.number"
).bindparams(kind="safety_plan")


def stored_plans(url: str, sender: str = PATIENT) -> list[dict[str, Any]]:
    """Safety plan entries as stored: the raw sealed text and the fields opened with the
    test's key, oldest first."""
    rows = raw_rows(url, PLAN_ROWS, sender)
    return [
        row | {"sealed": row["fields"], "fields": json.loads(encryption.open_value(row["fields"]))}
        for row in rows
    ]


# --------------------------------------------------------------------------- the domain


def test_the_form_asks_the_seven_steps_in_order(domain: dict[str, Any]) -> None:
    assert safety_plan.STEP_KEYS == schema.FIELD_KEYS["safety_plan"]
    assert domain["forms"][FORM]["required_slots"] == list(SLOTS)
    assert FORM in domain["slots"]["paused_form"]["values"]
    for slot in SLOTS:
        (mapping,) = domain["slots"][slot]["mappings"]
        assert mapping["type"] == "from_text"
        # Naming the care team or the clinic here is an answer, not a request to reach them.
        assert set(mapping["not_intent"]) == {"crisis", "stop"}
        assert mapping["conditions"] == [{"active_loop": FORM, "requested_slot": slot}]
        assert domain["slots"][slot]["influence_conversation"] is False
        assert f"utter_ask_{slot}" in domain["responses"]
        assert f"action_ask_{slot}" in domain["actions"]
        assert slot in schema.LABELS


def test_every_step_has_an_ask_action() -> None:
    names = {cls().name() for cls in AskPlanStep.__subclasses__()}
    assert names == {f"action_ask_{slot}" for slot in SLOTS}
    assert all(cls().name() == f"action_ask_{cls.slot}" for cls in AskPlanStep.__subclasses__())


def test_the_questions_name_the_examples_the_brief_asks_for(domain: dict[str, Any]) -> None:
    asked = {slot: domain["responses"][f"utter_ask_{slot}"][0]["text"] for slot in SLOTS}
    assert "988" in asked["plan_professionals"]
    assert "care team" in asked["plan_professionals"]
    assert "medicines" in asked["plan_safer_surroundings"]
    assert "alcohol or drugs" in asked["plan_safer_surroundings"]
    assert "numbers" in asked["plan_people_to_ask"]
    assert all(len(question) < 300 for question in asked.values())


# --------------------------------------------------------------------------- making a plan


def test_a_new_plan_is_introduced_asked_and_saved_sealed(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(ActionSafetyPlanIntro(), dispatcher, turn(domain, "make a safety plan"), domain)
    assert responses(dispatcher) == ["utter_safety_plan_intro"]

    asked = CollectingDispatcher()
    run(ActionAskPlanWarningSigns(), asked, turn(domain), domain)
    assert responses(asked) == ["utter_ask_plan_warning_signs"]  # nothing to show yet

    answers = {}
    for key, value in PLAN.items():
        slot = safety_plan.slot_of(key)
        checked = CollectingDispatcher()
        assert validate(domain, checked, form_turn(domain, slot, value, slots=answers)) == {
            slot: value
        }
        assert checked.messages == []
        answers[slot] = value

    saved = CollectingDispatcher()
    events = run(ActionSaveSafetyPlan(), saved, turn(domain, slots=answers), domain)

    (entry,) = stored_plans(journal_db)
    assert entry["status"] == "complete"
    assert entry["fields"] == PLAN
    assert "Maria" not in entry["sealed"]  # sealed at rest
    assert safety_plan.current_plan(PATIENT) == PLAN
    reply = texts(saved)
    assert f"entry #{entry['number']}" in reply
    assert "4. People I can ask for help: Maria (555-0101)" in reply
    assert (
        "1. Warning signs: Not sleeping, skipping meetings; thinking nobody would notice" in reply
    )
    reset = slot_events(events)
    assert set(SLOTS) <= set(reset)
    assert all(reset[slot] is None for slot in SLOTS)


def test_skipped_steps_are_left_out(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slot = "plan_distractions"
    assert validate(domain, dispatcher, form_turn(domain, slot, "skip")) == {slot: SKIPPED}
    assert responses(dispatcher) == ["utter_skipped"]

    slots = {s: SKIPPED for s in SLOTS} | {"plan_people_to_ask": "my sponsor Dave"}
    run(ActionSaveSafetyPlan(), CollectingDispatcher(), turn(domain, slots=slots), domain)
    (entry,) = stored_plans(journal_db)
    assert entry["fields"] == {"people_to_ask": "my sponsor Dave"}


def test_a_plan_with_every_step_skipped_is_not_saved(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {s: SKIPPED for s in SLOTS}
    events = run(ActionSaveSafetyPlan(), dispatcher, turn(domain, slots=slots), domain)
    assert responses(dispatcher) == ["utter_safety_plan_nothing_written"]
    assert safety_plan.current_plan(PATIENT) is None
    assert all(slot_events(events)[slot] is None for slot in SLOTS)


@pytest.mark.parametrize("slot", SLOTS)
def test_a_crisis_message_is_never_taken_as_a_step(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, slot: str
) -> None:
    tracker = form_turn(domain, slot, CRISIS_TEXT, intent="crisis")
    assert validate(domain, dispatcher, tracker) == {}
    assert dispatcher.messages == []


def test_keep_with_no_plan_asks_for_words(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slot = "plan_coping_alone"
    tracker = form_turn(domain, slot, "keep", intent="keep_entry")
    assert validate(domain, dispatcher, tracker) == {slot: None, "reask": "once"}
    assert responses(dispatcher) == ["utter_safety_plan_nothing_to_keep"]


def test_stopping_a_new_plan_and_keeping_it(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    answers = {"plan_warning_signs": "pacing at night", "plan_coping_alone": "cold water"}
    stop = turn(domain, "stop", intent="stop", slots=answers, active_loop=FORM)
    events = run(ActionStopForm(), dispatcher, stop, domain)
    assert slot_events(events)["paused_form"] == FORM

    kept = CollectingDispatcher()
    slots = answers | {"paused_form": FORM}
    run(
        ActionKeepPartial(), kept, turn(domain, "keep it", intent="keep_entry", slots=slots), domain
    )
    (entry,) = stored_plans(journal_db)
    assert entry["status"] == "partial"
    assert entry["fields"] == {"warning_signs": "pacing at night", "coping_alone": "cold water"}
    assert safety_plan.current_plan(PATIENT) == entry["fields"]


# --------------------------------------------------------------------------- showing it


def test_show_without_a_plan_offers_to_make_one(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    journal.save_entry(PATIENT, "checkin", fields={"note": "ok"}, mood=6)
    run(ActionShowSafetyPlan(), dispatcher, turn(domain, "show my safety plan"), domain)
    assert responses(dispatcher) == ["utter_safety_plan_none"]
    (button,) = domain["responses"]["utter_safety_plan_none"][0]["buttons"]
    assert button["payload"] == "/make_safety_plan"


def test_show_gives_one_line_per_answered_step_of_the_newest_plan(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    safety_plan.save_plan(PATIENT, {"people_to_ask": "old friend 555-0000"})
    journal.save_entry(
        PATIENT,
        "safety_plan",
        fields={
            "coping_alone": "walk  the dog\n\n call Jo ",
            "reasons_for_living": "Leo",
            "distractions": "",
        },
    )
    run(ActionShowSafetyPlan(), dispatcher, turn(domain, "what's my safety plan"), domain)

    (message,) = dispatcher.messages
    lines = message["text"].splitlines()
    assert lines[0].startswith("Your safety plan (updated ")
    assert lines[1:-1] == [
        "2. Things I can do on my own: walk the dog; call Jo",
        "7. My reasons for living: Leo",
    ]
    assert "update my safety plan" in lines[-1]
    assert "<" not in message["text"]


def test_the_journal_lists_the_plan_as_a_safety_plan(journal_db: str) -> None:
    entry = safety_plan.save_plan(PATIENT, {"warning_signs": "not sleeping"})
    assert replies.entry_title(entry) == "Safety plan"
    assert "Safety plan" in replies.journal_line(entry)
    assert "Warning signs: not sleeping" in replies.full_entry(entry)


def test_show_when_the_journal_is_unreachable(
    domain: dict[str, Any],
    dispatcher: CollectingDispatcher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{blocker / 'companion.db'}")
    db.reset_engines()
    try:
        run(ActionShowSafetyPlan(), dispatcher, turn(domain, "show my safety plan"), domain)
        assert texts(dispatcher) == replies.JOURNAL_READ_FAILED
        assert safety_plan.crisis_reminder(PATIENT) is None
    finally:
        db.reset_engines()


# --------------------------------------------------------------------------- changing it


def test_changing_a_plan_shows_each_step_and_keeps_what_the_patient_keeps(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    safety_plan.save_plan(PATIENT, PLAN)

    run(ActionSafetyPlanIntro(), dispatcher, turn(domain, "update my safety plan"), domain)
    assert responses(dispatcher) == ["utter_safety_plan_intro_update"]

    asked = CollectingDispatcher()
    run(ActionAskPlanPeopleToAsk(), asked, turn(domain), domain)
    assert responses(asked) == ["utter_ask_plan_people_to_ask", None]
    hint = asked.messages[1]
    assert hint["text"] == safety_plan.edit_hint("Maria (555-0101)")
    assert "“Maria (555-0101)”" in hint["text"]
    assert hint["buttons"] == [{"title": "Keep it", "payload": "keep"}]

    # "keep" and "same" keep a step; skipping a step the plan answers keeps it too; a new
    # answer replaces it.
    replies = {
        "plan_warning_signs": ("keep", "keep_entry"),
        "plan_coping_alone": ("Same", "affirm"),
        "plan_distractions": ("skip", "skip"),
        "plan_people_to_ask": ("Maria (555-0101), my brother Sam 555-0123", "inform"),
        "plan_professionals": ("no change", "inform"),
        "plan_safer_surroundings": ("keep it", "keep_entry"),
        "plan_reasons_for_living": ("still the same", "inform"),
    }
    answers: dict[str, Any] = {}
    for slot, (message, intent) in replies.items():
        checked = CollectingDispatcher()
        tracker = form_turn(domain, slot, message, intent=intent, slots=answers)
        answers |= validate(domain, checked, tracker)
        if slot == "plan_people_to_ask":
            assert checked.messages == []
        else:
            assert responses(checked) == ["utter_safety_plan_kept"]
    expected = PLAN | {"people_to_ask": "Maria (555-0101), my brother Sam 555-0123"}
    assert answers == slots_of(expected)

    run(ActionSaveSafetyPlan(), CollectingDispatcher(), turn(domain, slots=answers), domain)
    first, second = stored_plans(journal_db)
    assert first["fields"] == PLAN  # the earlier version stays in the record
    assert second["fields"] == expected
    assert safety_plan.current_plan(PATIENT) == expected


def test_an_update_stopped_part_way_keeps_the_steps_it_did_not_reach(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    safety_plan.save_plan(PATIENT, PLAN)
    slots = {
        "paused_form": FORM,
        "plan_warning_signs": "snapping at my partner",
        "plan_coping_alone": SKIPPED,
    }
    run(
        ActionKeepPartial(),
        dispatcher,
        turn(domain, "keep", intent="keep_entry", slots=slots),
        domain,
    )
    _, update = stored_plans(journal_db)
    assert update["status"] == "partial"
    assert update["fields"] == PLAN | {"warning_signs": "snapping at my partner"}


@pytest.mark.slow
def test_a_crisis_in_the_middle_of_an_update_keeps_the_plan_whole(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    safety_plan.save_plan(PATIENT, PLAN)
    slots = {"requested_slot": "plan_distractions", "plan_warning_signs": "can't stop crying"}
    tracker = turn(domain, CRISIS_TEXT, intent="crisis", slots=slots, active_loop=FORM)
    events = run(ActionRecordRiskFlag(), dispatcher, tracker, domain)

    _, interrupted = stored_plans(journal_db)
    assert interrupted["status"] == "interrupted"
    assert interrupted["fields"] == PLAN | {"warning_signs": "can't stop crying"}
    assert safety_plan.current_plan(PATIENT)["people_to_ask"] == "Maria (555-0101)"
    assert all(slot_events(events)[slot] is None for slot in SLOTS)


# --------------------------------------------------------------------------- crisis replies


def test_no_plan_no_reminder(journal_db: str) -> None:
    assert safety_plan.crisis_reminder(PATIENT) is None
    assert safety_plan.crisis_reminder("never-seen") is None


@pytest.mark.slow
def test_the_reminder_names_the_people_to_ask(journal_db: str) -> None:
    safety_plan.save_plan(PATIENT, PLAN)
    assert (
        safety_plan.crisis_reminder(PATIENT)
        == "Your safety plan says you can reach out to: Maria (555-0101)."
    )


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (
            {"professionals": "Dr Okafor 555-0199", "coping_alone": "walk"},
            "Your safety plan says you can contact: Dr Okafor 555-0199.",
        ),
        (
            {"people_to_ask": "nobody", "professionals": "my counsellor Ana"},
            "Your safety plan says you can contact: my counsellor Ana.",
        ),
        (
            {"coping_alone": "cold shower\nbreathe slowly", "reasons_for_living": "Leo"},
            "Your safety plan says this can help: cold shower; breathe slowly.",
        ),
        (
            {"people_to_ask": "Mum!\n\nJo 555-0102"},
            "Your safety plan says you can reach out to: Mum!; Jo 555-0102.",
        ),
    ],
)
def test_the_reminder_falls_back_to_professionals_then_coping(
    journal_db: str, plan: dict[str, str], expected: str
) -> None:
    safety_plan.save_plan(PATIENT, plan)
    assert safety_plan.crisis_reminder(PATIENT) == expected


def test_a_plan_with_nothing_to_point_to_gives_no_reminder(journal_db: str) -> None:
    safety_plan.save_plan(PATIENT, {"warning_signs": "isolating", "people_to_ask": "no one"})
    assert safety_plan.crisis_reminder(PATIENT) is None


def test_a_long_reminder_is_cut_at_a_word(journal_db: str) -> None:
    people = "My sister Maria 555-0101 " + "or my cousin who lives nearby " * 20
    safety_plan.save_plan(PATIENT, {"people_to_ask": people})
    reminder = safety_plan.crisis_reminder(PATIENT)
    assert reminder is not None
    assert len(reminder) <= safety_plan.MAX_REMINDER_CHARS
    assert reminder.startswith(
        "Your safety plan says you can reach out to: My sister Maria 555-0101"
    )
    assert reminder.endswith("…")
    assert "\n" not in reminder
    assert not reminder.removesuffix("…").endswith(" ")


def test_the_reminder_is_the_patients_text_as_plain_text(journal_db: str) -> None:
    safety_plan.save_plan(PATIENT, {"people_to_ask": "<b>Maria</b> & Jo"})
    assert safety_plan.crisis_reminder(PATIENT) == (
        "Your safety plan says you can reach out to: <b>Maria</b> & Jo."
    )


def test_the_reminder_never_raises_and_never_logs_the_plan(
    journal_db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender_id: str, kind: str) -> None:
        raise RuntimeError("SELECT … Maria (555-0101)")

    monkeypatch.setattr(journal, "latest_entry", broken)
    with caplog.at_level(logging.DEBUG):
        assert safety_plan.crisis_reminder(PATIENT) is None
    assert "Maria" not in caplog.text
    assert "RuntimeError" in caplog.text


# --------------------------------------------------------------------------- the care team's view

XSS_PLAN = {
    "warning_signs": '<script>document.title="pwned-plan"</script>',
    "people_to_ask": "<img src=x onerror=alert('plan')> Maria 555-0101",
    "reasons_for_living": "Leo & the garden",
}


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[..., str]
) -> Iterator[SeededServer]:
    directory = tmp_path_factory.mktemp("safety-plan")
    url = new_database(directory / "companion.db")
    with seeded_server(
        directory, "safety-plan-secret-0123456789abcdef0123456789", database_url=url
    ) as running:
        yield running


@pytest.fixture
def harbour(server: SeededServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """A signed-in harbour therapist; this process points at the served database."""
    for web in point_at(server, monkeypatch):
        yield Browser(web).sign_in(web.info.therapist)


def page_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.mark.slow
def test_patient_page_shows_the_current_plan_near_the_top_escaped(harbour: Browser) -> None:
    info = harbour.server.info
    safety_plan.save_plan(info.xss, {"people_to_ask": "an older version"})
    safety_plan.save_plan(info.xss, XSS_PLAN)

    response = harbour.get(f"/therapist/patients/{info.xss}")

    assert response.status_code == 200
    html = response.text
    section = html[html.index('<section id="safety-plan"') : html.index('<section id="trend"')]
    assert html.index('id="flags"') < html.index('id="safety-plan"') < html.index('id="journal"')
    shown = page_text(section)
    assert "1. Warning signs" in shown
    assert "4. People I can ask for help" in shown
    assert "7. My reasons for living" in shown
    assert "Making my surroundings safer" not in shown  # unanswered steps are left out
    for value in XSS_PLAN.values():
        assert value in shown
        assert value not in section
    assert "an older version" not in shown  # only the newest plan is the current one
    assert "&lt;script&gt;" in section
    assert "<script" not in html.lower()
    assert not {name for name in attribute_names(html) if name.startswith("on")}
    assert "Safety plan" in page_text(html[html.index('id="journal"') :])  # the entry's title


def test_patient_page_without_a_plan(harbour: Browser) -> None:
    response = harbour.get(f"/therapist/patients/{harbour.server.info.newcomer}")
    assert response.status_code == 200
    assert "No safety plan yet" in page_text(response.text)


def test_the_kind_filter_can_show_only_safety_plans(harbour: Browser) -> None:
    info = harbour.server.info
    safety_plan.save_plan(info.steady, {"coping_alone": "crosswords"})
    response = harbour.get(f"/therapist/patients/{info.steady}", params={"kind": "safety_plan"})
    shown = page_text(response.text)
    assert "Safety plans" in shown  # the filter's option
    journal_part = page_text(response.text[response.text.index('id="journal"') :])
    assert "Safety plan" in journal_part
    assert "Check-in" not in journal_part


#: Without the emoji: pypdf cannot extract the text of a page whose fonts include an emoji
#: fallback (the PDF itself shows it), and this test reads the text back.
PDF_PLAN = PLAN | {"reasons_for_living": "My son Leo and my garden"}


@pytest.mark.slow
def test_pdf_includes_the_plan(harbour: Browser) -> None:
    info = harbour.server.info
    safety_plan.save_plan(info.main, PDF_PLAN)

    response = harbour.get(f"/therapist/patients/{info.main}/export.pdf")

    assert response.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    pdf = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))
    assert "Safety plan" in pdf
    assert "4. People I can ask for help" in pdf
    assert "Maria (555-0101)" in pdf
    assert "Give my pills to Maria to keep, no beer in the house" in pdf
    assert pdf.index("Safety plan") < pdf.index("Journal, newest first")


def test_csv_export_has_the_plans_steps(harbour: Browser) -> None:
    info = harbour.server.info
    safety_plan.save_plan(info.main, PDF_PLAN)
    response = harbour.get(f"/therapist/patients/{info.main}/export.csv")
    header = response.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert {"warning_signs", "people_to_ask", "reasons_for_living"} <= set(header)
