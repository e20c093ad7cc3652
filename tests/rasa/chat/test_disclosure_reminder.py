"""The reminder that the assistant is automated, after three hours of a conversation
(bot/chat/disclosure.py), through the project's response generator (bot/chat/clinic_nlg.py):
added to an ordinary reply once per three hours, measured from the conversation's own events,
never to a crisis reply nor in a crisis turn, and still on time after the conversation was
stored and read back by the real tracker store (as after a restart)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from rasa.core.actions.action import create_bot_utterance
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    Event,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.chat import clinic_nlg, disclosure
from bot.chat.tracker_store import DatabaseUrlTrackerStore

START = 1_790_000_000.0
HOUR = 3600.0
REMINDER = disclosure.reminder_text()


@pytest.fixture(scope="module")
def domain(project_root: Path) -> Domain:
    return Domain.load(project_root / "domain.yml")


@pytest.fixture
def generator(domain: Domain) -> clinic_nlg.ClinicResponseGenerator:
    clinic_nlg._cache.clear()
    return clinic_nlg.ClinicResponseGenerator(domain=domain)


class Chat:
    """A conversation's events, each at a chosen number of hours after it started."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.events: list[Event] = [
            ActionExecuted("action_session_start", timestamp=START),
            SessionStarted(timestamp=START),
            ActionExecuted("action_listen", timestamp=START),
        ]

    def says(self, hours: float, text: str = "ok", detection: dict[str, Any] | None = None) -> None:
        parse_data: dict[str, Any] = {"intent": {"name": "affirm", "confidence": 1.0}}
        if detection:
            parse_data["crisis_detection"] = detection
        self.events.append(
            UserUttered(text, parse_data["intent"], [], parse_data, timestamp=START + hours * HOUR)
        )

    def tracker(self) -> DialogueStateTracker:
        return DialogueStateTracker.from_events(
            "patient-hours", self.events, slots=self.domain.slots
        )

    def reply(self, generator: clinic_nlg.ClinicResponseGenerator, response: str) -> str:
        """What ``response`` says now; its event (with its metadata) joins the conversation."""
        tracker = self.tracker()
        message: dict[str, Any] = asyncio.run(generator.generate(response, tracker, "rest"))
        message["utter_action"] = response  # as Rasa's ActionBotResponse does
        text = message["text"]
        event = create_bot_utterance(message)
        event.timestamp = self.events[-1].timestamp
        self.events.append(event)
        return text


def test_no_reminder_in_the_first_three_hours(
    generator: clinic_nlg.ClinicResponseGenerator, domain: Domain
) -> None:
    chat = Chat(domain)
    chat.says(0.0)
    assert REMINDER not in chat.reply(generator, "utter_help")
    chat.says(2.95)
    assert REMINDER not in chat.reply(generator, "utter_help")


def test_after_three_hours_one_reply_ends_with_it_then_three_hours_again(
    generator: clinic_nlg.ClinicResponseGenerator, domain: Domain
) -> None:
    chat = Chat(domain)
    chat.says(3.01)
    first = chat.reply(generator, "utter_help")
    assert first.endswith(REMINDER)
    assert first.startswith("Here's what I can do")  # added to the reply, not instead of it
    assert isinstance(chat.events[-1], BotUttered)
    assert chat.events[-1].metadata[disclosure.MARK] == disclosure.MARK_VALUE
    # The next reply of the same turn, and later ones, do not repeat it...
    assert REMINDER not in chat.reply(generator, "utter_help")
    chat.says(5.9)
    assert REMINDER not in chat.reply(generator, "utter_help")
    # ...until three hours after the reminder.
    chat.says(6.02)
    assert chat.reply(generator, "utter_help").endswith(REMINDER)


def test_saying_what_it_is_when_asked_starts_the_hours_again(
    generator: clinic_nlg.ClinicResponseGenerator, domain: Domain
) -> None:
    chat = Chat(domain)
    chat.says(2.0, "are you a bot?")
    asked = chat.reply(generator, "utter_iamabot")
    assert REMINDER not in asked and "automated assistant" in asked
    chat.says(4.0)
    assert REMINDER not in chat.reply(generator, "utter_help")
    chat.says(5.01)
    assert chat.reply(generator, "utter_help").endswith(REMINDER)


def test_never_on_a_crisis_reply_nor_in_a_crisis_turn(
    generator: clinic_nlg.ClinicResponseGenerator, domain: Domain
) -> None:
    detection = {"level": "urgent", "kind": "suicide", "category": "suicide", "source": "detector"}
    chat = Chat(domain)
    chat.says(4.0, "i want to kill myself", detection)
    crisis = chat.reply(generator, "utter_crisis_suicide")
    assert REMINDER not in crisis
    assert REMINDER not in chat.reply(generator, "utter_help")  # later in the same turn
    chat.says(4.1, "ok")  # the next turn, right after a crisis reply
    assert REMINDER not in chat.reply(generator, "utter_still_here")
    chat.says(4.2, "what can you do")
    assert chat.reply(generator, "utter_help").endswith(REMINDER)
    chat.says(7.3, "i'm thinking about ending it", {**detection, "level": "ask"})
    assert REMINDER not in chat.reply(generator, "utter_ask_safety")


def test_a_new_session_starts_the_hours_again(
    generator: clinic_nlg.ClinicResponseGenerator, domain: Domain
) -> None:
    chat = Chat(domain)
    chat.says(1.0)
    later = START + 5 * HOUR
    chat.events += [
        ActionExecuted("action_session_start", timestamp=later),
        SessionStarted(timestamp=later),
        ActionExecuted("action_listen", timestamp=later),
    ]
    chat.says(6.0)
    assert REMINDER not in chat.reply(generator, "utter_help")


def test_the_hours_are_counted_from_the_stored_events_after_a_restart(
    generator: clinic_nlg.ClinicResponseGenerator,
    domain: Domain,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'companion.db'}")

    async def stored(events: list[Event]) -> DialogueStateTracker:
        """Saved by one tracker store and read back by a new one, as after a restart."""
        writer = DatabaseUrlTrackerStore(domain=domain)
        await writer.save(DialogueStateTracker.from_events("patient-restart", events))
        writer.engine.dispose()
        reader = DatabaseUrlTrackerStore(domain=domain)
        tracker = await reader.retrieve("patient-restart")
        reader.engine.dispose()
        assert tracker is not None
        return tracker

    chat = Chat(domain)
    chat.says(1.0)
    chat.says(3.5)
    tracker = asyncio.run(stored(chat.events))
    chat.events = list(tracker.events)
    assert chat.reply(generator, "utter_help").endswith(REMINDER)
    chat.says(4.0)
    chat.events = list(asyncio.run(stored(chat.events)).events)
    assert REMINDER not in chat.reply(generator, "utter_help")
