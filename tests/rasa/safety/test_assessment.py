"""The risk assessment's decision table (bot/safety/assessment.py)."""

from __future__ import annotations

import pytest

from bot.safety.assessment import ASK, NONE, RECENT, URGENT, assess
from bot.safety.detector import CrisisMatch


def match(level: str, reply: str = "suicide", category: str = "c") -> CrisisMatch:
    return CrisisMatch(category, "text", f"{category}.entry", level=level, reply=reply)


@pytest.mark.parametrize("classifier", [None, 0.2, 0.99])
def test_the_detector_decides_urgent_and_recent_whatever_the_classifier(classifier):
    urgent = assess(match("urgent", "overdose"), classifier_crisis=classifier)
    assert (urgent.outcome, urgent.kind, urgent.flag_level) == (URGENT, "overdose", "urgent")
    recent = assess(match("recent", "recent"), classifier_crisis=classifier)
    assert (recent.outcome, recent.kind, recent.flag_level) == (RECENT, "recent", "elevated")


@pytest.mark.parametrize("classifier", [None, 0.5, 0.999])
def test_a_softer_signal_is_an_ask_however_sure_the_classifier_is(classifier):
    found = assess(match("ask"), classifier_crisis=classifier)
    assert (found.outcome, found.flag_level) == (ASK, None)


def test_in_an_elevated_conversation_a_softer_signal_is_urgent():
    found = assess(match("ask", "suicide", "method_question"), elevated=True)
    assert (found.outcome, found.kind, found.category) == (URGENT, "suicide", "method_question")


@pytest.mark.parametrize("classifier", [0.3, 0.999])
def test_the_classifier_alone_only_ever_asks(classifier):
    assert assess(None, classifier_crisis=classifier).outcome == ASK
    assert assess(None, classifier_crisis=classifier, elevated=True).outcome == ASK
    assert assess(None, classifier_crisis=classifier).source == "classifier"


def test_nothing_is_nothing():
    assert assess(None).outcome == NONE
    assert assess(None, elevated=True).outcome == NONE


def test_a_classifier_guess_on_words_the_lexicon_explained_asks_nothing():
    assert assess(None, classifier_crisis=0.97, explained=True).outcome == NONE
    # the detector's own softer signal still asks, explained or not
    ask = CrisisMatch("passive_ideation", "x", "p", level="ask", reply="suicide")
    assert assess(ask, classifier_crisis=0.97, explained=True).outcome == ASK


def test_the_wording_models_guess_is_urgent_with_its_categorys_reply():
    found = assess(None, wording="overdose")
    assert (found.outcome, found.kind, found.category) == (URGENT, "overdose", "overdose")
    assert (found.source, found.flag_level, found.pattern) == ("wording model", "urgent", None)
    assert assess(None, wording="violence").kind == "violence"


def test_the_wording_model_raises_the_lexicons_softer_signal_but_never_its_readings():
    raised = assess(match("ask", "suicide", "passive_ideation"), wording="suicide")
    assert (raised.outcome, raised.source) == (URGENT, "wording model")
    # a recent past event stays recent, the lexicon's own urgent match keeps its pattern
    recent = assess(match("recent", "recent", "recent_event"), wording="overdose")
    assert (recent.outcome, recent.source) == (RECENT, "detector")
    urgent = assess(match("urgent", "medical", "medical_emergency"), wording="overdose")
    assert (urgent.category, urgent.source) == ("medical_emergency", "detector")


def test_words_the_lexicon_explained_away_are_never_urgent_on_the_wording_model_alone():
    assert assess(None, wording="suicide", explained=True).outcome == NONE
    assert assess(None, wording="suicide", classifier_crisis=0.99, explained=True).outcome == NONE
