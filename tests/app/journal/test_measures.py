"""Validated measures: their published wording, exact scoring, and reading one reply."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content import read_yaml
from bot.journal.measures import (
    MEASURES_FILE,
    MeasureDataError,
    answer_score,
    load_measures,
    measure,
    measures,
    score,
)

FREQUENCY = ["Not at all", "Several days", "More than half the days", "Nearly every day"]
STEM = "Over the last 2 weeks, how often have you been bothered by any of the following problems?"


def answers_for(measure_id: str, total: int) -> list[int]:
    """Answers adding up to ``total``, filling the items from the first."""
    answers = []
    for item in measure(measure_id).items:
        answers.append(min(item.max_score, total))
        total -= answers[-1]
    assert total == 0
    return answers


# --------------------------------------------------------------------------- bands


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_bands_at_every_boundary(total: int, band: str) -> None:
    result = score("phq9", answers_for("phq9", total))
    assert (result.total, result.band, result.max_total) == (total, band, 27)


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "severe"),
        (21, "severe"),
    ],
)
def test_gad7_bands_at_every_boundary(total: int, band: str) -> None:
    result = score("gad7", answers_for("gad7", total))
    assert (result.total, result.band, result.max_total) == (total, band, 21)


@pytest.mark.parametrize(
    ("total", "band", "women", "men"),
    [
        (0, "negative", False, False),
        (2, "negative", False, False),
        (3, "positive (≥3)", True, False),
        (4, "positive (≥4)", True, True),
        (12, "positive (≥4)", True, True),
    ],
)
def test_audit_c_is_read_against_both_cutoffs(
    total: int, band: str, women: bool, men: bool
) -> None:
    result = score("audit_c", answers_for("audit_c", total))
    assert (result.total, result.band, result.max_total) == (total, band, 12)
    assert (result.screen_positive_women, result.screen_positive_men) == (women, men)


def test_audit_c_keeps_both_published_cutoffs() -> None:
    assert (measure("audit_c").cutoff_women, measure("audit_c").cutoff_men) == (3, 4)


@pytest.mark.parametrize("measure_id", ["phq9", "gad7"])
def test_only_audit_c_has_a_screen(measure_id: str) -> None:
    result = score(measure_id, answers_for(measure_id, 12))
    assert (result.screen_positive_women, result.screen_positive_men) == (None, None)


# --------------------------------------------------------------------------- the safety item


@pytest.mark.parametrize(
    "answers",
    [
        [0, 0, 0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 0, 3],
        [1, 0, 2, 0, 1, 0, 0, 0, 2],
        [3, 3, 3, 3, 3, 3, 3, 3, 1],
        [3, 3, 3, 3, 3, 3, 3, 3, 3],
    ],
)
def test_phq9_item_9_above_0_is_flagged_whatever_the_total(answers: list[int]) -> None:
    result = score("phq9", answers)
    assert result.safety_item_positive
    assert result.answers == tuple(answers)


def test_a_total_of_1_from_item_9_alone_is_minimal_and_flagged() -> None:
    result = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 1])
    assert (result.total, result.band, result.safety_item_positive) == (1, "minimal", True)


@pytest.mark.parametrize(
    "answers",
    [[0] * 9, [3, 3, 3, 3, 3, 3, 3, 3, 0], [0, 0, 0, 0, 0, 0, 0, 1, 0]],
)
def test_phq9_item_9_at_0_is_not_flagged(answers: list[int]) -> None:
    assert not score("phq9", answers).safety_item_positive


def test_item_9_is_the_only_safety_item() -> None:
    assert [item.safety_item for item in measure("phq9").items] == [False] * 8 + [True]
    assert not any(item.safety_item for item in measure("gad7").items)
    assert not any(item.safety_item for item in measure("audit_c").items)
    assert not score("gad7", [3] * 7).safety_item_positive


# --------------------------------------------------------------------------- refused answers


@pytest.mark.parametrize(
    ("measure_id", "answers"),
    [
        ("phq9", [0] * 8),
        ("phq9", [0] * 10),
        ("phq9", []),
        ("gad7", [0] * 9),
        ("audit_c", [0, 0]),
        ("audit_c", "000"),
    ],
)
def test_a_wrong_number_of_answers_is_refused(measure_id: str, answers: Any) -> None:
    with pytest.raises(ValueError, match="answers, one per item"):
        score(measure_id, answers)


@pytest.mark.parametrize(
    ("measure_id", "answers"),
    [
        ("phq9", [0, 0, 0, 0, 0, 0, 0, 0, 4]),
        ("phq9", [-1, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("phq9", [True, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("phq9", [1.0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("phq9", ["1", 0, 0, 0, 0, 0, 0, 0, 0]),
        ("gad7", [0, 0, 0, 0, 0, 0, 4]),
        ("audit_c", [0, 5, 0]),
    ],
)
def test_a_score_no_answer_gives_is_refused(measure_id: str, answers: list[Any]) -> None:
    with pytest.raises(ValueError, match="is not a score of its answers"):
        score(measure_id, answers)


def test_an_unknown_measure_is_refused() -> None:
    with pytest.raises(KeyError, match="no measure 'phq8'"):
        score("phq8", [0] * 8)


# --------------------------------------------------------------------------- reading a reply


@pytest.mark.parametrize("measure_id", ["phq9", "gad7"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Not at all", 0),
        ("Several days", 1),
        ("More than half the days", 2),
        ("Nearly every day", 3),
        ("  nearly   EVERY day. ", 3),
        ("not at all!", 0),
        ("0", 0),
        ("1", 1),
        (" 2 ", 2),
        ("3", 3),
        ("4", None),
        ("-1", None),
        ("1.5", None),
        ("several", None),
        ("sometimes", None),
        ("", None),
        (None, None),
    ],
)
def test_frequency_answers_read_from_titles_and_digits(
    measure_id: str, text: str | None, expected: int | None
) -> None:
    assert answer_score(measure_id, 1, text) == expected


def test_a_button_sends_its_measure_item_and_score() -> None:
    item = measure("phq9").items[8]
    assert [option.payload for option in item.options] == [f"phq9.9.{n}" for n in range(4)]
    for option in item.options:
        assert answer_score("phq9", 8, option.payload) == option.score
    assert answer_score("audit_c", 1, "audit_c.2.4") == 4


def test_a_button_of_another_question_is_no_answer() -> None:
    assert answer_score("phq9", 3, "phq9.3.2") is None
    assert answer_score("phq9", 0, "gad7.1.2") is None


@pytest.mark.parametrize(
    ("item_index", "text", "expected"),
    [
        (0, "Never", 0),
        (0, "monthly or less", 1),
        (0, "2-4 times a month", 2),
        (0, "2–4 times a month", 2),
        (0, "2 - 4 times a month", 2),
        (0, "2-3 TIMES A WEEK", 3),
        (0, "4 or more times a week", 4),
        (1, "1 or 2", 0),
        (1, "3 or 4", 1),
        (1, "5 or 6", 2),
        (1, "7 to 9", 3),
        (1, "10 or more", 4),
        (2, "never", 0),
        (2, "Less than monthly", 1),
        (2, "Monthly", 2),
        (2, "weekly", 3),
        (2, "Daily or almost daily", 4),
        (2, "Monthly or less", None),
    ],
)
def test_audit_c_answers_read_from_titles(item_index: int, text: str, expected: int | None) -> None:
    assert answer_score("audit_c", item_index, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", None), ("1", 0), ("2", 0), ("3", 1), ("4", 1), ("5", 2), ("6", 2)]
    + [("7", 3), ("9", 3), ("10", 4), ("25", 4)],
)
def test_a_number_typed_for_audit_c_q2_is_a_number_of_drinks(
    text: str, expected: int | None
) -> None:
    assert answer_score("audit_c", 1, text) == expected


@pytest.mark.parametrize("item_index", [0, 2])
@pytest.mark.parametrize("text", ["0", "1", "2", "3", "4"])
def test_a_bare_number_for_audit_c_q1_or_q3_is_no_answer(item_index: int, text: str) -> None:
    assert answer_score("audit_c", item_index, text) is None


def test_an_item_outside_the_measure_is_refused() -> None:
    with pytest.raises(IndexError):
        answer_score("gad7", 7, "Not at all")
    with pytest.raises(IndexError):
        answer_score("gad7", -1, "Not at all")


# --------------------------------------------------------------------------- published wording


def test_phq9_wording_is_the_published_text() -> None:
    phq9 = measure("phq9")
    assert phq9.stem == STEM
    assert phq9.items[0].text == "Little interest or pleasure in doing things"
    assert phq9.items[8].text == (
        "Thoughts that you would be better off dead, or of hurting yourself in some way"
    )
    assert phq9.difficulty is not None
    assert phq9.difficulty.text == (
        "If you checked off any problems, how difficult have these problems made it for you to "
        "do your work, take care of things at home, or get along with other people?"
    )
    assert phq9.difficulty.options == (
        "Not difficult at all",
        "Somewhat difficult",
        "Very difficult",
        "Extremely difficult",
    )


def test_gad7_wording_is_the_published_text() -> None:
    gad7 = measure("gad7")
    assert gad7.stem == STEM
    assert gad7.items[0].text == "Feeling nervous, anxious, or on edge"
    assert gad7.items[6].text == "Feeling afraid, as if something awful might happen"


@pytest.mark.parametrize("measure_id", ["phq9", "gad7"])
def test_frequency_answers_are_worded_and_scored_as_published(measure_id: str) -> None:
    for item in measure(measure_id).items:
        assert [(option.text, option.score) for option in item.options] == list(
            zip(FREQUENCY, range(4), strict=True)
        )


def test_audit_c_questions_and_answers_are_the_published_text() -> None:
    items = measure("audit_c").items
    assert [item.text for item in items] == [
        "How often do you have a drink containing alcohol?",
        "How many standard drinks containing alcohol do you have on a typical day?",
        "How often do you have six or more drinks on one occasion?",
    ]
    assert [[(option.text, option.score) for option in item.options] for item in items] == [
        [
            ("Never", 0),
            ("Monthly or less", 1),
            ("2-4 times a month", 2),
            ("2-3 times a week", 3),
            ("4 or more times a week", 4),
        ],
        [("1 or 2", 0), ("3 or 4", 1), ("5 or 6", 2), ("7 to 9", 3), ("10 or more", 4)],
        [
            ("Never", 0),
            ("Less than monthly", 1),
            ("Monthly", 2),
            ("Weekly", 3),
            ("Daily or almost daily", 4),
        ],
    ]


def test_sources_and_terms_are_given() -> None:
    for measure_id in ("phq9", "gad7"):
        instrument = measure(measure_id)
        assert "Robert L. Spitzer, Janet B.W. Williams, Kurt Kroenke" in instrument.source
        assert "educational grant from Pfizer Inc." in instrument.source
        assert instrument.terms == (
            "No permission required to reproduce, translate, display or distribute."
        )
    audit_c = measure("audit_c")
    assert "Bush K, Kivlahan DR, McDonell MB, Fihn SD, Bradley KA." in audit_c.source
    assert "Arch Intern Med. 1998;158:1789-1795" in audit_c.source
    assert "World Health Organization" in audit_c.terms


def test_the_file_is_read_once() -> None:
    assert measures() is measures()
    assert list(measures()) == ["phq9", "gad7", "audit_c"]


# --------------------------------------------------------------------------- the loader


def raw_measures() -> dict[str, Any]:
    return copy.deepcopy(read_yaml(MEASURES_FILE))


def written(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "measures.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_the_file_rewritten_unchanged_loads(tmp_path: Path) -> None:
    loaded = load_measures(written(tmp_path, raw_measures()))
    assert loaded["phq9"] == measure("phq9")
    assert loaded["audit_c"] == measure("audit_c")


def test_a_gap_between_bands_is_refused(tmp_path: Path) -> None:
    data = raw_measures()
    data["phq9"]["bands"][1]["from"] = 6  # mild from 6: nothing for a total of 5
    with pytest.raises(MeasureDataError, match="phq9 band 2: a gap, no band for totals 5 to 5"):
        load_measures(written(tmp_path, data))


def test_overlapping_bands_are_refused(tmp_path: Path) -> None:
    data = raw_measures()
    data["gad7"]["bands"][0]["to"] = 5
    with pytest.raises(
        MeasureDataError, match="gad7 band 2: overlaps the band before it at totals 5"
    ):
        load_measures(written(tmp_path, data))


def test_bands_short_of_the_highest_total_are_refused(tmp_path: Path) -> None:
    data = raw_measures()
    data["audit_c"]["bands"][-1]["to"] = 11
    with pytest.raises(MeasureDataError, match="bands must end at the highest total, 12"):
        load_measures(written(tmp_path, data))


def test_a_missing_item_is_refused(tmp_path: Path) -> None:
    data = raw_measures()
    del data["phq9"]["items"][4]
    with pytest.raises(MeasureDataError, match="phq9: must have 9 items, has 8"):
        load_measures(written(tmp_path, data))


@pytest.mark.parametrize("scores", [[0, 1, 2, 4], [1, 2, 3, 4], [0, 2, 1, 3]])
def test_answers_not_scored_0_1_2_in_order_are_refused(tmp_path: Path, scores: list[int]) -> None:
    data = raw_measures()
    for option, value in zip(data["gad7"]["options"], scores, strict=True):
        option["score"] = value
    with pytest.raises(MeasureDataError, match="answers must score 0, 1, 2"):
        load_measures(written(tmp_path, data))


def test_a_misspelt_key_is_refused(tmp_path: Path) -> None:
    data = raw_measures()
    data["phq9"]["items"][8]["saftey_item"] = data["phq9"]["items"][8].pop("safety_item")
    with pytest.raises(MeasureDataError, match="phq9 item 9: unknown key saftey_item"):
        load_measures(written(tmp_path, data))


def test_a_missing_measure_is_refused(tmp_path: Path) -> None:
    data = raw_measures()
    del data["gad7"]
    with pytest.raises(MeasureDataError, match="missing: gad7"):
        load_measures(written(tmp_path, data))


def test_drinks_that_skip_a_number_are_refused(tmp_path: Path) -> None:
    data = raw_measures()
    data["audit_c"]["items"][1]["options"][2]["drinks"] = [6, 6]
    with pytest.raises(MeasureDataError, match="answer 3 must give drinks from 5"):
        load_measures(written(tmp_path, data))
