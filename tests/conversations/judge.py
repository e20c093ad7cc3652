"""Judging a held-out conversation turn by turn from what the assistant did.

``conversations.yml`` (written from descriptions of the product alone, never from its code,
training data or tests) gives each patient turn a list of expectations in a small fixed
vocabulary ("stored", "not_stored", "reasks_same", "lapse", "care_team" …). This module reads
what really happened in the turn — the bot's messages with the response each came from, the
actions run and the slots set, as the tracker store holds them — and says which expectations
failed. A turn is wrong when any failed, or when the assistant fell back to "I'm not sure I
understood" or its menu where nothing asked for it.

No wording is checked: the responses' names and the slots are, so rewording a reply cannot
make a turn pass or fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.content.psychoeducation import more_texts
from bot.journal.acknowledgements import all_lines
from bot.journal.schema import RATING_SLOTS

SKIPPED = "__skipped__"
FALLBACKS = frozenset({"utter_default", "utter_help"})
LAPSE_REPLIES = frozenset(
    {
        "utter_lapse_no_shame",
        "utter_lapse_told_in_form",
        "utter_lapse_harm_reduction",
        "utter_ask_lapse_check",
        "utter_lapse_alone",
    }
)
SUPPORTIVE_REPLIES = frozenset(
    {
        "utter_still_here",
        "utter_glad_safe",
        "utter_supportive",
        "utter_welcome",
        "utter_safety_thanks",
        "utter_goodbye",
        "utter_ask_vent_heard",
        "utter_care_team",
        "utter_reflection_ack",
    }
)
PRAISE_FOR_RESISTING = "instead of acting on it"
#: Slots that hold a message without making it a journal answer: the message that told a slip
#: (read for the substance and the day) and the last acknowledgement said.
NOT_ANSWERS = frozenset({"lapse_report", "last_ack"})
SAVE_ACTIONS = frozenset(
    {
        "action_save_integration",
        "action_save_checkin",
        "action_save_trigger",
        "action_finish_urge_surfing",
    }
)


@dataclass
class Turn:
    """One patient message and everything the assistant did until it listened again."""

    text: str
    requested_before: str | None
    loop_before: str | None
    requested_after: str | None = None
    loop_after: str | None = None
    replies: list[dict[str, Any]] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    slots: list[tuple[str, Any]] = field(default_factory=list)
    #: The slots as the validation left them, before a save action cleared the form.
    answered: list[tuple[str, Any]] = field(default_factory=list)
    #: The NLU's reading of the message: its intent, and the risk assessment if any.
    intent: str | None = None
    detection: dict[str, Any] = field(default_factory=dict)

    @property
    def responses(self) -> list[str]:
        return [str((r.get("metadata") or {}).get("utter_action") or "") for r in self.replies]

    @property
    def texts(self) -> list[str]:
        return [str(r.get("text") or "") for r in self.replies]

    def slot_values(self, name: str) -> list[Any]:
        return [value for slot, value in self.slots if slot == name]


def split_turns(events: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Turn]:
    """The stored events of a conversation as turns, with the form state around each."""
    turns: list[Turn] = []
    requested: str | None = None
    loop: str | None = None
    for kind, data in events:
        if kind == "user":
            if turns:
                turns[-1].requested_after, turns[-1].loop_after = requested, loop
            parsed = data.get("parse_data") or {}
            turns.append(
                Turn(
                    str(data.get("text") or ""),
                    requested,
                    loop,
                    intent=(parsed.get("intent") or {}).get("name"),
                    detection=dict(parsed.get("crisis_detection") or {}),
                )
            )
        elif kind == "slot":
            if data.get("name") == "requested_slot":
                requested = data.get("value")
            if turns:
                slot = (str(data.get("name")), data.get("value"))
                turns[-1].slots.append(slot)
                if not SAVE_ACTIONS.intersection(turns[-1].actions):
                    turns[-1].answered.append(slot)
        elif kind == "active_loop":
            loop = data.get("name")
            if loop is None:
                requested = None
        elif kind == "action" and turns:
            name = str(data.get("name") or "")
            if name != "action_listen":
                turns[-1].actions.append(name)
        elif kind == "bot" and turns:
            turns[-1].replies.append(dict(data))
    if turns:
        turns[-1].requested_after, turns[-1].loop_after = requested, loop
    return turns


def _stored_value(turn: Turn) -> Any:
    """What the asked slot holds at the end of the turn. The slot's mapping first fills it
    with the message and the validation then keeps, skips or empties it: the last value
    counts."""
    slot = turn.requested_before
    values = [value for name, value in turn.answered if name == slot] if slot else []
    return values[-1] if values else None


def _final_values(turn: Turn) -> dict[str, Any]:
    final: dict[str, Any] = {}
    for name, value in turn.slots:
        final[name] = value
    return final


def _psychoeducation(turn: Turn) -> bool:
    more = set(more_texts().values())
    return any(r.startswith("utter_psychoeducation/") for r in turn.responses) or any(
        t in more for t in turn.texts
    )


def _check(turn: Turn, expectation: Any, previous: Turn | None) -> bool:  # noqa: PLR0911, PLR0912
    if isinstance(expectation, Mapping) and "rating" in expectation:
        wanted = str(int(expectation["rating"]))
        # With the form paused by the safety question no question is requested before the
        # turn; the rating then answers the paused 0 to 10 question when the form resumes.
        asked = [turn.requested_before] if turn.requested_before else sorted(RATING_SLOTS)
        return any(wanted in [str(v) for v in turn.slot_values(slot)] for slot in asked) or (
            wanted in [str(v) for v in turn.slot_values("rating_guess")]
        )
    name = str(expectation)
    stored = _stored_value(turn)
    if name == "starts_flow":
        return turn.loop_after is not None and (
            turn.loop_before is None or turn.loop_after != turn.loop_before
        )
    if name == "stored":
        return stored is not None and stored != SKIPPED
    if name == "not_stored":
        kept = [
            v
            for name, v in _final_values(turn).items()
            if name not in NOT_ANSWERS and isinstance(v, str) and v.strip() == turn.text.strip()
        ]
        return (stored is None or stored == SKIPPED) and not kept
    if name == "reasks_same":
        slot = turn.requested_before
        return (
            slot is not None
            and turn.requested_after == slot
            and f"utter_ask_{slot}" in turn.responses
        )
    if name == "next_question":
        return turn.requested_after is not None and turn.requested_after != turn.requested_before
    if name == "answers_question":
        return _psychoeducation(turn)
    if name == "clarifies":
        return any(r.startswith("utter_explain_") for r in turn.responses) or any(
            v in ("range", "word") for v in turn.slot_values("reask")
        )
    if name == "skipped":
        return stored == SKIPPED
    if name == "asks_which":
        return "range" in turn.slot_values("reask")
    if name == "lapse":
        praised = any(PRAISE_FOR_RESISTING in t for t in turn.texts)
        told = bool(LAPSE_REPLIES.intersection(turn.responses)) or "lapse" in turn.slot_values(
            "trigger_kind"
        )
        return told and not praised
    if name == "craving":
        return "utter_craving_ack" in turn.responses or "craving" in turn.slot_values(
            "trigger_kind"
        )
    if name == "care_team":
        return "utter_care_team" in turn.responses
    if name == "crisis":
        return any(r.startswith("utter_crisis_") for r in turn.responses)
    if name == "safety_question":
        return "utter_ask_safety" in turn.responses or "utter_ask_safety_answer" in turn.responses
    if name == "supportive":
        return bool(turn.replies) and (
            bool(SUPPORTIVE_REPLIES.intersection(turn.responses))
            or not FALLBACKS.intersection(turn.responses)
            and "utter_out_of_scope" not in turn.responses
        )
    if name == "acknowledges":
        acks = all_lines()
        return any(t in acks for t in turn.texts) or any(
            r and not r.startswith("utter_ask_") for r in turn.responses
        )
    if name == "more_detail":
        return "action_more_detail" in turn.actions or any(
            t in set(more_texts().values()) for t in turn.texts
        )
    if name == "other_answer":
        return "action_not_what_i_asked" in turn.actions or "utter_form_unanswered" in (
            turn.responses
        )
    if name == "journal_saved":
        return bool(SAVE_ACTIONS.intersection(turn.actions)) and (
            "utter_journal_unavailable" not in turn.responses
        )
    raise ValueError(f"unknown expectation {expectation!r}")


@dataclass(frozen=True)
class Verdict:
    """What went wrong in one turn (nothing: the turn went right)."""

    failed: tuple[str, ...]
    fell_back: bool

    @property
    def wrong(self) -> bool:
        return bool(self.failed) or self.fell_back


def judge(turn: Turn, expectations: Iterable[Any], previous: Turn | None) -> Verdict:
    """The expectations that failed, and whether the assistant fell back to its menu."""
    failed = tuple(str(e) for e in expectations if not _check(turn, e, previous))
    fell_back = bool(FALLBACKS.intersection(turn.responses))
    return Verdict(failed, fell_back)


def after_crisis(previous: Turn | None) -> bool:
    """Whether the turn before sent a crisis reply."""
    return previous is not None and any(r.startswith("utter_crisis_") for r in previous.responses)
