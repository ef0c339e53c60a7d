"""Propose the OPD for a complaint from its words (the routing half of SOP step 3).

The text is lower-cased, split on non-letters and stemmed with Sastrawi, then scored against
the city's routing rules (``routing.yaml``, see that file for the scoring), passed in. The proposal is only ever a
proposal: the operator confirms or overrides it, and when the words do not point at exactly
one OPD the decision is "triage" (``opd_code is None``) rather than a guess.

Pure: after the first call (which builds the stemmer and compiles the rules) no I/O happens.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
from Sastrawi.Stemmer.Stemmer import Stemmer
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from config.model import RoutingConfig

# Long bodies (forwarded mail threads, pasted documents) would only cost time: what a
# complaint is about is said near its start.
MAX_CHARS = 20_000
MAX_CANDIDATES = 5
_WORD_RE = re.compile(r"[a-z]+")
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where the routing rules would send a complaint, and why."""

    opd_code: str | None
    """The proposed OPD; None sends the complaint to the operator's triage queue."""
    score: float
    """The best OPD's score (0.0 when nothing matched)."""
    matched: tuple[str, ...]
    """Keywords/phrases (as written in routing.yaml) that matched, in text order. For a
    triage decision: everything that matched, for whichever OPD."""
    candidates: tuple[tuple[str, float], ...] = ()
    """Best-scoring OPDs as (code, score), highest first: the operator's short list."""

    @property
    def needs_triage(self) -> bool:
        """True when the operator must choose the OPD."""
        return self.opd_code is None


@dataclass(frozen=True, slots=True)
class _Term:
    """One keyword or phrase of one OPD, stemmed."""

    opd: str
    stems: tuple[str, ...]
    label: str
    score: float


@dataclass(frozen=True, slots=True)
class _Compiled:
    min_score: float
    by_first_stem: dict[str, tuple[_Term, ...]]


def route(text: str, rules: RoutingConfig) -> RoutingDecision:
    """Score ``text`` against the routing ``rules`` (the city config's ``routing``).

    The best OPD wins when it reaches ``min_score`` and no other OPD has the same score;
    otherwise the decision is triage (``opd_code=None``).
    """
    compiled = _compile(rules)
    stems = [stem_word(word) for word in tokens(text[:MAX_CHARS])]

    scores: dict[str, float] = defaultdict(float)
    matched: dict[str, list[str]] = defaultdict(list)
    in_order: list[str] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for index, stem in enumerate(stems):
        for term in compiled.by_first_stem.get(stem, ()):
            key = (term.opd, term.stems)
            # A term counts once however often it is repeated: ranting about the
            # "sampah" ten times does not outweigh one precise phrase.
            if key in seen or tuple(stems[index : index + len(term.stems)]) != term.stems:
                continue
            seen.add(key)
            scores[term.opd] += term.score
            matched[term.opd].append(term.label)
            if term.label not in in_order:
                in_order.append(term.label)

    ranked = sorted(((opd, round(score, 6)) for opd, score in scores.items()), key=lambda item: (-item[1], item[0]))
    candidates = tuple(ranked[:MAX_CANDIDATES])
    if not ranked:
        return RoutingDecision(None, 0.0, ())
    best, top = ranked[0]
    tied = len(ranked) > 1 and ranked[1][1] >= top - _EPSILON
    if tied or top < compiled.min_score - _EPSILON:
        return RoutingDecision(None, top, tuple(in_order), candidates)
    return RoutingDecision(best, top, tuple(matched[best]), candidates)


def tokens(text: str) -> list[str]:
    """Lower-case ASCII words of ``text``; accents folded ("café" -> "cafe"), split on non-letters."""
    folded = unicodedata.normalize("NFKD", text.lower())
    return _WORD_RE.findall(folded.encode("ascii", "ignore").decode("ascii"))


@lru_cache(maxsize=50_000)
def stem_word(word: str) -> str:
    """Sastrawi stem of one lower-case word ("menumpuk" -> "tumpuk"); cached, stemming is slow."""
    return _stemmer().stem(word) or word


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer:
    # StemmerFactory.create_stemmer() wraps the stemmer in a cache that never forgets a word;
    # fed with text from the public that grows without bound. We take the factory's
    # dictionary and cache through stem_word's bounded lru_cache instead.
    return Stemmer(ArrayDictionary(StemmerFactory().get_words()))


@lru_cache(maxsize=8)
def _compile(rules: RoutingConfig) -> _Compiled:
    """Stem every keyword and phrase once, indexed by first stem for a single pass over the text."""
    best: dict[tuple[str, tuple[str, ...]], _Term] = {}
    for rule in rules.rules:
        for raw, factor in [(k, 1.0) for k in rule.keywords] + [(p, rules.phrase_weight) for p in rule.phrases]:
            stems = tuple(stem_word(word) for word in tokens(raw))
            if not stems:
                raise ValueError(f"routing rule for {rule.opd!r}: {raw!r} has no letters")
            term = _Term(rule.opd, stems, raw, rule.weight * factor)
            # Two spellings with one stem ("kebakaran", "terbakar") are one term; keep the
            # higher score if rules of one OPD disagree.
            key = (rule.opd, stems)
            if key not in best or best[key].score < term.score:
                best[key] = term
    index: dict[str, list[_Term]] = defaultdict(list)
    for term in best.values():
        index[term.stems[0]].append(term)
    return _Compiled(rules.min_score, {stem: tuple(terms) for stem, terms in index.items()})
