"""Deterministic crisis detection: spaCy rule matching over the lexicon in ``lexicon/``.

Why rules and not the intent classifier: a crisis message (suicidal thoughts, self-harm, an
overdose, a medical emergency, intent to harm someone) must be recognised on every message,
reproducibly, however the classifier was trained and however unsure it is. Every decision
about what does and does not count lives in the lexicon files, with its reasoning next to it;
this module only applies it.

The module depends on spaCy, PyYAML and the standard library only, so it imports in any
environment that has spaCy (no Rasa, no database). Its tokens and lemmas come from
``bot.safety.spacy_pipeline.build_pipeline``, the pipeline Rasa's ``SpacyNLP`` loads too.

Speed: spaCy's ``Matcher`` evaluates ``IN`` lists in Python for every token, which costs a few
milliseconds per pattern on a long message. Each token pattern therefore gets an *anchor*: the
set of words one of its required tokens must be. Patterns only run on short windows around
tokens that are some anchor, so ordinary prose costs almost nothing and a 20,000-character
message is checked in a few tens of milliseconds.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacy.attrs import LEMMA, LOWER, ORTH
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Token
from spacy.vocab import Vocab

from bot.content import read_yaml
from bot.safety.spacy_pipeline import build_pipeline

LEXICON_PATH = Path(__file__).with_name("lexicon")
#: What a category's match leads to (the lexicon gives each category one):
#: ``urgent`` - the crisis reply of its kind at once and an urgent flag; ``ask`` - a direct,
#: kind question about suicidal thoughts; ``recent`` - a calm reply and an elevated flag.
LEVELS = ("urgent", "ask", "recent")

# spaCy refuses documents over ``nlp.max_length`` characters; longer messages are checked in
# overlapping windows so that nothing is ever skipped and the cost stays linear.
_WINDOW_CHARS = 50_000
_WINDOW_OVERLAP = 400

_APOSTROPHES = dict.fromkeys(
    map(ord, "\u2018\u2019\u201b\u02bc\u02bb\u2032\u00b4\u0060\uff07"), "'"
)
_QUOTES = dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033\uff02"), '"')
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LETTER_RUN = re.compile(r"([^\W\d_])\1{2,}")
_LETTER_RUN_SPLIT = re.compile(r"(([^\W\d_])\2{2,})")
_LETTER_DOUBLE = re.compile(r"([^\W\d_])\1")
_LETTER_DOUBLE_SPLIT = re.compile(r"(([^\W\d_])\2)")
_SYMBOL_RUN = re.compile(r"([^\w\s])\1{2,}")
_NEWLINE_SPACE = re.compile(r"\s*\n\s*")
_SPACES = re.compile(r"[^\S\n]+")
# spaCy's prefix/suffix splitting is quadratic in the length of a whitespace-free chunk that
# keeps yielding punctuation or emoji (1,000 such characters take a third of a second), so
# long chunks are opened up at every non-alphanumeric character before tokenising.
_LONG_CHUNK = re.compile(r"\S{32,}")
_CHUNK_SYMBOL = re.compile(r"([^\w]|_)")
_MAX_REPAIR_RUNS = 6
_LEMMA_CACHE_SIZE = 200_000
_LINE_STARTS = "crisis_line_starts"
_SENTENCE_END = frozenset({".", "!", "?", ";", "...", "..", "!!", "??", "?!", "!?"})
_COMMA = frozenset({","})


@dataclass(frozen=True)
class CrisisMatch:
    """One crisis signal found in a message.

    ``text`` is the matched words as they read after normalisation (lower case, repaired
    spelling), which is what the lexicon matched against.
    """

    category: str
    text: str
    pattern_id: str
    #: See :data:`LEVELS`.
    level: str = "urgent"
    #: The reply kind: domain.yml's ``utter_crisis_<reply>``.
    reply: str = "suicide"


class LexiconError(ValueError):
    """The lexicon file is malformed; raised at load time so a broken lexicon never ships."""


@dataclass(frozen=True)
class Category:
    """A category of the lexicon: its level, reply kind and place in the priority order."""

    name: str
    level: str
    reply: str
    rank: int


@dataclass(frozen=True)
class _Entry:
    id: str
    category: str
    clause_end: bool
    #: Entries this one overrides in its clause (a question about an overdose is a question).
    supersedes: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Candidate:
    entry: _Entry
    start: int
    end: int


class _RuleSet:
    """Token patterns and phrases under their ids, each pattern run only where it can match.

    Patterns are grouped by anchor (see :func:`_anchor`), one ``Matcher`` per group, and a
    group runs only on windows around tokens whose lower-case form or lemma is in its anchor.
    """

    def __init__(self, vocab: Vocab) -> None:
        self._vocab = vocab
        self._groups: dict[frozenset[str], Matcher] = {}
        self._anchor_index: dict[int, list[Matcher]] = {}
        self._unanchored = Matcher(vocab, validate=True)
        self._phrases = PhraseMatcher(vocab, attr="NORM")
        self.max_length = 1

    def add(self, key: str, patterns: list[list[dict[str, Any]]], phrases: list[Doc]) -> None:
        for pattern in patterns:
            self.max_length = max(self.max_length, _max_length(pattern, key))
            anchor = _anchor(pattern)
            if anchor is None:
                matcher = self._unanchored
            elif anchor in self._groups:
                matcher = self._groups[anchor]
            else:
                matcher = self._groups[anchor] = Matcher(self._vocab, validate=True)
                for word in anchor:
                    self._anchor_index.setdefault(self._vocab.strings.add(word), []).append(matcher)
            try:
                matcher.add(key, [pattern])
            except ValueError as error:
                raise LexiconError(f"{key}: invalid pattern {pattern!r}: {error}") from error
        if phrases:
            self._phrases.add(key, phrases)

    def find(self, doc: Doc, regions: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int, int]]:
        """Matches ``(key, start, end)`` that start inside the given token regions of ``doc``."""
        regions = _merge(regions)
        if not regions:
            return
        words = doc.to_array([LOWER, LEMMA]).tolist()
        hits: dict[int, tuple[Matcher, list[int]]] = {}
        nothing: list[Matcher] = []
        for start, end in regions:
            for i in range(start, end):
                lower, lemma = words[i]
                matchers = self._anchor_index.get(lower, nothing)
                if lemma != lower:
                    matchers = matchers + self._anchor_index.get(lemma, nothing)
                for matcher in matchers:
                    hits.setdefault(id(matcher), (matcher, []))[1].append(i)
        reach = self.max_length - 1
        for matcher, positions in hits.values():
            windows = _merge((max(0, i - reach), min(len(doc), i + reach + 1)) for i in positions)
            for start, end in windows:
                for key, match_start, match_end in matcher(doc[start:end]):
                    yield key, start + match_start, start + match_end
        if len(self._unanchored):
            for start, end in regions:
                for key, match_start, match_end in self._unanchored(doc[start:end]):
                    yield key, start + match_start, start + match_end
        inside = [False] * len(doc)
        for start, end in regions:
            inside[start:end] = [True] * (end - start)
        for key, match_start, match_end in self._phrases(doc):
            if inside[match_start]:
                yield key, match_start, match_end

    def anchors(self) -> list[frozenset[str]]:
        """The anchor word sets (for tests that check no pattern anchors on a common word)."""
        return list(self._groups)


class CrisisMatcher:
    """Finds crisis statements in free text, following the rules in the lexicon files.

    Build it once (it compiles a few hundred patterns and loads the lemma tables) and call
    :meth:`detect` for every message. It keeps no state between calls.
    """

    def __init__(self, lexicon_path: Path = LEXICON_PATH, nlp: Language | None = None) -> None:
        self._nlp = nlp if nlp is not None else build_pipeline()
        self._nlp.max_length = max(self._nlp.max_length, _WINDOW_CHARS + _WINDOW_OVERLAP + 100)
        self._lemma_table = self._nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        self._lemma_cache: dict[int, int] = {}
        lexicon = load_lexicon(lexicon_path)
        self._sets: dict[str, list[str]] = {
            name: [_lower_word(word, f"sets.{name}") for word in words]
            for name, words in _mapping(lexicon, "sets").items()
        }
        self._slang = {
            _lower_word(key, "slang"): _lower_word(value, f"slang.{key}")
            for key, value in _mapping(lexicon, "slang").items()
        }
        self._emoji = {
            str(key): f" {value} " for key, value in _mapping(lexicon, "emoji_aliases").items()
        }
        self._followers = frozenset(_words(lexicon, "clause_followers"))
        self._breaks = frozenset(_words(lexicon, "clause_breaks"))
        self._first_person = frozenset(_words(lexicon, "first_person"))
        self._first_person_possessive = frozenset(_words(lexicon, "first_person_possessive"))
        self._known_words = self._vocabulary(lexicon)
        # Only words that may need repair or expansion reach the (Python) callback.
        slang = "|".join(re.escape(word) for word in sorted(self._slang, key=len, reverse=True))
        # Whole words only: never a piece of a contraction ("i'll") or of a longer token.
        self._word_fix = re.compile(
            r"(?<![\w'])(?:[^\W\d_]*([^\W\d_])\1[^\W\d_]*|[^\W\d_]{2,}in"
            + (f"|{slang}" if slang else "")
            + r")(?![\w'])"
        )

        self._entries: dict[str, _Entry] = {}
        self.categories: dict[str, Category] = {}
        self._rules = _RuleSet(self._nlp.vocab)
        for rank, (category, spec) in enumerate(_mapping(lexicon, "categories").items()):
            self.categories[category] = _category(category, spec, rank)
            for raw in spec.get("entries") or []:
                entry = _Entry(
                    id=str(raw["id"]),
                    category=category,
                    clause_end=bool(raw.get("clause_end", False)),
                    supersedes=frozenset(str(name) for name in raw.get("supersedes") or []),
                )
                if entry.id in self._entries:
                    raise LexiconError(f"duplicate entry id {entry.id!r}")
                self._entries[entry.id] = entry
                self._add(self._rules, entry.id, raw)

        for entry in self._entries.values():
            unknown_ids = entry.supersedes - set(self._entries)
            if unknown_ids:
                raise LexiconError(f"{entry.id}: supersedes unknown entries {sorted(unknown_ids)}")

        self._figurative = _RuleSet(self._nlp.vocab)
        for raw in lexicon.get("figurative") or []:
            self._add(self._figurative, str(raw["id"]), raw)

        past = _mapping(lexicon, "past_reference")
        self._past_any = frozenset(past.get("suppress_any_subject") or [])
        self._past_other = frozenset(past.get("suppress_other_subject") or [])
        self._history_to = self._known_category(past.get("history_to"), "past_reference.history_to")
        self._past_checked = self._past_any | self._past_other
        self._past = _RuleSet(self._nlp.vocab)
        self._add(self._past, "past_reference", past)
        recent = _mapping(lexicon, "recent_reference")
        self._recent_convert = frozenset(recent.get("convert") or [])
        self._recent_to = self._known_category(recent.get("to"), "recent_reference.to")
        self._recent = _RuleSet(self._nlp.vocab)
        self._add(self._recent, "recent_reference", recent)
        self._present = _RuleSet(self._nlp.vocab)
        if recent.get("present"):
            self._add(self._present, "recent_reference.present", {"phrases": recent["present"]})
        self._immediate = _RuleSet(self._nlp.vocab)
        if recent.get("immediate"):
            self._add(
                self._immediate, "recent_reference.immediate", {"phrases": recent["immediate"]}
            )
        self._marker_fillers = frozenset(_words(recent, "marker_fillers"))
        unknown = (self._past_checked | self._recent_convert) - set(self.categories)
        if unknown:
            raise LexiconError(f"past/recent_reference name unknown categories {sorted(unknown)}")

    def _known_category(self, name: Any, where: str) -> str | None:
        if name is None:
            return None
        if name not in self.categories:
            raise LexiconError(f"{where} names unknown category {name!r}")
        return str(name)

    # -- public API -------------------------------------------------------------------------

    def detect(self, text: str) -> CrisisMatch | None:
        """The most acute crisis signal in ``text``, or None.

        Most acute means the category listed first in the lexicon; among matches of that
        category, the earliest in the text.
        """
        matches = self._detect(text)
        if not matches:
            return None
        ranks = {name: category.rank for name, category in self.categories.items()}
        return min(matches, key=lambda found: (ranks[found[0].category], found[1]))[0]

    def detect_all(self, text: str) -> list[CrisisMatch]:
        """Every crisis signal in ``text``, in reading order (for audits and tests)."""
        result: list[CrisisMatch] = []
        for match, _ in sorted(self._detect(text), key=lambda found: found[1]):
            if match not in result:
                result.append(match)
        return result

    def explains_away(self, text: str) -> bool:
        """Whether the lexicon read risk words in ``text`` and judged them not a crisis now: a
        figurative use ("this job is killing me", "dying to know"), or risk told as the distant
        past or the news ("my cousin overdosed years ago", "an article about overdoses").

        The intent classifier guesses ``crisis`` on exactly such words; where the lexicon has
        explained them, that guess alone is no reason to ask about suicidal thoughts. The rest
        of the message must not speak of living, dying, ending or hurting
        (:func:`mentions_risk_words`): "work is killing me and i just want to disappear" is not
        explained away, and neither is anything :meth:`detect` finds.
        """
        if self._detect(text):
            return False
        normalized = self.normalize(text if isinstance(text, str) else "")
        explained = False
        for _, window in _windows(normalized):
            doc = self._make_doc(window)
            whole = [(0, len(doc))]
            # The figurative uses, and the candidates none of which survived the time and
            # clause rules (detect found nothing).
            spans = [*self._figurative.find(doc, whole), *self._rules.find(doc, whole)]
            covered = [False] * len(doc)
            for _, start, end in spans:
                covered[start:end] = [True] * (end - start)
            rest = " ".join(token.text for token in doc if not covered[token.i])
            if mentions_risk_words(rest):
                return False
            explained = explained or bool(spans)
        return explained

    def normalize(self, text: str) -> str:
        """The text as the patterns see it (see lexicon/base.yml for the steps)."""
        if not text:
            return ""
        text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).translate(_QUOTES)
        text = _ASCII_CONTROL.sub(" ", text)
        if not text.isascii():
            text = _NON_ASCII.sub(_clean_non_ascii, text)
            for emoji, word in self._emoji.items():
                text = text.replace(emoji, word)
        text = text.lower()
        text = _SYMBOL_RUN.sub(_double, text)
        text = self._word_fix.sub(self._repair_word, text)
        text = _LONG_CHUNK.sub(_open_chunk, text)
        text = _NEWLINE_SPACE.sub("\n", text)
        return _SPACES.sub(" ", text).strip()

    # -- matching ---------------------------------------------------------------------------

    def _detect(self, text: str) -> list[tuple[CrisisMatch, int]]:
        normalized = self.normalize(text if isinstance(text, str) else "")
        results: list[tuple[CrisisMatch, int]] = []
        for offset, window in _windows(normalized):
            doc = self._make_doc(window)
            for candidate, category_name in self._surviving_candidates(doc):
                span = doc[candidate.start : candidate.end]
                category = self.categories[category_name]
                match = CrisisMatch(
                    category.name,
                    span.text,
                    candidate.entry.id,
                    level=category.level,
                    reply=category.reply,
                )
                results.append((match, offset + span.start_char))
        return results

    def _make_doc(self, text: str) -> Doc:
        """Tokenise and lemmatise exactly as the pipeline's lookup lemmatizer does, faster.

        The lookup lemmatizer maps each token's text through the ``lemma_lookup`` table, one
        Python call per token. Doing the same mapping once per distinct word (cached) and
        writing the lemmas back in one array keeps long messages cheap.
        """
        # Line breaks are clause boundaries but must not split a pattern ("I want to\ndie"):
        # the tokenizer sees a plain space, and the breaks are kept beside the Doc.
        doc = self._nlp.make_doc(text.replace("\n", " "))
        doc.user_data[_LINE_STARTS] = _line_starts(doc, text) if "\n" in text else frozenset()
        if not len(doc):
            return doc
        cache = self._lemma_cache
        if len(cache) > _LEMMA_CACHE_SIZE:
            cache.clear()
        strings = self._nlp.vocab.strings
        lemmas = doc.to_array(LEMMA)
        for i, orth in enumerate(doc.to_array(ORTH).tolist()):
            lemma = cache.get(orth)
            if lemma is None:
                lemma = cache[orth] = strings.add(self._lemma_table.get(orth, strings[orth]))
            lemmas[i] = lemma
        doc.from_array([LEMMA], lemmas.reshape(-1, 1))
        return doc

    def _surviving_candidates(self, doc: Doc) -> list[tuple[_Candidate, str]]:
        """Candidates that stand after the clause-end, figurative and time rules, each with
        the category it counts in (a recent or past marker may move it to another)."""
        strings = self._nlp.vocab.strings
        candidates = [
            _Candidate(self._entries[strings[key]], start, end)
            for key, start, end in self._rules.find(doc, [(0, len(doc))])
        ]
        candidates = [
            c for c in candidates if not c.entry.clause_end or self._ends_clause(doc, c.end)
        ]
        if not candidates:
            return []

        reach = self._figurative.max_length
        figurative = [False] * len(doc)
        nearby = [(max(0, c.start - reach), min(len(doc), c.end + reach)) for c in candidates]
        for _, start, end in self._figurative.find(doc, nearby):
            figurative[start:end] = [True] * (end - start)
        candidates = [c for c in candidates if not any(figurative[c.start : c.end])]
        candidates = self._without_superseded(doc, candidates)

        timed = self._past_checked | self._recent_convert
        if not any(c.entry.category in timed for c in candidates):
            return [(c, c.entry.category) for c in candidates]
        clause_ids, clause_bounds = self._clauses(doc)
        regions = [clause_bounds[clause_ids[c.start]] for c in candidates]
        past = {clause_ids[start] for _, start, _ in self._past.find(doc, regions)}
        recent = self._recent_clauses(doc, candidates)

        surviving: list[tuple[_Candidate, str]] = []
        for candidate in candidates:
            category = candidate.entry.category
            clause = clause_ids[candidate.start]
            if clause in past and category in self._past_checked:
                # The distant past: history, not an emergency. The writer's own suicide or
                # self-harm history is still told to the care team (history_to).
                if category in self._past_any:
                    continue
                if not self._about_writer(doc, candidate):
                    continue
                if self._history_to is not None and category in self._recent_convert:
                    category = self._history_to
            elif category in self._recent_convert and self._recent_to and candidate.start in recent:
                category = self._recent_to
            surviving.append((candidate, category))
        return surviving

    def _without_superseded(self, doc: Doc, candidates: list[_Candidate]) -> list[_Candidate]:
        """Drop the candidates that a superseding entry overrides in its clause: "how much would
        it take to od" is a method question, not an overdose. Never where the clause speaks
        of the writer ("how many of my pills would do it", "i took 20, is that enough"),
        which keeps its most acute reading."""
        superseding = [c for c in candidates if c.entry.supersedes]
        if not superseding:
            return candidates
        ids, bounds = self._clauses(doc)
        dropped: set[tuple[str, int]] = set()
        for question in superseding:
            clause = ids[question.start]
            start, end = bounds[clause]
            if any(self._is_writer(doc[i].lower_) for i in range(start, end)):
                continue
            dropped.update(
                (c.entry.id, c.start)
                for c in candidates
                if c.entry.id in question.entry.supersedes and ids[c.start] == clause
            )
        return [c for c in candidates if (c.entry.id, c.start) not in dropped]

    def _is_writer(self, word: str) -> bool:
        return word in self._first_person or word in self._first_person_possessive

    def _recent_clauses(self, doc: Doc, candidates: list[_Candidate]) -> set[int]:
        """The starts of the candidates that a recent-past marker moves to recent_event.

        Here a comma ends a clause too, and a clause that also speaks of now keeps its
        urgency: "i want to die, last week was awful" and "clean since last week, i'm going to
        take them all tonight" stay urgent. A clause that is nothing but the marker covers the
        clause after its comma: "a couple of weeks ago, i overdosed". A message that says
        danger is now ("right now", "tonight") anywhere moves nothing."""
        if any(True for _ in self._immediate.find(doc, [(0, len(doc))])):
            return set()
        ids, bounds = self._clauses(doc, extra_breaks=_COMMA)
        wanted = {ids[c.start] for c in candidates}
        searched = {clause for own in wanted for clause in (own - 1, own) if clause >= 0}
        regions = [bounds[clause] for clause in sorted(searched)]
        marked: dict[int, list[tuple[int, int]]] = {}
        for _, start, end in self._recent.find(doc, regions):
            marked.setdefault(ids[start], []).append((start, end))
        present = {ids[start] for _, start, _ in self._present.find(doc, regions)}

        def only_marker(clause: int) -> bool:
            covered = {i for start, end in marked.get(clause, []) for i in range(start, end)}
            start, end = bounds[clause]
            return all(
                i in covered or not _has_alnum(doc[i]) or doc[i].lower_ in self._marker_fillers
                for i in range(start, end)
            )

        moved: set[int] = set()
        for candidate in candidates:
            clause = ids[candidate.start]
            if clause in present:
                continue
            before = clause - 1
            if clause in marked or (
                before >= 0
                and before in marked
                and doc[bounds[clause][0]].text in _COMMA
                and only_marker(before)
            ):
                moved.add(candidate.start)
        return moved

    def _ends_clause(self, doc: Doc, end: int) -> bool:
        if end >= len(doc) or end in doc.user_data[_LINE_STARTS]:
            return True
        token = doc[end]
        return (
            token.is_punct
            or token.is_space
            or not _has_alnum(token)
            or token.lower_ in self._followers
        )

    def _clauses(
        self, doc: Doc, extra_breaks: frozenset[str] = frozenset()
    ) -> tuple[list[int], list[tuple[int, int]]]:
        """The clause number of every token, and each clause's token range."""
        clause_ids: list[int] = []
        bounds: list[tuple[int, int]] = []
        start = 0
        line_starts = doc.user_data[_LINE_STARTS]
        for token in doc:
            if token.i > start and (
                token.i in line_starts
                or token.text in _SENTENCE_END
                or token.lower_ in self._breaks
                or token.text in extra_breaks
            ):
                bounds.append((start, token.i))
                start = token.i
            clause_ids.append(len(bounds))
        bounds.append((start, len(doc)))
        return clause_ids, bounds

    def _about_writer(self, doc: Doc, candidate: _Candidate) -> bool:
        span_words = {token.lower_ for token in doc[candidate.start : candidate.end]}
        before = [token.lower_ for token in doc[max(0, candidate.start - 3) : candidate.start]]
        return bool(
            span_words & self._first_person
            or self._first_person.intersection(before)
            or (before and before[-1] in self._first_person_possessive)
        )

    # -- normalisation ----------------------------------------------------------------------

    def _repair_word(self, found: re.Match[str]) -> str:
        word = found.group(0)
        if word in self._slang:
            return self._slang[word]
        if self._is_known(word):
            return word
        if _LETTER_RUN.search(word):
            word = self._repair_runs(word)
        elif _LETTER_DOUBLE.search(word):
            word = self._repair_doubles(word)
        if (
            len(word) >= 4
            and word.endswith("in")
            and not self._is_known(word)
            and self._is_known(word + "g")
        ):
            word += "g"
        return self._slang.get(word, word)

    def _repair_runs(self, word: str) -> str:
        """Shorten runs of 3+ identical letters to the spelling that is a known word.

        Each run may stand for a double or a single letter ("killll" -> "kill", "dieee" ->
        "die"); the combinations are tried doubles first and the first known word wins. Words
        with very many runs are only shortened to doubles, which keeps this linear.
        """
        parts = _LETTER_RUN_SPLIT.split(word)
        return self._first_known(parts) or _respell(parts, itertools.repeat(2))

    def _repair_doubles(self, word: str) -> str:
        """Undo a doubled letter in an unknown word when that gives a known one ("suiciddal")."""
        return self._first_known(_LETTER_DOUBLE_SPLIT.split(word)) or word

    def _first_known(self, parts: list[str]) -> str | None:
        """The first known spelling with each run in ``parts`` written double or single."""
        runs = len(parts) // 3
        if runs > _MAX_REPAIR_RUNS:
            return None
        for lengths in itertools.product((2, 1), repeat=runs):
            candidate = _respell(parts, lengths)
            if self._is_known(candidate):
                return candidate
        return None

    def _is_known(self, word: str) -> bool:
        return word in self._known_words or word in self._lemma_table

    def _vocabulary(self, lexicon: dict[str, Any]) -> frozenset[str]:
        """Words the repairs may produce: the lexicon's own words plus the lemma table's lemmas."""
        words = {str(value) for value in self._lemma_table.values()}
        words.update(self._slang)
        for leaf in _string_leaves(lexicon):
            words.update(re.findall(r"[^\W\d_]+", leaf.lower()))
        return frozenset(words)

    # -- lexicon compilation ----------------------------------------------------------------

    def _add(self, rules: _RuleSet, key: str, raw: dict[str, Any]) -> None:
        patterns = [self._expand(pattern, key) for pattern in raw.get("patterns") or []]
        phrase_list = raw.get("phrases") or []
        if not patterns and not phrase_list:
            raise LexiconError(f"{key}: needs phrases or patterns")
        for pattern in patterns:
            if (
                not isinstance(pattern, list)
                or not pattern
                or not all(isinstance(token, dict) for token in pattern)
            ):
                raise LexiconError(
                    f"{key}: a pattern must be a non-empty list of token dicts, got {pattern!r}"
                )
        docs = []
        for phrase in phrase_list:
            if not isinstance(phrase, str) or not phrase.strip():
                raise LexiconError(f"{key}: phrases must be non-empty strings, got {phrase!r}")
            docs.append(self._nlp.make_doc(self.normalize(phrase)))
        rules.add(key, patterns, docs)

    def _expand(self, node: Any, key: str, attribute: str = "") -> Any:
        """Expand ``$SET`` references and reject YAML's accidental booleans and numbers.

        Only flag attributes (``IS_*``, ``LIKE_*``) take booleans; a bare ``on`` or ``911``
        anywhere else is a quoting mistake that would silently never match.
        """
        if isinstance(node, str) and node.startswith("$"):
            return self._set(node, key)
        if isinstance(node, list):
            expanded: list[Any] = []
            for item in node:
                if isinstance(item, str) and item.startswith("$"):
                    expanded.extend(self._set(item, key))
                else:
                    expanded.append(self._expand(item, key, attribute))
            return expanded
        if isinstance(node, dict):
            return {
                name: self._expand(value, key, name if name.isupper() else attribute)
                for name, value in node.items()
            }
        if isinstance(node, bool) and attribute.startswith(("IS_", "LIKE_")):
            return node
        if not isinstance(node, str):
            raise LexiconError(
                f"{key}: {node!r} in a pattern is not a string (quote on/off/no/yes and numbers in YAML)"
            )
        return node

    def _set(self, reference: str, key: str) -> list[str]:
        try:
            return self._sets[reference[1:]]
        except KeyError:
            raise LexiconError(f"{key}: unknown word set {reference}") from None


def _phrases_pattern(key: str) -> re.Pattern[str]:
    """Any phrase of the lexicon's list ``key``, as whole words, longest first."""
    words = sorted({str(w).casefold() for w in load_lexicon(LEXICON_PATH).get(key) or []})
    body = "|".join(r"\s+".join(map(re.escape, w.split())) for w in sorted(words, key=len)[::-1])
    return re.compile(rf"(?<![\w'])(?:{body})(?![\w'])")


@functools.cache
def _risk_words_pattern() -> re.Pattern[str]:
    return _phrases_pattern("risk_words")


@functools.cache
def _risk_words_except_pattern() -> re.Pattern[str]:
    return _phrases_pattern("risk_words_except")


def mentions_risk_words(text: str) -> bool:
    """Whether the text speaks of living, dying, ending or hurting (``risk_words`` in
    base.yml), once everyday recovery talk is read past (``risk_words_except``: "cutting
    back", "harm reduction"): what a classifier's crisis guess needs beside it inside a
    journal form."""
    plain = text.casefold().replace("\u2019", "'")
    plain = _risk_words_except_pattern().sub(" ", plain)
    return bool(_risk_words_pattern().search(plain))


_per_thread = threading.local()


def default_matcher() -> CrisisMatcher:
    """The matcher for the packaged lexicon, built once per thread on first use.

    Building one reads and compiles the whole lexicon (seconds of work), so callers that ask
    for it per message, like the crisis policy, must get the same one back; each thread gets
    its own because a spaCy pipeline is not meant to be shared between threads.
    """
    matcher = getattr(_per_thread, "matcher", None)
    if matcher is None:
        matcher = _per_thread.matcher = CrisisMatcher()
    return matcher


# -- helpers --------------------------------------------------------------------------------


def _repetitions(op: str | None, key: str) -> tuple[int, int]:
    """(minimum, maximum) number of tokens a pattern token with operator ``op`` consumes."""
    if op in (None, "!"):
        return 1, 1
    if op == "?":
        return 0, 1
    found = re.fullmatch(r"\{(\d*)(?:,(\d+))?\}", op)
    if found and (found.group(2) or found.group(1)):
        low = int(found.group(1) or 0)
        high = int(found.group(2)) if found.group(2) else low
        if "," not in op:
            high = low
        return low, high
    raise LexiconError(
        f"{key}: operator {op!r} is unbounded; use ?, {{n}} or {{m,n}} so matching stays linear"
    )


def _max_length(pattern: list[dict[str, Any]], key: str) -> int:
    return sum(_repetitions(token.get("OP"), key)[1] for token in pattern)


def _anchor(pattern: list[dict[str, Any]]) -> frozenset[str] | None:
    """Words one required token of the pattern must be (the least common such token), if any.

    Every match of the pattern contains a token whose lower-case form or lemma is in this
    set, so running the pattern only around such tokens finds every match.
    """
    best: tuple[tuple[int, float, int], frozenset[str]] | None = None
    for token in pattern:
        op = token.get("OP")
        if op == "!" or _repetitions(op, "anchor")[0] < 1:
            continue
        words: frozenset[str] | None = None
        for attribute in ("LOWER", "LEMMA", "ORTH", "TEXT"):
            value = token.get(attribute)
            if isinstance(value, str):
                words = frozenset({value.lower()})
            elif isinstance(value, dict) and set(value) == {"IN"}:
                words = frozenset(str(word).lower() for word in value["IN"])
            if words:
                break
        if not words:
            continue
        common = len(words & STOP_WORDS)
        score = (common, common / len(words), len(words))
        if best is None or score < best[0]:
            best = (score, words)
    return best[1] if best else None


def _respell(parts: list[str], lengths: Iterable[int]) -> str:
    """Rebuild a word split by a two-group run regex, writing run i's letter lengths[i] times.

    ``re.split`` with two groups yields: text, run, run letter, text, ..., run letter, text.
    """
    texts, letters = parts[0::3], parts[2::3]
    spelled = zip(texts, letters, lengths, strict=False)
    return "".join(text + letter * n for text, letter, n in spelled) + texts[-1]


def _merge(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        elif start < end:
            merged.append((start, end))
    return merged


def _category(name: str, spec: Any, rank: int) -> Category:
    """A category's settings from the lexicon, checked."""
    if not isinstance(spec, dict):
        raise LexiconError(f"category {name!r} must be a mapping")
    level = spec.get("level")
    if level not in LEVELS:
        raise LexiconError(f"category {name!r}: level must be one of {LEVELS}, not {level!r}")
    reply = spec.get("reply")
    if not isinstance(reply, str) or not reply:
        raise LexiconError(f"category {name!r} needs a reply kind")
    return Category(name, level, reply, rank)


def load_lexicon(path: Path) -> dict[str, Any]:
    """The lexicon as one mapping, from a single file or from a directory.

    The directory form keeps each category in its own file, so that a category's rules and the
    reasons for them can be read (and reviewed) on their own: ``base.yml`` holds the word sets,
    normalisation, time references and the categories' order (most acute first);
    ``<category>.yml`` holds that category's level, reply kind and entries, and may add word
    sets and figurative entries of its own; ``figurative.yml`` holds the shared figurative uses.
    """
    if not path.is_dir():
        return _load_yaml(path)
    base = _load_yaml(path / "base.yml")
    order = base.get("categories")
    if not isinstance(order, list) or not all(isinstance(name, str) for name in order):
        raise LexiconError(f"{path / 'base.yml'}: categories must be a list of category names")
    known = {"base", "figurative", *order}
    strays = sorted(file.name for file in path.glob("*.yml") if file.stem not in known)
    if strays:
        raise LexiconError(f"{path}: files not named in base.yml's categories: {strays}")
    sets = dict(_mapping(base, "sets"))
    figurative = list(base.get("figurative") or [])
    categories: dict[str, Any] = {}
    for name in order:
        spec = _load_yaml(path / f"{name}.yml", versioned=False)
        for set_name, words in _mapping(spec, "sets").items():
            if set_name in sets:
                raise LexiconError(f"{name}.yml: word set {set_name!r} is already defined")
            sets[set_name] = words
        figurative += spec.pop("figurative", None) or []
        spec.pop("sets", None)
        categories[name] = spec
    figurative_file = path / "figurative.yml"
    if figurative_file.exists():
        figurative += _load_yaml(figurative_file, versioned=False).get("figurative") or []
    return {**base, "sets": sets, "categories": categories, "figurative": figurative}


def _load_yaml(path: Path, *, versioned: bool = True) -> dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict) or (versioned and data.get("version") != 1):
        expected = "a mapping with version: 1" if versioned else "a mapping"
        raise LexiconError(f"{path}: expected {expected}")
    return data


def _mapping(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise LexiconError(f"{name} must be a mapping")
    return value


def _words(data: dict[str, Any], name: str) -> list[str]:
    return [_lower_word(word, name) for word in data.get(name) or []]


def _lower_word(word: Any, where: str) -> str:
    if not isinstance(word, str):
        raise LexiconError(
            f"{where}: {word!r} is not a string (quote on/off/no/yes and numbers in YAML)"
        )
    return word.lower()


def _string_leaves(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _string_leaves(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _string_leaves(value)


@functools.lru_cache(maxsize=4096)
def _clean_char(char: str) -> str:
    """Drop invisible format characters; other control or unassigned characters become spaces."""
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category in ("Zl", "Zp"):
        return "\n"
    if category in ("Cc", "Cs", "Co", "Cn"):
        return " "
    return char


def _clean_non_ascii(found: re.Match[str]) -> str:
    return _clean_char(found.group(0))


def _open_chunk(found: re.Match[str]) -> str:
    return " ".join(part for part in _CHUNK_SYMBOL.split(found.group(0)) if part)


def _double(found: re.Match[str]) -> str:
    return found.group(1) * 2


def _has_alnum(token: Token) -> bool:
    return any(char.isalnum() for char in token.text)


def _line_starts(doc: Doc, text: str) -> frozenset[int]:
    """Indices of the tokens that begin a new line of ``text``."""
    starts = set()
    previous_end = 0
    for token in doc:
        if "\n" in text[previous_end : token.idx]:
            starts.add(token.i)
        previous_end = token.idx + len(token.text)
    return frozenset(starts)


def _windows(text: str) -> Iterator[tuple[int, str]]:
    """Split very long text into overlapping windows cut at whitespace."""
    if len(text) <= _WINDOW_CHARS:
        yield 0, text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + _WINDOW_CHARS)
        if end < len(text):
            cut = text.rfind(" ", start + _WINDOW_CHARS // 2, end)
            end = cut if cut > start else end
        yield start, text[start:end]
        if end >= len(text):
            return
        next_start = text.find(" ", max(start + 1, end - _WINDOW_OVERLAP), end)
        start = next_start + 1 if next_start != -1 else end
