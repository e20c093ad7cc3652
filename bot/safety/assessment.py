"""Risk assessment: one decision per message, with three outcomes and a reply kind.

The deterministic detector (:mod:`bot.safety.detector`) is the backbone; the intent
classifier only adds a softer signal. The outcomes:

- ``urgent``: danger now. The crisis reply of the match's kind at once, and an urgent flag.
- ``ask``: a softer signal (passive ideation, hopelessness, a question about lethal amounts,
  or the classifier's guess alone). A direct, kind question about suicidal thoughts; "yes" or
  "not sure" leads to the urgent path.
- ``recent``: an overdose or attempt days or weeks ago. A calm reply and an elevated flag.
- ``none``.

A conversation that has disclosed risk in the last hours is *elevated*: a message that would
only be an ask (a method question above all) is then urgent. The intent classifier never
makes a message urgent, however sure it is: it is trained on few examples and fires on
ordinary feelings, and its confidence moves with every retraining. What it adds is an ask
where the detector found nothing; a "yes" to that question is urgent.

The wording model (:mod:`bot.safety.wording_model`), trained on the lexicon's thousands of
phrasings by category, is the lexicon's second reader: its urgent guess (above a threshold
chosen on development sets) makes a message urgent where the lexicon found nothing or only a
softer signal, but never where the lexicon read the words as figurative, the distant past,
the news, or a recent past event.

Pure Python: the Rasa pipeline, the dialogue policy and the evaluation all call :func:`assess`.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.safety.categories import lexicon_categories
from bot.safety.detector import CrisisMatch

URGENT, ASK, RECENT, NONE = "urgent", "ask", "recent", "none"

#: The risk-flag level each outcome records (``ask`` records none until it is answered).
FLAG_LEVEL = {URGENT: "urgent", RECENT: "elevated"}

#: The reply kind of an ask that is answered "yes" or "not sure".
ASK_REPLY = "suicide"
WORDING_SOURCE = "wording model"


@dataclass(frozen=True)
class Assessment:
    """What to do with one message."""

    outcome: str
    #: The reply kind (``utter_crisis_<kind>``) for urgent and recent outcomes.
    kind: str | None = None
    category: str | None = None
    pattern: str | None = None
    #: "detector", "classifier" or "wording model".
    source: str | None = None

    @property
    def flag_level(self) -> str | None:
        return FLAG_LEVEL.get(self.outcome)

    def as_dict(self) -> dict[str, str | None]:
        return {
            "level": self.outcome,
            "kind": self.kind,
            "category": self.category,
            "pattern": self.pattern,
            "source": self.source,
        }


def assess(
    match: CrisisMatch | None,
    *,
    classifier_crisis: float | None = None,
    wording: str | None = None,
    elevated: bool = False,
    explained: bool = False,
) -> Assessment:
    """Decide on a message from the detector's ``match``, the classifier's confidence that
    it is a crisis (``None`` when crisis was not its guess) and the wording model's urgent
    category (``None`` below its threshold), in an ``elevated`` conversation or not.
    ``explained``: the lexicon read the message's risk words as figurative, the distant past
    or the news (:meth:`bot.safety.detector.CrisisMatcher.explains_away`); neither model's
    guess then counts."""
    if match is not None:
        if match.level == URGENT:
            return Assessment(URGENT, match.reply, match.category, match.pattern_id, "detector")
        if match.level == RECENT:
            return Assessment(RECENT, match.reply, match.category, match.pattern_id, "detector")
        if wording is not None:
            return _wording_urgent(wording)
        if elevated:
            return Assessment(URGENT, match.reply, match.category, match.pattern_id, "detector")
        return Assessment(ASK, match.reply, match.category, match.pattern_id, "detector")
    if explained:
        return Assessment(NONE)
    if wording is not None:
        return _wording_urgent(wording)
    if classifier_crisis is not None:
        return Assessment(ASK, ASK_REPLY, None, None, "classifier")
    return Assessment(NONE)


def _wording_urgent(category: str) -> Assessment:
    """Urgent, with the crisis reply of the wording model's category."""
    reply = {info.name: info.reply for info in lexicon_categories()}.get(category, ASK_REPLY)
    return Assessment(URGENT, reply, category, None, WORDING_SOURCE)
