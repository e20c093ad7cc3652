"""The held-out conversation evaluation (tests/conversations/) against the real servers.

Every conversation in ``conversations.yml`` is sent over REST as a patient would, and each
turn is judged from the stored conversation (:mod:`judge`). The counts are written to
``results/conversations/summary.json`` and checked against floors: the share of turns that
went wrong, questions stored as answers, menu fallbacks right after a crisis reply, and
requests for a person not given the care team's contact. The floors sit at what the assistant
reaches today, so a change that makes listening worse fails; the goals they move towards are
beside them (and in the README).
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

import pytest
import yaml

from bot import settings

CONVERSATIONS = settings.PROJECT_ROOT / "tests" / "conversations"
sys.path.insert(0, str(CONVERSATIONS))
from judge import after_crisis, judge, split_turns  # noqa: E402

RESULTS = settings.PROJECT_ROOT / "results" / "conversations"

#: Floors a little above today's level, for retraining's noise: the same code, trained afresh
#: on a clean clone and on a working copy, gave 0.123 and 0.126 of turns wrong, 6 and 7
#: questions stored as answers, 4 and 4 requests for a person missed (earlier code varied by
#: about 0.02, 2 and 1 between two trainings). The goals: 0.05, 0 and 0.
MAX_WRONG_SHARE = 0.16
MAX_QUESTIONS_STORED = 8
MAX_FALLBACKS_AFTER_CRISIS = 0
MAX_CARE_TEAM_MISSED = 5


def _settled_events(assistant: Any, sender: str, said: int) -> list[tuple[str, dict]]:
    """The stored events once the reply to the ``said``-th message is saved and the assistant
    listens again (the tracker store writes just after the reply)."""
    deadline = time.monotonic() + 20
    while True:
        events = assistant.deployment.events(sender)
        users = [i for i, (kind, _) in enumerate(events) if kind == "user"]
        done = (
            len(users) >= said
            and events
            and events[-1][0] == "action"
            and events[-1][1].get("name") == "action_listen"
            and users[-1] < len(events) - 1
        )
        if done or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


def _run(assistant: Any, conversation: dict[str, Any]) -> list[dict[str, Any]]:
    sender = f"eval-{conversation['id']}-{uuid.uuid4().hex[:6]}"
    for number, turn in enumerate(conversation["turns"], start=1):
        assistant.send(sender, turn["user"])
        _settled_events(assistant, sender, number)
    turns = split_turns(_settled_events(assistant, sender, len(conversation["turns"])))
    judged = []
    for index, (turn, spec) in enumerate(zip(turns, conversation["turns"], strict=True)):
        previous = turns[index - 1] if index else None
        verdict = judge(turn, spec["expect"], previous)
        judged.append(
            {
                "conversation": conversation["id"],
                "category": conversation["category"],
                "turn": index + 1,
                "expect": spec["expect"],
                "failed": list(verdict.failed),
                "fell_back": verdict.fell_back,
                "wrong": verdict.wrong,
                "after_crisis": after_crisis(previous),
                "responses": turn.responses,
                "intent": turn.intent,
                "risk": {
                    k: turn.detection.get(k)
                    for k in ("level", "source", "category", "classifier_confidence")
                },
                "asked_for": turn.requested_before,
            }
        )
    return judged


def test_conversations_as_patients_write_them(assistant):
    data = yaml.safe_load((CONVERSATIONS / "conversations.yml").read_text(encoding="utf-8"))
    conversations = data["conversations"]
    assert len(conversations) >= 60
    judged = [turn for c in conversations for turn in _run(assistant, c)]

    wrong = [t for t in judged if t["wrong"]]
    questions_stored = [t for t in judged if "not_stored" in t["failed"]]
    fallbacks_after_crisis = [t for t in judged if t["after_crisis"] and t["fell_back"]]
    care_team_missed = [t for t in judged if "care_team" in t["failed"]]
    by_category: dict[str, dict[str, int]] = {}
    for turn in judged:
        counts = by_category.setdefault(turn["category"], {"turns": 0, "wrong": 0})
        counts["turns"] += 1
        counts["wrong"] += int(turn["wrong"])
    summary = {
        "conversations": len(conversations),
        "turns": len(judged),
        "wrong": len(wrong),
        "wrong_share": round(len(wrong) / len(judged), 3),
        "questions_stored_as_answers": len(questions_stored),
        "fallbacks_after_crisis": len(fallbacks_after_crisis),
        "care_team_requests_missed": len(care_team_missed),
        "by_category": by_category,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "turns.json").write_text(json.dumps(judged, indent=2) + "\n")
    print(json.dumps(summary, indent=2))

    assert summary["wrong_share"] <= MAX_WRONG_SHARE, summary
    assert len(questions_stored) <= MAX_QUESTIONS_STORED, questions_stored
    assert len(fallbacks_after_crisis) <= MAX_FALLBACKS_AFTER_CRISIS, fallbacks_after_crisis
    assert len(care_team_missed) <= MAX_CARE_TEAM_MISSED, care_team_missed


@pytest.mark.parametrize(
    ("events", "expect", "failed"),
    [
        (
            [
                ("user", {"text": "/start_checkin"}),
                ("action", {"name": "checkin_form"}),
                ("active_loop", {"name": "checkin_form"}),
                ("slot", {"name": "requested_slot", "value": "checkin_mood"}),
                ("bot", {"text": "Mood?", "metadata": {"utter_action": "utter_ask_checkin_mood"}}),
                ("user", {"text": "is it normal to feel spaced out?"}),
                ("slot", {"name": "checkin_mood", "value": "is it normal to feel spaced out?"}),
                ("slot", {"name": "requested_slot", "value": "checkin_craving"}),
            ],
            ["not_stored", "reasks_same"],
            ("not_stored", "reasks_same"),
        ),
    ],
)
def test_the_judge_catches_a_question_stored_as_an_answer(events, expect, failed):
    turns = split_turns(events)
    assert judge(turns[1], expect, turns[0]).failed == failed
