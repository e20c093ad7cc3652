"""The lexicon's categories as the public safety page reads them (bot/safety/categories.py),
and the page's words for each (bot/content/safety_page.yml)."""

from __future__ import annotations

from bot.clinics.safety_summary import page_words
from bot.content import read_yaml
from bot.safety.categories import LEXICON_PATH, CategoryInfo, lexicon_categories

#: The detector's levels (bot/safety/detector.py's LEVELS, which needs spaCy to import).
LEVELS = ("urgent", "ask", "recent")


def test_the_categories_are_the_lexicons_in_its_order() -> None:
    order = read_yaml(LEXICON_PATH / "base.yml")["categories"]
    categories = lexicon_categories()
    assert [category.name for category in categories] == order
    for category in categories:
        assert category.level in LEVELS
        assert category.description, category.name


def test_summaries_are_one_plain_sentence_without_maintainers_notes() -> None:
    for category in lexicon_categories():
        summary = category.summary
        assert summary.endswith((".", ")")), (category.name, summary)
        assert category.description.startswith(summary)
        for note in ("bot/", "`", ".py", "et al"):
            assert note not in summary, (category.name, summary)


def test_the_first_sentence_ends_after_quotes_and_brackets() -> None:
    info = CategoryInfo(
        "x", "ask", "suicide", 'Asks "is it fatal?" (a method). Never answered. More here.'
    )
    assert info.summary == 'Asks "is it fatal?" (a method).'


def test_the_page_has_words_for_every_category_and_level() -> None:
    words = page_words()
    names = {category.name for category in lexicon_categories()}
    assert set(words["categories"]) == names
    assert set(words["levels"]) == set(LEVELS)
