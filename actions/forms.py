"""What the four journal forms share: their slots, validation, and turning answers into entries.

Every form validates answers the same way — text answers are kept verbatim (control
characters aside), ratings must be whole numbers from 0 to 10, and any question can be
skipped — so that behaviour lives in :class:`JournalFormValidation` and the per-form
modules only say which slot is which.

Saving is shared too, because an entry is written in three situations: when a form is
finished, when the person stops and chooses to keep what they wrote ("partial"), and when
a crisis message interrupts a form ("interrupted").
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.form_replies import (
    RATING_PROPOSAL_SLOTS,
    REASK_AGAIN,
    REASK_RANGE,
    REASK_SLOT,
    REASK_WORD,
    answer_side_step,
    read_after_an_answer,
    reask_events,
)
from bot.journal import care_team_questions, replies, safety_plan, schema, session_calendar
from bot.journal import entries as journal
from bot.journal.acknowledgements import acknowledge
from bot.journal.drafts import EntryDraft, draft_of, urge_surfing_fields
from bot.journal.entries import EntryView
from bot.journal.lapse_details import lapse_fields, read_lapse
from bot.journal.parsing import (
    MAX_ANSWER_CHARS,
    SKIPPED,
    RatingOutOfRange,
    RatingRange,
    RatingWord,
    clean_answer,
    is_skip,
    is_yes,
    parse_rating,
    read_rating_words,
)
from bot.journal.reply_reading import (
    Reading,
    asks_for_a_person,
    is_bare_acknowledgement,
    looks_like_question,
    read_form_reply,
)
from bot.safety import risk_checks

logger = logging.getLogger(__name__)

#: The journal forms, whose answers are saved as entries (:data:`bot.journal.schema.FORMS`).
FORM_NAMES: tuple[str, ...] = tuple(schema.FORMS)

#: Slots outside a form's required slots that belong to it and are cleared with it.
FORM_EXTRA_SLOTS: dict[str, tuple[str, ...]] = {
    "integration_form": ("care_team_question", "care_team_answers"),
    "trigger_form": ("trigger_kind", "lapse_report"),
    "urge_surfing_form": ("last_trigger_entry",),
}

SlotValidator = Callable[
    [Any, Any, CollectingDispatcher, Tracker, DomainDict],
    Coroutine[Any, Any, dict[str, Any]],
]


def today() -> date:
    """The date "today" and "yesterday" are counted from: the server's local date.

    The action server runs where the clinic runs, so its local date is the closest
    stand-in for the patient's we have without asking them for a time zone.
    """
    return date.today()


def latest_intent(tracker: Tracker) -> str | None:
    """The classifier's intent for the latest message (the raw top intent, fallback included)."""
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name")


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


# --------------------------------------------------------------------------- slots


def form_slots(domain: Mapping[str, Any], form_name: str) -> list[str]:
    """The required slots of a form, as listed in the domain."""
    form = (domain.get("forms") or {}).get(form_name) or {}
    return list(form.get("required_slots") or [])


def answered_slots(tracker: Tracker, slots: list[str]) -> dict[str, Any]:
    """The slots the person actually answered: neither empty nor skipped, in form order."""
    values = {}
    for slot in slots:
        if slot in schema.NOT_STORED:
            continue
        value = tracker.get_slot(slot)
        if value is not None and value != SKIPPED:
            values[slot] = value
    return values


def reset_form_events(
    domain: Mapping[str, Any], form_name: str, *, clear_paused: bool = True
) -> list[EventType]:
    """Clear a form's slots, the slots that go with it, and (by default) ``paused_form``."""
    slots = form_slots(domain, form_name) + list(FORM_EXTRA_SLOTS.get(form_name, ()))
    slots += [REASK_SLOT, *RATING_PROPOSAL_SLOTS, "last_ack", "support_offered", "craving_told"]
    events = [SlotSet(slot, None) for slot in slots]
    if clear_paused:
        events.append(SlotSet("paused_form", None))
    return events


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Screened:
    """What the checks every answer gets decided.

    When ``done``, the slot's value is ``value`` (``None`` to ask again, :data:`SKIPPED` for a
    skip), ``slots`` are further slots to set, and the reply has been sent. Otherwise
    ``value`` is the cleaned answer for the slot-specific check.
    """

    done: bool
    value: Any
    slots: dict[str, Any] = field(default_factory=dict)

    def result(self, slot: str) -> dict[str, Any]:
        """The validator's return value for a screened-out reply."""
        return {slot: self.value, **self.slots}


#: Questions where naming the care team is an answer, not a request to reach them: every
#: step of the safety plan (data/care_team.yml).
CARE_TEAM_ANSWERS = frozenset(safety_plan.SLOTS)


def screen_answer(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> Screened:
    """Checks every answer gets: empty, too long, skipped, or not an answer at all (a
    question back, "what do you mean?", "idk": :mod:`actions.form_replies`)."""
    if value is None:
        return Screened(True, None)
    if value == SKIPPED:
        # Already skipped earlier (validated again when a stopped form is resumed).
        return Screened(True, SKIPPED)
    text = clean_answer(value if isinstance(value, str) else str(value))
    if not text.strip():
        dispatcher.utter_message(response="utter_answer_empty")
        return Screened(True, None)
    if len(text) > MAX_ANSWER_CHARS:
        dispatcher.utter_message(response="utter_answer_too_long", max_chars=MAX_ANSWER_CHARS)
        return Screened(True, None)
    # The intent only speaks for the message being answered now, not for answers that
    # are validated again when a form resumes.
    live = tracker.get_slot("requested_slot") == slot
    intent = latest_intent(tracker) if live else None
    if is_skip(text, intent):
        dispatcher.utter_message(response="utter_skipped")
        return Screened(True, SKIPPED)
    if live and slot in ACKNOWLEDGED_SLOTS and is_bare_acknowledgement(text):
        # "ok", "yeah", "thanks" to "What stood out?": no answer to keep; a kind word and the
        # question again (in its next wording).
        dispatcher.utter_message(response="utter_im_here")
        return Screened(True, None)
    if live and asks_for_a_person(text) and slot not in CARE_TEAM_ANSWERS:
        # "i want to talk to my therapist" in any words the classifier did not file as a
        # request for the care team: the clinic's contact details, and the question again.
        dispatcher.utter_message(response="utter_care_team")
        return Screened(True, None)
    if live:
        reading = read_after_an_answer(text, tracker) or read_form_reply(text, intent)
        if reading is Reading.UNSURE and slot in RATING_SLOTS and _has_rating(text, slot):
            # "unsure tbh... 6", "idk somewhere in the middle": a rating said with doubt is
            # the answer.
            return Screened(False, text)
        if reading is not Reading.ANSWER:
            side = answer_side_step(reading, slot, dispatcher, tracker)
            return Screened(True, side.value, dict(side.slots))
    return Screened(False, text)


def _has_rating(text: str, slot: str) -> bool:
    """Whether a reply gives a rating in numbers or in words ("in the middle", "meh")."""
    try:
        if parse_rating(text) is not None:
            return True
    except RatingOutOfRange:
        return False
    scale = "mood" if slot in MOOD_RATING_SLOTS else "intensity"
    return isinstance(read_rating_words(text, scale), RatingWord)


#: Reflective questions whose answers get a short acknowledgement before the next question.
ACKNOWLEDGED_SLOTS = frozenset(
    {
        "stood_out",
        "feelings",
        "insight",
        "intention",
        "small_step",
        "trigger_type",
        "trigger_context",
        "coping_response",
        "checkin_note",
        # The care team's own question (actions/care_team_questions.py): acknowledged there.
        "care_team_answer",
    }
)


def validate_text_answer(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """A free-text answer: kept as typed unless empty, too long, or a skip.

    An answer to a reflective question just given is acknowledged in one short line
    (:mod:`bot.journal.acknowledgements`) before the form asks the next one.
    """
    screened = screen_answer(slot, value, dispatcher, tracker)
    if screened.done:
        return screened.result(slot)
    text = screened.value
    if slot not in ACKNOWLEDGED_SLOTS or tracker.get_slot("requested_slot") != slot:
        return {slot: text}
    ack = acknowledge(
        text,
        last_line=tracker.get_slot("last_ack"),
        support_offered=bool(tracker.get_slot("support_offered")),
    )
    dispatcher.utter_message(text=ack.text)
    values: dict[str, Any] = {slot: text, "last_ack": ack.text}
    if ack.offer_support:
        dispatcher.utter_message(text=ack.offer_support)
        values["support_offered"] = True
    return values


def asked_enough(tracker: Tracker, slot: str) -> bool:
    """Whether the question has been asked three times already (the "again" wording was the
    last): a fourth ask would only repeat the patient's trouble back at them."""
    return tracker.get_slot("requested_slot") == slot and tracker.get_slot(REASK_SLOT) == (
        REASK_AGAIN
    )


def move_on(slot: str, dispatcher: CollectingDispatcher) -> dict[str, Any]:
    """Leave a question that could not be answered, kindly, and go on to the next."""
    dispatcher.utter_message(response="utter_moving_on")
    return {slot: SKIPPED}


#: Rating slots on the mood scale (0 very low … 10 very good); the others rate an intensity.
MOOD_RATING_SLOTS = frozenset({"mood", "checkin_mood"})


def validate_rating_answer(
    slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """A 0 to 10 rating, stored as the number's text ("7") or :data:`SKIPPED`.

    A range ("6-7") or a word ("meh") is not stored: the next ask proposes the numbers
    (``reask`` = ``range`` or ``word``), and a "yes" to a proposed number takes it.
    """
    live = tracker.get_slot("requested_slot") == slot
    guess = tracker.get_slot("rating_guess")
    if live and guess is not None and tracker.get_slot(REASK_SLOT) == REASK_WORD:
        if latest_intent(tracker) == "affirm" or is_yes(latest_text(tracker)):
            return {slot: str(int(guess))}
    screened = screen_answer(slot, value, dispatcher, tracker)
    if screened.done:
        return screened.result(slot)
    text = screened.value
    live = tracker.get_slot("requested_slot") == slot
    if live and looks_like_question(text):
        # "is 10 the best or the worst?" asks about the scale; its number is not a rating.
        dispatcher.utter_message(response=f"utter_explain_{slot}")
        return {slot: None}
    try:
        rating = parse_rating(text)
    except RatingOutOfRange:
        if asked_enough(tracker, slot):
            return move_on(slot, dispatcher)
        dispatcher.utter_message(response="utter_rating_out_of_range")
        return {slot: None}
    if rating is not None:
        return {slot: str(rating)}
    scale = "mood" if slot in MOOD_RATING_SLOTS else "intensity"
    reading = read_rating_words(text, scale) if live else None
    if isinstance(reading, RatingRange):
        return {
            slot: None,
            REASK_SLOT: REASK_RANGE,
            "range_low": str(reading.low),
            "range_high": str(reading.high),
        }
    if isinstance(reading, RatingWord):
        return {slot: None, REASK_SLOT: REASK_WORD, "rating_guess": str(reading.value)}
    if asked_enough(tracker, slot):
        return move_on(slot, dispatcher)
    dispatcher.utter_message(response="utter_rating_not_understood")
    return {slot: None}


def kept_answer(value: Any, *, rating: bool) -> str | None:
    """What is kept as the answer of a reply that told something more pressing besides (a
    slip, a craving: :meth:`JournalFormValidation.told_besides`), which has had its reply.

    Text is kept as typed (it is the person's answer, and often the slip's own story); a
    rating only when the reply gives one, else the question is asked again, in other words.
    Nothing else is said about it: one reply to one message.
    """
    text = clean_answer(value if isinstance(value, str) else str(value))
    if rating:
        try:
            found = parse_rating(text)
        except RatingOutOfRange:
            return None
        return None if found is None else str(found)
    return text if text.strip() and len(text) <= MAX_ANSWER_CHARS else None


def slot_validator(
    slot: str, check: Callable[..., dict[str, Any]], *, rating: bool = False
) -> SlotValidator:
    """A ``validate_<slot>`` method that hands the value to ``check``: rasa-sdk finds a
    slot's validator by the method's name, so every answer check is wrapped the same way.

    A reply to the question just asked is first read for what it tells besides its answer
    (the form's :meth:`JournalFormValidation.told_besides`): then that gets the reply, and
    the answer is kept without the usual acknowledgement (:func:`kept_answer`).
    """

    async def validate(
        self: Any,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        told_besides = getattr(self, "told_besides", None)
        if (
            told_besides is not None
            and value not in (None, SKIPPED)
            and tracker.get_slot("requested_slot") == slot
        ):
            told = told_besides(slot, dispatcher, tracker)
            if told is not None:
                return {slot: kept_answer(value, rating=rating), **told}
        return check(slot, value, dispatcher, tracker)

    validate.__name__ = f"validate_{slot}"
    return validate


def text_answer(slot: str) -> SlotValidator:
    """A ``validate_<slot>`` method for a free-text question."""
    return slot_validator(slot, validate_text_answer)


def rating_answer(slot: str) -> SlotValidator:
    """A ``validate_<slot>`` method for a 0 to 10 question."""
    return slot_validator(slot, validate_rating_answer, rating=True)


#: Every 0 to 10 question of the journal forms.
RATING_SLOTS = schema.RATING_SLOTS
#: What the direct safety question's "no" resumes the form with (bot/nlu/crisis_policy.py),
#: and what a reply that went on with something else resumes it with, when only the
#: classifier's guess asked ("6" to "are you having thoughts of ending your life?").
SAFETY_THANKS = "utter_safety_thanks"
SAFETY_NOTED = "utter_safety_noted"
SAFETY_SLOT = "safety_answer"


def resumed_by(tracker: Tracker) -> str | None:
    """How the direct safety question was answered, when this turn is the form coming back
    after it: ``"no"`` (the crisis policy thanked the person), ``"skipped"`` (the reply went
    on with something else after a classifier's guess asked), None for any other turn."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return None
        if event.get("event") == "action" and event.get("name") == SAFETY_THANKS:
            return risk_checks.SAFETY_NO
        if event.get("event") == "action" and event.get("name") == SAFETY_NOTED:
            return risk_checks.SAFETY_SKIPPED
    return None


def resumed_by_a_no(tracker: Tracker) -> bool:
    """Whether this turn is the form coming back after the direct safety question."""
    return resumed_by(tracker) is not None


#: Every question of the journal forms.
ANSWER_SLOTS = frozenset(slot for slots in schema.FORM_SLOTS.values() for slot in slots)
#: The direct safety question the crisis policy asks (bot/nlu/crisis_policy.py); its re-ask
#: comes on a reply, never on the message that paused the form.
SAFETY_QUESTION = "utter_ask_safety"


def unchecked_answers(tracker: Tracker) -> dict[str, str]:
    """The answers Rasa took from the message the safety question was asked on, when this
    turn resumes the form after it: slot -> the text taken.

    Rasa fills the question's slot from the message before any action runs, so a message a
    classifier's guess made ask about ("wait is that normal?? i feel so off") sits in the
    paused question's slot, never checked by the form: a question would be kept as an answer,
    and a rating given afterwards would go to the next question.
    """
    if resumed_by(tracker) is None:
        return {}
    events = tracker.events
    asked = max(
        (
            i
            for i, e in enumerate(events)
            if e.get("event") == "action" and e.get("name") == SAFETY_QUESTION
        ),
        default=None,
    )
    if asked is None:
        return {}
    told = max((i for i in range(asked) if events[i].get("event") == "user"), default=None)
    if told is None:
        return {}
    return {
        e["name"]: e.get("value")
        for e in events[told + 1 : asked]
        if e.get("event") == "slot" and e.get("name") in ANSWER_SLOTS
    }


def checked_answer(slot: str, value: Any, intent: str | None) -> str | None:
    """An answer Rasa took unchecked, as the form would have taken it: the number of a 0 to 10
    question's rating; for the others, the text when it is an answer rather than a question
    back, an "idk" or a request. None when it is no answer."""
    if not isinstance(value, str) or not value.strip():
        return None
    if slot in RATING_SLOTS:
        if looks_like_question(value):
            return None  # "is 10 the best or the worst?" asks about the scale
        try:
            rating = parse_rating(value)
        except RatingOutOfRange:
            return None
        return None if rating is None else str(rating)
    if read_form_reply(value, intent) is not Reading.ANSWER or asks_for_a_person(value):
        return None
    return value


def rating_said_with_a_no(
    tracker: Tracker, required: list[str], form_slots: list[str]
) -> dict[str, Any]:
    """The rating a "no" to the safety question also gave ("no. honestly its like a 6 today"),
    as the answer to the 0 to 10 question the paused form was on: it must not be lost.

    The question is the first of ``required`` still empty, the one the form would ask
    (``form_slots`` are all the form's questions). Only a rating is
    taken: a number says what it is, while the rest of a text ("no i just meant work is
    hard") was about the safety question and is not put in the journal as an answer. A mood
    low enough for the safety question takes the "no" just given as its answer too (or, when
    the reply went on without answering, "skipped"), so the same question is not asked twice
    in a row.
    """
    answer = resumed_by(tracker)
    if answer is None:
        return {}
    just_taken = tracker.slots_to_validate()
    if any(slot in ANSWER_SLOTS and value is not None for slot, value in just_taken.items()):
        return {}  # Rasa took the message as the answer of a question already: not twice
    pending = next((slot for slot in required if tracker.get_slot(slot) is None), None)
    if pending not in RATING_SLOTS:
        return {}
    try:
        rating = parse_rating(latest_text(tracker))
    except RatingOutOfRange:
        return {}
    if rating is None:
        return {}
    found: dict[str, Any] = {pending: str(rating)}
    if (
        pending in MOOD_RATING_SLOTS
        and SAFETY_SLOT in form_slots
        and risk_checks.mood_needs_safety_question(rating)
    ):
        found[SAFETY_SLOT] = answer
    return found


def _intent_of_the_asked_message(tracker: Tracker) -> str | None:
    """The classifier's intent of the message the safety question was asked on."""
    asked = False
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == SAFETY_QUESTION:
            asked = True
        elif asked and event.get("event") == "user":
            return ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    return None


class JournalFormValidation(FormValidationAction, ABC):
    """Base of the ``validate_<form>`` actions of the journal forms and the safety plan.

    Subclasses name themselves and their form (``class ValidateCheckinForm(...,
    form="checkin_form")``): every question the schema gives that form
    (:data:`bot.journal.schema.FORM_SLOTS`) is then checked by :meth:`answer_check` — a 0 to
    10 rating or a text, :func:`rating_answer` / :func:`text_answer` — unless the class has a
    ``validate_<slot>`` of its own. Abstract, so rasa-sdk does not try to register the base
    class as an action. After validation, ``reask`` is set so that a question asked again is
    worded differently (:mod:`actions.form_replies`).
    """

    #: The journal form validated, as given in the class statement.
    form: ClassVar[str | None] = None

    def __init_subclass__(cls, form: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if form is None:
            return
        cls.form = form
        for slot in schema.FORM_SLOTS[form]:
            if not hasattr(cls, f"validate_{slot}"):
                setattr(cls, f"validate_{slot}", cls.answer_check(slot))

    @classmethod
    def answer_check(cls, slot: str) -> SlotValidator:
        """The ``validate_<slot>`` method of a question with no check of its own."""
        return rating_answer(slot) if slot in RATING_SLOTS else text_answer(slot)

    @abstractmethod
    def name(self) -> str:
        """``validate_<form name>``."""

    def told_besides(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        """What the reply to ``slot``'s question tells besides its answer, replied to: the
        slots to set, or None when it tells nothing more (the answer is then checked as
        usual). None here; the journal forms read slips and cravings (:mod:`actions.slips`)."""
        return None

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The form's own extractions; after the safety question, the answer taken unchecked
        from the message it was asked on, checked now (:func:`unchecked_answers`); and a
        rating told with a "no" that resumed the form (:func:`rating_said_with_a_no`),
        validated like any answer."""
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        intent = _intent_of_the_asked_message(tracker)
        events += [
            SlotSet(slot, checked_answer(slot, value, intent))
            for slot, value in unchecked_answers(tracker).items()
            if tracker.get_slot(slot) == value
        ]
        tracker.slots.update({e["name"]: e["value"] for e in events if e.get("event") == "slot"})
        listed = self.domain_slots(domain)
        required = await self.required_slots(listed, dispatcher, tracker, domain)
        told = rating_said_with_a_no(tracker, required, listed)
        return [*events, *(SlotSet(name, value) for name, value in told.items())]

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        return [*events, *reask_events(tracker, events)]


# --------------------------------------------------------------------------- saving


def trigger_draft(
    values: Mapping[str, Any], trigger_kind: str | None, lapse_report: str | None = None
) -> EntryDraft:
    """A craving, trigger or slip reflection; a slip also records what was taken and when,
    as read from the message that told it (:mod:`bot.journal.lapse_details`)."""
    told: dict[str, Any] = {"trigger_kind": trigger_kind or "trigger"}
    if trigger_kind == "lapse" and lapse_report:
        told.update(lapse_fields(read_lapse(lapse_report, today())))
    return draft_of("trigger", values, told)


def save_draft(sender_id: str, draft: EntryDraft, status: str = "complete") -> EntryView:
    """Save the entry; a reflection's session date also goes into the session calendar, as
    told by the patient (a day recorded already stays as it is)."""
    saved = journal.save_entry(
        sender_id,
        draft.kind,
        fields=draft.fields,
        mood=draft.mood,
        craving=draft.craving,
        session_date=draft.session_date,
        status=status,
    )
    if draft.kind == "integration" and draft.session_date is not None:
        try:
            session_calendar.record_patient_session(sender_id, draft.session_date)
        except Exception as error:  # noqa: BLE001 - the entry is saved; that is what counts
            log_journal_failure("Recording the session in the calendar", error)
    return saved


def save_urge_surfing(
    sender_id: str,
    values: Mapping[str, Any],
    last_trigger_entry: Any,
    status: str = "complete",
) -> EntryView:
    """Attach an urge-surfing exercise to the trigger entry it followed, or save it on its own.

    Right after a craving or trigger reflection, the exercise belongs to that entry
    (``last_trigger_entry``). Started on its own, it becomes a new "craving" entry with
    the starting urge as its craving rating.
    """
    surf = urge_surfing_fields(values)
    if last_trigger_entry is not None:
        entry = journal.update_entry_fields(
            sender_id, int(last_trigger_entry), {"urge_surfing": surf}
        )
        if entry is not None:
            return entry
    return journal.save_entry(
        sender_id,
        "trigger",
        fields={"trigger_kind": "craving", "urge_surfing": surf},
        craving=surf.get("before"),
        status=status,
    )


def form_draft(form_name: str, values: Mapping[str, Any], tracker: Tracker) -> EntryDraft:
    """The entry a session reflection, a check-in or a craving, trigger or slip reflection
    makes of its form's answered slots (:mod:`bot.journal.drafts`)."""
    if form_name == "trigger_form":
        return trigger_draft(
            values, tracker.get_slot("trigger_kind"), tracker.get_slot("lapse_report")
        )
    return draft_of(schema.FORM_KINDS[form_name], values)


def save_form_answers(
    sender_id: str,
    form_name: str,
    values: Mapping[str, Any],
    tracker: Tracker,
    status: str,
) -> EntryView:
    """Save the answered slots of any journal form as one entry with the given status."""
    if form_name == "urge_surfing_form":
        return save_urge_surfing(sender_id, values, tracker.get_slot("last_trigger_entry"), status)
    if form_name == "safety_plan_form":
        # Steps not answered keep what the current plan says (see bot.journal.safety_plan).
        answers = {safety_plan.key_of(slot): value for slot, value in values.items()}
        return safety_plan.save_plan(sender_id, answers, status)
    if form_name not in FORM_NAMES:
        raise ValueError(f"unknown form {form_name!r}")
    entry = save_draft(sender_id, form_draft(form_name, values, tracker), status)
    if form_name == "integration_form":
        keep_care_team_answers(sender_id, entry.number, tracker)
    return entry


#: What the reflection did with each of the care team's questions, until the entry is saved.
CARE_TEAM_ANSWERS_SLOT = "care_team_answers"


def keep_care_team_answers(sender_id: str, entry_number: int, tracker: Tracker) -> None:
    """Keep the answers (and skips) to the care team's questions with the entry just saved.

    The entry is saved already: a failure here is logged, never raised, and the questions
    stay pending, to be asked again in the next reflection.
    """
    outcomes = care_team_questions.Outcome.all_from_slot(tracker.get_slot(CARE_TEAM_ANSWERS_SLOT))
    if not outcomes:
        return
    try:
        care_team_questions.record_outcomes(sender_id, entry_number, outcomes)
    except Exception as error:  # noqa: BLE001 - the entry is saved; the turn must go on
        log_journal_failure("Keeping the answers to the care team's questions", error)


def log_journal_failure(what: str, error: Exception) -> None:
    """Log a journal failure without patient text.

    Only the exception's type is logged: database errors quote the statement's
    parameters, which here are what the person wrote.
    """
    logger.error("%s failed: %s", what, type(error).__name__)


def tell_not_saved(dispatcher: CollectingDispatcher, answers: Mapping[str, Any]) -> None:
    """Say the journal was unreachable and give the person their own answers back."""
    dispatcher.utter_message(response="utter_journal_unavailable")
    copy = replies.unsaved_answers(answers)
    if copy:
        dispatcher.utter_message(text=copy)


def save_finished_form(
    form_name: str,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: DomainDict,
    summary: Callable[[EntryView], str],
) -> tuple[EntryView | None, list[EventType]]:
    """What every save action does once its form is complete.

    On success: the summary is sent and the form's slots are cleared. If the journal
    fails, the person gets their answers back and the slots stay as they are: starting
    the same form again finds every question answered and goes straight to saving, which
    is the "try again" the apology suggests.
    """
    values = answered_slots(tracker, form_slots(domain, form_name))
    try:
        entry = save_form_answers(tracker.sender_id, form_name, values, tracker, "complete")
    except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
        log_journal_failure(f"Saving {form_name}", error)
        tell_not_saved(dispatcher, values)
        return None, []
    dispatcher.utter_message(text=summary(entry))
    return entry, reset_form_events(domain, form_name)
