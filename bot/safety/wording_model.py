"""A second reader for danger told in everyday words: a small statistical model of the
lexicon's own phrasings.

Why: the lexicon (:mod:`bot.safety.detector`) reads what its rules name, and people describe
danger in endless ways its rules do not ("the garage door seals good", "she's gone grey and
I can't wake her"). Blind evaluation sets kept showing the same thing: each round of new rules
caught the wordings it was written from and few others. This model learns from every phrasing
in ``wordings/*.yml`` (thousands, by category, written from category descriptions) against
the ordinary messages of the assistant's training data and the wordings' ``not_crisis``
lists, so a new phrasing close to known ones is recognised even when no rule names it.

What it may decide is narrow (see :func:`bot.safety.assessment.assess`): *urgent*, of one
category, when its probability passes a threshold chosen on development sets that are not in
its training data (``tests/safety_dev/``, ``tests/safety_dev/choose_threshold.py``), and
never against the lexicon, which still decides figurative, distant-past and recent readings.
The ask categories (passive wishes to be dead, questions about lethal means) are labels of
their own, so that their words do not count as urgent. It is trained with a fixed solver and no randomness, so the same wordings give the
same model.

Depends on scikit-learn and PyYAML only (the Rasa environment has both).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline, make_union

from bot.content import read_yaml
from bot.safety.categories import lexicon_categories

WORDINGS_PATH = Path(__file__).with_name("wordings")
#: The label of everything that is neither urgent nor an ask: ordinary messages, and the
#: recent category (a past event), which the lexicon answers for.
OTHER = "other"


@dataclass(frozen=True)
class WordingGuess:
    """The model's reading of one message: its most likely urgent category and the
    probability that the message is urgent at all (summed over the urgent categories)."""

    category: str
    probability: float


def urgent_categories() -> frozenset[str]:
    """The lexicon's categories whose match is urgent."""
    return frozenset(info.name for info in lexicon_categories() if info.level == "urgent")


def risk_categories() -> frozenset[str]:
    """The model's labels besides OTHER: the urgent categories and the ask categories
    (passive wishes to be dead, questions about lethal means)."""
    return frozenset(info.name for info in lexicon_categories() if info.level in ("urgent", "ask"))


def load_wordings(
    path: Path = WORDINGS_PATH, *, everyday: bool = False
) -> tuple[list[tuple[str, str]], list[str]]:
    """Every ``(text, category)`` under ``crisis`` and every ``not_crisis`` text of the
    wordings files, in file order; with ``everyday``, the ``everyday`` lists too (ordinary
    messages in strong words that only the model learns from: the lexicon's tests hold it
    to ``not_crisis`` alone)."""
    crisis: list[tuple[str, str]] = []
    ordinary: list[str] = []
    for file in sorted(path.glob("*.yml")):
        data = read_yaml(file) or {}
        for category, texts in (data.get("crisis") or {}).items():
            crisis += [(str(text), str(category)) for text in texts or []]
        ordinary += [str(text) for text in data.get("not_crisis") or []]
        if everyday:
            ordinary += [str(text) for text in data.get("everyday") or []]
    return crisis, ordinary


def training_examples(
    ordinary_messages: Iterable[str], *, exclude: frozenset[str] = frozenset()
) -> tuple[list[str], list[str]]:
    """Texts and labels: the wordings by urgent or ask category, everything else as OTHER,
    plus ``ordinary_messages`` (the assistant's non-crisis training examples). Texts in
    ``exclude`` are left out, so a development set can be kept apart."""
    labelled = risk_categories()
    crisis, not_crisis = load_wordings(everyday=True)
    texts: list[str] = []
    labels: list[str] = []
    seen: set[str] = set()

    def add(text: str, label: str) -> None:
        if text in exclude or text in seen or not text.strip():
            return
        seen.add(text)
        texts.append(text)
        labels.append(label)

    for text, category in crisis:
        add(text, category if category in labelled else OTHER)
    for text in [*not_crisis, *ordinary_messages]:
        add(text, OTHER)
    return texts, labels


def train(texts: list[str], labels: list[str]) -> Pipeline:
    """Character and word n-grams, one multinomial logistic regression. Balanced class
    weights, because urgent wordings are a minority of what the assistant hears.

    Solved with newton-cg rather than lbfgs: the same objective, so the same model (class
    probabilities within 0.0004 of lbfgs's, the same counts at every threshold of
    tests/safety_dev/choose_threshold.py), in 15 iterations instead of 126 and about 5 s of
    processor time instead of 8."""
    features = make_union(
        TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, lowercase=True
        ),
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True),
    )
    model = make_pipeline(
        features,
        LogisticRegression(C=4.0, max_iter=3000, class_weight="balanced", solver="newton-cg"),
    )
    model.fit(texts, labels)
    return model


def read(model: Pipeline, texts: list[str]) -> list[WordingGuess]:
    """The model's guess for each text: its likeliest urgent category, and how likely it is
    that the text is urgent at all."""
    classes = list(model.classes_)
    urgent_names = urgent_categories()
    urgent = [index for index, name in enumerate(classes) if name in urgent_names]
    guesses: list[WordingGuess] = []
    for row in model.predict_proba(texts):
        best = max(urgent, key=lambda index: row[index])
        total = float(sum(row[index] for index in urgent))
        guesses.append(WordingGuess(classes[best], round(total, 4)))
    return guesses
