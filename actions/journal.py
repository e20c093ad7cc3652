"""Reading the journal back in the chat: the list of entries and one entry in full."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.forms import latest_text, log_journal_failure
from bot.journal import entries as journal
from bot.journal import replies
from bot.journal.parsing import find_entry_number

#: How many entries the chat lists; the full journal is for the care team's dashboard.
LIST_LIMIT = 10


class ActionShowJournal(Action):
    def name(self) -> str:
        return "action_show_journal"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        try:
            entries = journal.recent_entries(tracker.sender_id, LIST_LIMIT)
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure("Reading the journal", error)
            dispatcher.utter_message(text=replies.JOURNAL_READ_FAILED)
            return []
        dispatcher.utter_message(text=replies.journal_list(entries))
        return []


def requested_entry_number(tracker: Tracker) -> int | None:
    """The number from the ``entry_number`` entity, else from the message text."""
    for value in tracker.get_latest_entity_values("entry_number"):
        number = find_entry_number(str(value))
        if number is not None:
            return number
    return find_entry_number(latest_text(tracker))


class ActionShowEntry(Action):
    """Shows one of the person's own entries; numbers are per person, so another
    patient's entry can never be reached by its number."""

    def name(self) -> str:
        return "action_show_entry"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        number = requested_entry_number(tracker)
        if number is None:
            dispatcher.utter_message(text=replies.WHICH_ENTRY)
            return []
        try:
            entry = journal.get_entry(tracker.sender_id, number)
        except Exception as error:  # noqa: BLE001 - the person must get an answer whatever failed
            log_journal_failure("Reading a journal entry", error)
            dispatcher.utter_message(text=replies.JOURNAL_READ_FAILED)
            return []
        if entry is None:
            dispatcher.utter_message(text=replies.entry_not_found(number))
        else:
            dispatcher.utter_message(text=replies.full_entry(entry))
        return []
