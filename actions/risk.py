"""Ratings and slips that notice risk (clinical review S5, S6; issue 11, item 5).

- **Mood of 2 or lower** in the check-in or the session reflection: the form asks the direct
  safety question next (slot ``safety_answer``, inserted after the mood by
  :func:`with_safety_question`). Yes or not sure: the suicide crisis reply, an urgent flag, and
  the form ends; its save action then keeps the answers as an "interrupted" entry
  (:func:`keep_interrupted`). No: a short thank-you, and the form goes on. The answer itself
  is never a journal answer.
- **Craving of 8 or higher**: after the save, an offer of urge surfing or coping ideas (the
  craving reflection already ends with one) and an "info" flag.
- **A slip on an opioid or a sedative**: ``action_check_lapse`` reads the message;
  ``lapse_check_form`` asks "still feeling the effects? alone? naloxone?" before the reflection.
  Still feeling it: the overdose crisis reply (a rule) and an urgent flag.
- **Ketamine outside the clinic, bladder symptoms** (in a slip or in journal answers): an
  "elevated" flag and a short note leading with what to do.

Recording a flag never breaks the turn: failures are logged without the patient's words.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT
from rasa_sdk.types import DomainDict

from actions.form_replies import REASK_ONCE, REASK_SLOT
from actions.forms import (
    answered_slots,
    form_slots,
    latest_intent,
    latest_text,
    log_journal_failure,
    reset_form_events,
    save_form_answers,
    today,
)
from bot.journal import entries as journal
from bot.journal.parsing import clean_answer, is_skip
from bot.safety import risk_checks

logger = logging.getLogger(__name__)

SAFETY_SLOT = "safety_answer"
#: The mood slot of each form that asks the safety question after it.
MOOD_SLOTS: dict[str, str] = {"checkin_form": "checkin_mood", "integration_form": "mood"}
#: The craving slot of each form whose high craving gets a coping offer and an "info" flag.
CRAVING_SLOTS: dict[str, str] = {
    "checkin_form": "checkin_craving",
    "integration_form": "craving",
    "trigger_form": "trigger_craving",
}
#: Forms that end with their own coping offer (``utter_offer_support``, by rule).
OFFERS_SUPPORT_ALREADY = frozenset({"trigger_form"})
#: Free-text answers read for ketamine misuse and bladder symptoms.
TEXT_SLOTS: dict[str, tuple[str, ...]] = {
    "checkin_form": ("checkin_note",),
    "integration_form": ("stood_out", "feelings", "insight", "intention", "small_step"),
    "trigger_form": ("trigger_type", "trigger_context", "coping_response"),
    "urge_surfing_form": ("surf_location", "surf_change"),
}
_FORM_TITLES = {
    "checkin_form": "a check-in",
    "integration_form": "a session reflection",
    "trigger_form": "a craving or slip reflection",
}

LAPSE_FORM = "lapse_check_form"
LAPSE_CHECK_SLOT = "lapse_check"
LAPSE_RESULT_SLOT = "lapse_check_result"
LAPSE_NEEDS_CHECK_SLOT = "lapse_needs_check"
#: The message that told the slip, read for the substance and the day when the entry is saved.
LAPSE_REPORT_SLOT = "lapse_report"
#: A craving told in words in an answer of the check-in or the reflection (actions/slips.py).
CRAVING_TOLD_SLOT = "craving_told"


def record_flag(sender_id: str, *, message: str, category: str, source: str, level: str) -> bool:
    """Record a flag for the care team; ``False`` (logged, without the message) if it failed."""
    try:
        journal.record_risk_flag(
            sender_id, message=message, category=category, source=source, level=level
        )
    except Exception as error:  # noqa: BLE001 - a flag must never break the conversation
        logger.error("Recording a %s risk flag failed: %s", level, type(error).__name__)
        return False
    return True


# --------------------------------------------------------------------------- mood: the safety question


def with_safety_question(form: str, slots: list[str], tracker: Tracker) -> list[str]:
    """The form's required slots, with ``safety_answer`` right after a mood of 2 or lower.

    The domain lists ``safety_answer`` after the mood (Rasa's validator wants every slot a
    form's mappings name among its required slots); here it is taken out again unless the
    mood calls for it. After a yes or a not-sure the list ends at the question, so the form
    is done and its save action keeps what was written as "interrupted".
    """
    mood_slot = MOOD_SLOTS[form]
    without = [slot for slot in slots if slot != SAFETY_SLOT]
    if mood_slot not in without or not risk_checks.mood_needs_safety_question(
        tracker.get_slot(mood_slot)
    ):
        return without
    after_mood = without.index(mood_slot) + 1
    if tracker.get_slot(SAFETY_SLOT) in risk_checks.SAFETY_NEEDS_HELP:
        return [*without[:after_mood], SAFETY_SLOT]
    return [*without[:after_mood], SAFETY_SLOT, *without[after_mood:]]


def ended_by_safety_answer(tracker: Tracker) -> bool:
    """Whether the form just ended because the person said yes or not sure."""
    return tracker.get_slot(SAFETY_SLOT) in risk_checks.SAFETY_NEEDS_HELP


SAFETY_ANSWER_WORDS = {"yes": "yes", "unsure": "not sure", "skipped": "chose not to answer"}


def _safety_flag_message(form: str, mood: Any, answer: str) -> str:
    return (
        f'Mood rated {mood}/10 in {_FORM_TITLES[form]}. Asked "Are you having thoughts of '
        f'ending your life?" — answer: {SAFETY_ANSWER_WORDS[answer]}.'
    )


def _safety_answer_from(value: Any, tracker: Tracker) -> str | None:
    """The answer, erring towards help: the slot (button or intent) and the words typed are
    both read, and the more worrying reading wins ("no... well maybe" is not sure)."""
    readings = set()
    if isinstance(value, str):
        readings.add(risk_checks.parse_safety_answer(value))
    readings.add(risk_checks.parse_safety_answer(latest_text(tracker)))
    for answer in (risk_checks.SAFETY_YES, risk_checks.SAFETY_UNSURE, risk_checks.SAFETY_NO):
        if answer in readings:
            return answer
    return None


class SafetyQuestionMixin:
    """Adds the safety question to a journal form's validation (check-in, reflection).

    Mixed into ``validate_<form>`` classes before :class:`actions.forms.JournalFormValidation`
    (and into the measures' form, which asks it after PHQ-9 item 9: :mod:`actions.measures`).
    """

    #: The flag's source: what made the form ask.
    safety_source = "mood_rating"

    def safety_flag_message(self, tracker: Tracker, answer: str) -> str:
        """What the care team reads on the flag: why it was asked, and the answer."""
        form = self.form_name()  # type: ignore[attr-defined]
        return _safety_flag_message(form, tracker.get_slot(MOOD_SLOTS[form]), answer)

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        return with_safety_question(self.form_name(), list(domain_slots), tracker)

    async def next_requested_slot(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> EventType | None:
        """Always names the next question, the safety question included.

        rasa-sdk leaves the choice to Rasa when :meth:`required_slots` equals the domain's
        list; saying it here keeps the order in one place, whatever the domain's order is.
        """
        slots = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = (slot for slot in slots if tracker.slots.get(slot) is None)
        return SlotSet(REQUESTED_SLOT, next(missing, None))

    async def validate_safety_answer(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """yes / not sure → crisis reply and urgent flag; no → thanks; skip → gentle note;
        unclear (an "ok" or a "thanks" too, whatever intent it was given) → asked once more in
        other words, then the gentle note."""
        if tracker.get_slot("requested_slot") != SAFETY_SLOT:
            # Validated again when a stopped form resumes: keep a "no" silently.
            return {SAFETY_SLOT: value if value in risk_checks.SAFETY_ANSWERS else None}
        text = clean_answer(value if isinstance(value, str) else str(value or ""))
        typed = latest_text(tracker)
        if not typed.startswith("/") and risk_checks.says_nothing(typed):
            # "ok", "thanks" (often read as affirm) say neither yes nor no: asked again, as
            # the crisis policy does with its own direct question.
            answer = None
        else:
            answer = _safety_answer_from(text, tracker)
        if answer is None and is_skip(text, latest_intent(tracker)):
            answer = risk_checks.SAFETY_SKIPPED
        if answer is None and tracker.get_slot(REASK_SLOT) is not None:
            # Asked twice and still unclear: no third ask, the gentle note as for a skip.
            answer = risk_checks.SAFETY_SKIPPED
        if answer is None:
            # The form asks once more, in other words (utter_ask_safety_answer's "once"
            # wording): one message, never the same question twice in a row.
            return {SAFETY_SLOT: None}
        if answer == risk_checks.SAFETY_NO:
            dispatcher.utter_message(response="utter_safety_answer_no")
            return {SAFETY_SLOT: answer}
        if answer == risk_checks.SAFETY_SKIPPED:
            dispatcher.utter_message(response="utter_safety_answer_skipped")
            level = "elevated"
        else:
            dispatcher.utter_message(response="utter_crisis_suicide")
            level = "urgent"
        record_flag(
            tracker.sender_id,
            message=self.safety_flag_message(tracker, answer),
            category="suicide",
            source=self.safety_source,
            level=level,
        )
        return {SAFETY_SLOT: answer}


def keep_interrupted(form: str, tracker: Tracker, domain: DomainDict) -> list[EventType]:
    """After a yes or not sure: keep the answers so far as an "interrupted" entry, silently.

    The crisis reply has just gone out, so nothing else is said, as when a crisis message
    interrupts a form (``action_record_risk_flag``). If the journal fails, the answers stay in
    the slots and only the safety answer is cleared: starting the form again asks the question
    again.
    """
    values = answered_slots(tracker, form_slots(domain, form))
    try:
        if values:
            save_form_answers(tracker.sender_id, form, values, tracker, "interrupted")
    except Exception as error:  # noqa: BLE001 - never say more after a crisis reply
        log_journal_failure(f"Keeping interrupted {form}", error)
        return [SlotSet(SAFETY_SLOT, None)]
    return reset_form_events(domain, form)


# --------------------------------------------------------------------------- after a save


def notice_after_save(
    form: str,
    values: Mapping[str, Any],
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
) -> None:
    """What a saved (or unsaved) form's answers call for: a low mood, a high craving,
    ketamine used outside the clinic, bladder symptoms."""
    craving_slot = CRAVING_SLOTS.get(form)
    craving = values.get(craving_slot) if craving_slot else None
    mood_slot = MOOD_SLOTS.get(form)
    mood = values.get(mood_slot) if mood_slot else None
    high_craving = risk_checks.craving_needs_support(craving)
    # A craving told in words in an answer was promised this offer (actions/slips.py).
    coping_offer = form not in OFFERS_SUPPORT_ALREADY and (
        high_craving or bool(tracker.get_slot(CRAVING_TOLD_SLOT))
    )
    if risk_checks.mood_is_low(mood) and not coping_offer:
        dispatcher.utter_message(response="utter_low_mood_offer")
    if coping_offer:
        dispatcher.utter_message(response="utter_high_craving_offer")
    if high_craving:
        record_flag(
            tracker.sender_id,
            message=f"Craving rated {craving}/10 in {_FORM_TITLES[form]}.",
            category="craving",
            source="craving_rating",
            level="info",
        )
    texts = [values[slot] for slot in TEXT_SLOTS.get(form, ()) if isinstance(values.get(slot), str)]
    notice_ketamine_and_bladder(
        texts, dispatcher, tracker, source="journal_answer", in_a_slip=False
    )


def notice_ketamine_and_bladder(
    texts: Iterable[str],
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    source: str,
    in_a_slip: bool,
) -> None:
    """An "elevated" flag, with the words that raised it, and a short note leading with what
    to do, for ketamine used outside the clinic and for bladder symptoms."""
    texts = [clean_answer(t) for t in texts]
    ketamine = [t for t in texts if risk_checks.ketamine_outside_clinic(t, in_a_slip=in_a_slip)]
    bladder = [t for t in texts if risk_checks.bladder_symptoms(t)]
    for category, note, found in (
        ("ketamine_misuse", "utter_ketamine_misuse_note", ketamine),
        ("bladder", "utter_bladder_note", bladder),
    ):
        if found:
            dispatcher.utter_message(response=note)
            record_flag(
                tracker.sender_id,
                message="\n".join(found),
                category=category,
                source=source,
                level="elevated",
            )


# --------------------------------------------------------------------------- slips


#: A slip this many days or fewer after a recorded ketamine session gets the after-session note.
AFTER_SESSION_DAYS = 3


def session_days_ago(sender_id: str, reference: date) -> int | None:
    """Days since the patient's latest recorded ketamine session (None if none, or unreadable).

    The session dates are those of the session reflections in the journal.
    """
    try:
        entry = journal.latest_entry(sender_id, "integration")
    except Exception as error:  # noqa: BLE001 - the note is a help, never a reason to fail
        log_journal_failure("Reading the latest session", error)
        return None
    if entry is None or entry.session_date is None:
        return None
    return (reference - entry.session_date).days


def note_slip_after_session(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """A slip in the days after a ketamine session: the after-session safety note."""
    days = session_days_ago(tracker.sender_id, today())
    if days is not None and 0 <= days <= AFTER_SESSION_DAYS:
        dispatcher.utter_message(response="utter_lapse_after_session")


class ActionCheckLapse(Action):
    """Reads a slip before its reflection: a safety check first for opioids and sedatives.

    Sets ``lapse_needs_check`` (the rules branch on it) and clears the previous check's
    answers. Ketamine used outside the clinic and bladder symptoms get their note and flag here.
    """

    def name(self) -> str:
        return "action_check_lapse"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = latest_text(tracker)
        findings = risk_checks.read_slip(text)
        events: list[EventType] = [
            SlotSet(LAPSE_NEEDS_CHECK_SLOT, findings.needs_safety_check),
            SlotSet(LAPSE_REPORT_SLOT, clean_answer(text)),
        ]
        for slot in (LAPSE_CHECK_SLOT, LAPSE_RESULT_SLOT):
            if tracker.get_slot(slot) is not None:
                events.append(SlotSet(slot, None))
        notice_ketamine_and_bladder(
            [text], dispatcher, tracker, source="lapse_report", in_a_slip=True
        )
        note_slip_after_session(dispatcher, tracker)
        return events


class ValidateLapseCheckForm(FormValidationAction):
    """ "Are you still feeling the effects? Are you alone? Do you have naloxone?"

    Sets ``lapse_check_result`` (effects / alone / ok), on which the rules choose the next
    reply; still feeling it also records an urgent overdose flag (the crisis reply is a static
    response sent by rule, so it does not wait on the database).
    """

    def name(self) -> str:
        return "validate_lapse_check_form"

    async def validate_lapse_check(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        text = clean_answer(value if isinstance(value, str) else str(value or ""))
        result = risk_checks.parse_lapse_check(text)
        if result is None and tracker.get_slot(REASK_SLOT) is None:
            dispatcher.utter_message(response="utter_lapse_check_not_understood")
            return {LAPSE_CHECK_SLOT: None, LAPSE_RESULT_SLOT: None, REASK_SLOT: REASK_ONCE}
        if result is None:
            # Asked twice and still unclear: go on as for someone who may be alone, which
            # gives the safety advice without assuming they are fine.
            dispatcher.utter_message(response="utter_lapse_check_unclear")
            result = risk_checks.LAPSE_ALONE
        if result == risk_checks.LAPSE_EFFECTS:
            record_flag(
                tracker.sender_id,
                message=f'After a slip on opioids or sedatives, asked if still affected: "{text}"',
                category="overdose",
                source="lapse_check",
                level="urgent",
            )
        answered = {LAPSE_CHECK_SLOT: text, LAPSE_RESULT_SLOT: result}
        return {**answered, REASK_SLOT: None} if tracker.get_slot(REASK_SLOT) else answered
