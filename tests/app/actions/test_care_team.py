"""Reaching the care team: the clinic's contact settings, the reply built from them, and a
message left for the care team (actions/care_team.py), stored as a request flag."""

from __future__ import annotations

from typing import Any

import pytest
from action_support import (
    FLAG_ROWS,
    PATIENT,
    raw_rows,
    responses,
    run,
    slot_events,
    stored_flags,
    turn,
)
from rasa_sdk.executor import CollectingDispatcher

from actions.care_team import (
    ActionCancelCareTeamMessage,
    ActionPauseForCareTeamMessage,
    ActionSendCareTeamMessage,
)
from bot.clinics import registry
from bot.clinics.care_team import NO_CARE_TEAM_CONTACT, reply_values

FORM = "care_team_message_form"


# --------------------------------------------------------------------------- the message


def test_a_message_is_kept_for_the_care_team_as_a_request_sealed(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    words = "the new dose makes me dizzy the next day, can we talk?"
    tracker = turn(domain, words, slots={"care_team_message": words})

    events = run(ActionSendCareTeamMessage(), dispatcher, tracker, domain)

    assert responses(dispatcher) == ["utter_care_team_message_sent"]
    assert slot_events(events) == {"care_team_message": None}
    [stored] = stored_flags(journal_db)
    assert stored == {
        "level": "request",
        "category": "care_team_message",
        "source": "patient",
        "message": words,
    }
    sealed = raw_rows(journal_db, FLAG_ROWS, PATIENT)[0]["message"]
    assert words not in sealed  # sealed at rest


def test_a_paused_form_is_offered_again_after_the_message(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    slots = {"care_team_message": "call me please", "paused_form": "checkin_form"}
    run(ActionSendCareTeamMessage(), dispatcher, turn(domain, slots=slots), domain)
    assert responses(dispatcher) == ["utter_care_team_message_sent", "utter_paused_form_waiting"]


def test_an_empty_message_sends_nothing(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    run(
        ActionSendCareTeamMessage(),
        dispatcher,
        turn(domain, slots={"care_team_message": " "}),
        domain,
    )
    assert responses(dispatcher) == ["utter_care_team_message_cancelled"]
    assert stored_flags(journal_db) == []


def test_a_journal_that_cannot_be_written_is_said_and_the_words_not_lost_silently(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, broken_journal: None
) -> None:
    tracker = turn(domain, slots={"care_team_message": "please call me"})
    run(ActionSendCareTeamMessage(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_care_team_message_failed"]


def test_leaving_a_message_pauses_the_form_the_patient_was_in(
    domain: dict[str, Any], dispatcher: CollectingDispatcher
) -> None:
    tracker = turn(domain, "can i leave a message", active_loop="checkin_form")
    events = run(ActionPauseForCareTeamMessage(), dispatcher, tracker, domain)
    assert slot_events(events) == {"paused_form": "checkin_form", "requested_slot": None}
    assert [event.get("name") for event in events if event["event"] == "active_loop"] == [None]
    assert dispatcher.messages == []


def test_stop_while_writing_sends_nothing(
    domain: dict[str, Any], dispatcher: CollectingDispatcher, journal_db: str
) -> None:
    tracker = turn(domain, "stop", intent="stop", active_loop=FORM)
    events = run(ActionCancelCareTeamMessage(), dispatcher, tracker, domain)
    assert responses(dispatcher) == ["utter_care_team_message_cancelled"]
    assert slot_events(events) == {"requested_slot": None, "care_team_message": None}
    assert stored_flags(journal_db) == []


# --------------------------------------------------------------------------- the domain


def test_forms_never_take_a_request_for_the_care_team_as_an_answer(domain: dict[str, Any]) -> None:
    for form, spec in domain["forms"].items():
        if form in (FORM, "safety_plan_form"):  # a plan's answers name the care team
            continue
        for slot in spec["required_slots"]:
            for mapping in domain["slots"][slot]["mappings"]:
                if mapping["type"] in ("from_text", "from_intent") and "intent" not in mapping:
                    assert {"contact_care_team", "leave_care_team_message"} <= set(
                        mapping["not_intent"]
                    ), slot


def test_the_reply_offers_a_message_and_is_honest_about_live_reading(
    domain: dict[str, Any],
) -> None:
    [reply] = domain["responses"]["utter_care_team"]
    assert "{care_team_contact}" in reply["text"] and "{response_time}" in reply["text"]
    assert "Nobody reads this chat live" in reply["text"]
    # Asked for a person (or whether it is one), it is honest that it is automated.
    assert reply["text"].startswith("I'm an automated assistant, not a person")
    assert [button["payload"] for button in reply["buttons"]] == ["/leave_care_team_message"]


# --------------------------------------------------------------------------- the settings


def test_care_team_values_come_from_the_clinic_or_say_where_to_look() -> None:
    values = reply_values(
        {
            "care_team_contact": "call (555) 010-0142",
            "care_team_hours": "weekdays 9-5",
            "response_time": "within two working days",
        }
    )
    assert values == {
        "care_team_contact": "You can reach your care team: call (555) 010-0142 (weekdays 9-5).",
        "response_time": "within two working days",
    }
    unset = reply_values(None)
    assert unset["care_team_contact"] == NO_CARE_TEAM_CONTACT
    assert unset["response_time"] == "within one working day"
    hidden = reply_values({"care_team_contact": "call\u2028 me\x00", "care_team_hours": 5})
    assert hidden["care_team_contact"] == "You can reach your care team: call me."


def test_a_clinic_sets_and_removes_its_care_team_details(clinic_db: str) -> None:
    registry.create("harbour", "Harbour Clinic", origins=["https://harbour.example"])
    assert registry.get_clinic("harbour").care_team_contact is None

    view = registry.update(
        "harbour", care_team_contact="call  (555) 010-0100", care_team_hours="Mon-Fri 9-5"
    )
    assert (view.care_team_contact, view.care_team_hours) == ("call (555) 010-0100", "Mon-Fri 9-5")
    assert view.as_dict()["care_team_contact"] == "call (555) 010-0100"
    from bot import patient_tokens

    assert patient_tokens.clinic_care_team("harbour") == {
        "care_team_contact": "call (555) 010-0100",
        "care_team_hours": "Mon-Fri 9-5",
        "response_time": "within one working day",
    }
    with pytest.raises(registry.ClinicError, match="1-300"):
        registry.update("harbour", care_team_hours="x" * 301)
    cleared = registry.update("harbour", care_team_contact="", care_team_hours="")
    assert (cleared.care_team_contact, cleared.care_team_hours) == (None, None)


def test_the_demo_clinic_has_example_care_team_details(clinic_db: str) -> None:
    demo = registry.ensure_demo_clinic()
    assert demo.care_team_contact and "(555)" in demo.care_team_contact
    assert demo.care_team_hours
    assert "request" in demo.notify_levels


# --------------------------------------------------------------------------- migration 0006


def test_migration_0006_adds_requests_to_default_notices_only_and_refuses_to_lose_them(
    database_url: str,
) -> None:
    import sqlalchemy as sa
    from alembic import command

    from bot.journal import entries as journal
    from bot.storage import db

    db.upgrade(revision="0005")
    clinics_table = sa.table(
        "clinics",
        sa.column("slug", sa.String()),
        sa.column("name", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("origins", sa.JSON()),
        sa.column("crisis_lines", sa.JSON()),
        sa.column("accent_color", sa.String()),
        sa.column("allow_anonymous", sa.Boolean()),
        sa.column("notify_emails", sa.JSON()),
        sa.column("erasure_review", sa.Boolean()),
        sa.column("notify_levels", sa.JSON()),
    )
    with db.get_engine().begin() as connection:
        for slug, levels in (("usual", ["urgent", "elevated"]), ("own", ["urgent"])):
            connection.execute(
                clinics_table.insert().values(
                    slug=slug,
                    name=slug,
                    created_at=sa.func.now(),
                    origins=[],
                    crisis_lines=[],
                    accent_color="#2f6f73",
                    allow_anonymous=False,
                    notify_emails=[],
                    erasure_review=False,
                    notify_levels=levels,
                )
            )

    db.upgrade()

    usual, own = registry.get_clinic("usual"), registry.get_clinic("own")
    assert usual.notify_levels == ["urgent", "elevated", "request"]
    assert own.notify_levels == ["urgent"]  # chosen by the clinic: untouched
    assert (usual.care_team_contact, usual.care_team_hours) == (None, None)
    journal.leave_care_team_message("p-asks", "please call me")
    with pytest.raises(RuntimeError, match="messages to care teams are stored"):
        command.downgrade(db.alembic_config(), "0005")
    assert db.current_revision() == db.head_revision()


def test_the_check_in_after_a_crisis_reply_offers_the_care_team(domain: dict[str, Any]) -> None:
    [still_here] = domain["responses"]["utter_still_here"]
    payloads = [button["payload"] for button in still_here["buttons"]]
    assert "/contact_care_team" in payloads and "/make_safety_plan" in payloads
    [iamabot] = domain["responses"]["utter_iamabot"]
    assert [button["payload"] for button in iamabot["buttons"]] == ["/contact_care_team"]
