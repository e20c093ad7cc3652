"""bot/safety/risk_checks.py: thresholds, answers to the two safety checks, and what a slip says."""

from __future__ import annotations

import pytest
import yaml

from bot.journal.parsing import SKIPPED
from bot.safety import risk_checks

# --------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize("value", ["0", "1", "2", 0, 2, " 2 "])
def test_a_mood_of_two_or_lower_gets_the_safety_question(value: object) -> None:
    assert risk_checks.mood_needs_safety_question(value)


@pytest.mark.parametrize("value", ["3", "10", None, SKIPPED, "", "low", True, "1.5"])
def test_other_moods_do_not(value: object) -> None:
    assert not risk_checks.mood_needs_safety_question(value)


@pytest.mark.parametrize("value", ["8", "9", "10", 8])
def test_a_craving_of_eight_or_higher_gets_support(value: object) -> None:
    assert risk_checks.craving_needs_support(value)


@pytest.mark.parametrize("value", ["7", "0", None, SKIPPED, "eight"])
def test_other_cravings_do_not(value: object) -> None:
    assert not risk_checks.craving_needs_support(value)


# --------------------------------------------------------------------------- the safety question


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("yes", "yes"),
        ("Yeah", "yes"),
        ("yep, kinda", "yes"),
        ("sometimes", "yes"),
        ("no", "no"),
        ("Nope, not at all", "no"),
        ("i am not", "no"),
        ("no, not really", "no"),
        ("im safe", "no"),
        ("idk", "unsure"),
        ("not sure", "unsure"),
        ("i'm not sure", "unsure"),
        ("i\u2019m not really sure", "unsure"),
        ("no... well maybe", "unsure"),
        ("no but yes sometimes", "yes"),
        ("why do you ask", None),
        ("", None),
        ("/affirm", None),
    ],
)
def test_typed_answers_to_the_safety_question(text: str, answer: str | None) -> None:
    assert risk_checks.parse_safety_answer(text) == answer


# --------------------------------------------------------------------------- the check after a slip


@pytest.mark.parametrize(
    ("text", "result"),
    [
        ("I'm OK now", "ok"),
        ("I'm still feeling it", "effects"),
        ("I'm alone", "alone"),
        ("still pretty high tbh", "effects"),
        ("a bit drowsy, and alone", "effects"),
        ("home alone but fine", "alone"),
        ("not high anymore", "ok"),
        ("i'm not alone, my sister is here", "ok"),
        ("it's worn off", "ok"),
        ("huh?", None),
    ],
)
def test_answers_to_the_check_after_a_slip(text: str, result: str | None) -> None:
    assert risk_checks.parse_lapse_check(text) == result


# --------------------------------------------------------------------------- slips


@pytest.mark.parametrize(
    "text",
    [
        "i shot up this morning",
        "used heroin again",
        "did a bit of fent last night",
        "relapsed on oxys",
        "took some pills last night",
        "had a couple of percs",
        "i took xanax",
        "popped some benzos at the party",
        "Took a couple of Xanax with wine",
    ],
)
def test_slips_on_opioids_or_sedatives_need_a_safety_check(text: str) -> None:
    assert risk_checks.read_slip(text).needs_safety_check


@pytest.mark.parametrize(
    "text",
    [
        "i drank last night",
        "had a few pints after work",
        "smoked some weed",
        "i relapsed on coke",
        "i drank but didn't take any benzos",
        "no pills, just a bottle of wine",
    ],
)
def test_other_slips_do_not(text: str) -> None:
    assert not risk_checks.read_slip(text).needs_safety_check


def test_alcohol_with_a_benzodiazepine_is_named_as_such() -> None:
    findings = risk_checks.read_slip("drank vodka and took a valium")
    assert findings.needs_safety_check
    assert findings.alcohol_with_sedatives
    assert not risk_checks.read_slip("drank vodka").alcohol_with_sedatives


@pytest.mark.parametrize(
    "text",
    ["bought some ket off the street and used it", "did ketamine at home", "i used ket again"],
)
def test_ketamine_in_a_slip_is_ketamine_outside_the_clinic(text: str) -> None:
    assert risk_checks.read_slip(text).ketamine_misuse


@pytest.mark.parametrize(
    ("text", "misuse"),
    [
        ("the ketamine session felt calm, then I went home", False),
        ("since my ketamine infusion I've felt lighter", False),
        ("the ketamine made the colours so bright", False),
        ("I bought ketamine online", True),
        ("got some ket from my dealer", True),
        ("I've been doing ket at home", True),
        ("a mate gave me a bump of ketamine", True),
    ],
)
def test_ketamine_outside_a_slip_counts_only_with_a_street_or_home_word(
    text: str, misuse: bool
) -> None:
    assert risk_checks.ketamine_outside_clinic(text, in_a_slip=False) is misuse


@pytest.mark.parametrize(
    ("text", "symptoms"),
    [
        ("it burns when I pee", True),
        ("there's blood in my urine", True),
        ("my bladder's been really sore", True),
        ("I need to pee every half hour", True),
        ("running to the loo all day", True),
        ("think I've got a uti", True),
        ("I peed before the session", False),
        ("the bladder question on the form was odd", False),
        ("back pain from the chair", False),
    ],
)
def test_bladder_symptoms(text: str, symptoms: bool) -> None:
    assert risk_checks.bladder_symptoms(text) is symptoms


def test_word_lists_hold_only_quoted_text() -> None:
    for path in (risk_checks.SUBSTANCES_FILE, risk_checks.ANSWERS_FILE):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                assert all(isinstance(k, str) for k in node), path
                stack.extend(node.values())
            elif isinstance(node, list):
                assert all(isinstance(item, str) for item in node), path
