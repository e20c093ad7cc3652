"""A slip or a craving told as the answer to a form's question.

People answer the question in front of them with what is on their mind: "what stood out?" —
"honestly that i drank the night after"; the check-in's note — "now i really want a drink".
Taking that as one more answer with a generic "thank you for sharing" misses the most
important thing said, and after a slip a generic line can read as praise or as not caring.

What each form does with it (:func:`told_besides`, mixed into the journal forms' validation by
:class:`NoticesSlipsAndCravings`):

- **A slip** gets the no-shame reply (``utter_lapse_told_in_form``), the harm-reduction note
  when it was on opioids or sedatives, and the ketamine, bladder and after-session notes.

  - In a craving or trigger reflection, the reflection becomes the slip's reflection there
    and then, so it is saved as a slip with what was taken and when.
  - In the check-in, the session reflection or urge surfing, the answer is kept (it is the
    person's answer, and often the slip's own story), the slip is saved at once as a slip
    entry of its own (status "partial", with the words that told it, what was taken and
    when), and the form goes on with its next question. Why not pause the form for a slip
    reflection: the person chose this reflection, the slip is already recorded for them and
    their care team, and a slip that needs a safety check (opioids, sedatives) gets the
    harm-reduction note in this very reply. Saving at once means the slip is never lost to
    a form that is stopped, discarded or interrupted later.
  - In a slip reflection, a slip told again is part of its story: a short no-blame line.

- **A craving** told in the check-in or the session reflection (not in answer to the craving
  rating itself, which is its answer) gets the craving acknowledgement (``utter_craving_ack``
  in its in-form wording); the answer is kept, and ``craving_told`` makes the entry's save
  offer urge surfing or coping ideas (:func:`actions.risk.notice_after_save`), when the offer's
  buttons work (outside the form).

Only the reply to the question being asked is read, so an answer validated again when a form
resumes says nothing twice.
"""

from __future__ import annotations

from abc import ABC
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import (
    JournalFormValidation,
    latest_intent,
    latest_text,
    log_journal_failure,
    save_draft,
    trigger_draft,
)
from actions.risk import (
    CRAVING_TOLD_SLOT,
    LAPSE_REPORT_SLOT,
    note_slip_after_session,
    notice_ketamine_and_bladder,
)
from bot.journal.parsing import clean_answer
from bot.journal.reply_reading import asks_back, reports_use, tells_craving
from bot.safety import risk_checks

SLIP_REFLECTION = "trigger_form"
#: Forms in which a slip told in an answer is kept as an entry of its own.
SLIP_SAVED_APART_IN = frozenset({"integration_form", "checkin_form", "urge_surfing_form"})
#: Forms in which a craving told in an answer is acknowledged and offered help for.
CRAVING_NOTICED_IN = frozenset({"integration_form", "checkin_form"})
#: The questions that ask about the craving itself: a craving told there is the answer.
CRAVING_QUESTIONS = frozenset({"craving", "checkin_craving"})


#: Fewest words for the classifier's reading alone to make a reply a slip or a craving: a
#: short answer to the form's own question ("yesterday" to "When was your session?", "8" to a
#: craving rating) is that answer, however the classifier reads it out of context.
MIN_WORDS_FOR_INTENT_ALONE = 4


def _long_enough(text: str) -> bool:
    return len(text.split()) >= MIN_WORDS_FOR_INTENT_ALONE


def tells_slip(text: str, intent: str | None) -> bool:
    """Whether a reply says the person drank or used: in its words, or by the classifier's
    reading of a reply long enough to be more than an answer, unless its words speak of a
    craving instead ("i really want to use")."""
    if reports_use(text):
        return True
    return intent == "report_lapse" and _long_enough(text) and not tells_craving(text)


def tells_a_craving(text: str, intent: str | None) -> bool:
    """Whether a reply speaks of wanting to drink or use now, in its words or by the
    classifier's reading of a reply long enough to be more than an answer."""
    return tells_craving(text) or (intent == "report_craving" and _long_enough(text))


def told_besides(
    form: str, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any] | None:
    """Reply to a slip or a craving told as the answer to ``slot``'s question in ``form``.

    Returns the slots to set besides the answer, or None when the reply tells neither (or
    is not the reply to the question being asked).
    """
    if tracker.get_slot("requested_slot") != slot:
        return None
    text = latest_text(tracker)
    intent = latest_intent(tracker)
    if (form == SLIP_REFLECTION or form in SLIP_SAVED_APART_IN) and tells_slip(text, intent):
        return notice_slip(form, text, dispatcher, tracker)
    if form in CRAVING_NOTICED_IN and slot not in CRAVING_QUESTIONS:
        # "wait can ketamine make cravings worse" asks about cravings; the question is answered
        # by the form's validation (:func:`bot.journal.reply_reading.asks_back`).
        if tells_a_craving(text, intent) and asks_back(text, intent) is None:
            dispatcher.utter_message(response="utter_craving_ack")
            return {CRAVING_TOLD_SLOT: True}
    return None


def notice_slip(
    form: str, text: str, dispatcher: CollectingDispatcher, tracker: Tracker
) -> dict[str, Any]:
    """The no-shame reply to a slip told in ``form``, its safety notes, and its record."""
    if form == SLIP_REFLECTION and tracker.get_slot("trigger_kind") == "lapse":
        # Already a slip's reflection: the slip told again is part of its story.
        dispatcher.utter_message(response="utter_lapse_told_in_form")
        earlier = tracker.get_slot(LAPSE_REPORT_SLOT) or ""
        if (
            risk_checks.read_slip(text).needs_safety_check
            and not risk_checks.read_slip(earlier).needs_safety_check
        ):
            dispatcher.utter_message(response="utter_lapse_harm_reduction")
        return {}
    dispatcher.utter_message(response="utter_lapse_told_in_form")
    if risk_checks.read_slip(text).needs_safety_check:
        dispatcher.utter_message(response="utter_lapse_harm_reduction")
    notice_ketamine_and_bladder([text], dispatcher, tracker, source="lapse_report", in_a_slip=True)
    note_slip_after_session(dispatcher, tracker)
    if form == SLIP_REFLECTION:
        return {"trigger_kind": "lapse", LAPSE_REPORT_SLOT: clean_answer(text)}
    record_slip(tracker.sender_id, text)
    return {}


def record_slip(sender_id: str, text: str) -> None:
    """Keep a slip told in passing as a slip entry of its own ("partial": it was not
    reflected on), with what was taken and when, read from the words that told it."""
    draft = trigger_draft({"trigger_context": clean_answer(text)}, "lapse", text)
    try:
        save_draft(sender_id, draft, "partial")
    except Exception as error:  # noqa: BLE001 - the reply has gone out; the form goes on
        log_journal_failure("Recording a slip told in an answer", error)


class NoticesSlipsAndCravings(JournalFormValidation, ABC):
    """Base of the journal forms' validation that reads every answer for a slip or a craving
    told in it (:func:`told_besides`). Abstract like its base, so that rasa-sdk does not
    register it as an action."""

    def told_besides(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any] | None:
        return told_besides(self.form_name(), slot, dispatcher, tracker)
