"""Decides whether a cached question means the same as a new one (semantic cache).

MiniLM cosine cannot: "Celsius to Fahrenheit" / "Fahrenheit to Celsius" score 0.998,
swapped roles 0.999, negations > 0.99. So the best candidate must also pass a lexical
proof: (1) normalise both texts (case, contractions, numbers, filler, request
scaffolds); (2) align every word with a word of the other text (same stem, listed
synonym, compound, or a typo of a dictionary word) - one word left over refuses the
hit, which catches entity, number, unit, negation, antonym, scope, operation, format,
audience, language and version changes; (3) a thing counted as one on one side ("a file")
is not plural on the other ("files"); (4) the aligned words keep their order, except
one prepositional phrase or edge clause that may move. Conservative on purpose: a refused
paraphrase costs one upstream call, a wrong hit serves a wrong answer. Pure Python,
0.02-0.3 ms a pair, no model call. Details and measurements: docs/semantic-cache.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apps.cache.wording import (
    CODE_PATTERN,
    Word,
    analyse,
    counted_as_one,
    is_plural_of,
    tables,
    word_frequencies,
    word_key,
)

# Cosine gate before the lexical proof. The verifier keeps precision at 1.0 down to 0.60
# on both benchmark sets; 0.75 keeps cosine as a second line of defence while letting
# typos (which MiniLM scores 0.6-0.8) reach the verifier. See docs/semantic-cache.md.
DEFAULT_THRESHOLD = 0.75


@dataclass(frozen=True)
class Verdict:
    """Decision plus a short reason, for logs and the benchmark's error analysis."""

    same: bool
    reason: str



def same_meaning(query: str, candidate: str, *, similarity: float,
                 threshold: float = DEFAULT_THRESHOLD) -> bool:
    """True only if `candidate` (cached) can answer `query`: cosine gate + lexical proof."""
    return verify(query, candidate, similarity=similarity, threshold=threshold).same


def verify(query: str, candidate: str, *, similarity: float,
           threshold: float = DEFAULT_THRESHOLD) -> Verdict:
    """Like same_meaning, with the reason (for logs)."""
    if similarity < threshold:
        return Verdict(False, f"similarity {similarity:.3f} below {threshold:.2f}")
    return compare(query, candidate)


def compare(query: str, candidate: str) -> Verdict:
    """The lexical proof alone (no cosine gate)."""
    if CODE_PATTERN.search(query) or CODE_PATTERN.search(candidate):
        same = query.strip() == candidate.strip()  # indentation can change the program
        return Verdict(same, "identical code" if same else "code differs")
    a, b = analyse(query), analyse(candidate)
    if not a or not b:  # only greetings/filler left: nothing to prove
        same = _squash(query) == _squash(candidate)
        return Verdict(same, "identical" if same else "nothing to compare")
    if [w.key for w in a] == [w.key for w in b]:
        problem = number_problem(query, candidate, list(a), list(b), [(k, k) for k in range(len(a))])
        return Verdict(not problem, problem or "same after normalisation")
    al = align(a, b)
    if al.left_a or al.left_b:
        return Verdict(False, f"unmatched: {_show(al.left_a)} / {_show(al.left_b)}")
    problem = (order_problem(al.pairs, al.a, al.b)
               or number_problem(query, candidate, al.a, al.b, al.pairs))
    return Verdict(not problem, problem or "aligned")


def number_problem(query: str, candidate: str, a: list[Word], b: list[Word],
                   pairs: list[tuple[int, int]]) -> str:
    """'' unless one text counts a thing as one ("a file") and the other as several ("files")."""
    one_a, one_b = counted_as_one(query), counted_as_one(candidate)
    for i, j in pairs:
        x, y = a[i].raw, b[j].raw
        if (x in one_a and is_plural_of(y, x)) or (y in one_b and is_plural_of(x, y)):
            return f"one vs several: {x} / {y}"
    return ""


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def _show(words: list[Word]) -> str:
    return " ".join(w.raw for w in words) or "-"


# ---------------------------------------------------------------- alignment

@dataclass
class Alignment:
    a: list[Word]  # words after joining compounds
    b: list[Word]
    pairs: list[tuple[int, int]]  # (index in a, index in b), sorted
    left_a: list[Word]
    left_b: list[Word]


def align(a: tuple[Word, ...], b: tuple[Word, ...]) -> Alignment:
    """One-to-one word pairs plus the words left unmatched on each side."""
    a, b = _merge_compounds(a, b), _merge_compounds(b, a)
    pairs: list[tuple[int, int]] = []
    used: set[int] = set()
    free: list[int] = []
    where: dict[str, list[int]] = {}
    for j, wb in enumerate(b):
        where.setdefault(wb.key, []).append(j)
    for i, wa in enumerate(a):  # same key; among repeats, the one whose neighbours agree
        options = [j for j in where.get(wa.key, ()) if j not in used]
        if options:
            j = max(options, key=lambda j: (_context(a, i, b, j), -j))
            pairs.append((i, j))
            used.add(j)
        else:
            free.append(i)
    left_a: list[Word] = []
    free_b = [j for j in range(len(b)) if j not in used]
    for i in free:  # then typos, nearest position first
        options = [j for j in free_b if j not in used and _typo_pair(a[i], b[j])]
        if options:
            j = min(options, key=lambda j: abs(j - i))
            pairs.append((i, j))
            used.add(j)
        else:
            left_a.append(a[i])
    left_b = [wb for j, wb in enumerate(b) if j not in used]
    return Alignment(a, b, sorted(pairs), left_a, left_b)


def _context(a: list[Word], i: int, b: list[Word], j: int) -> int:
    """Neighbours that agree: picks the right "in" of "in bash ... in a directory"."""
    return sum(1 for d in (-1, 1) if 0 <= i + d < len(a) and 0 <= j + d < len(b)
               and a[i + d].key == b[j + d].key)


def _merge_compounds(words: tuple[Word, ...], other: tuple[Word, ...]) -> list[Word]:
    """Join "e mail" into "email" when the other text has the joined word."""
    joined = {w.raw for w in other}
    out: list[Word] = []
    i = 0
    while i < len(words):
        w = words[i]
        if i + 1 < len(words) and w.raw + words[i + 1].raw in joined:
            raw = w.raw + words[i + 1].raw
            out.append(Word(raw, word_key(raw), w.clause_start, words[i + 1].clause_end,
                            w.name or words[i + 1].name))
            i += 2
        else:
            out.append(Word(w.raw, w.key, w.clause_start, w.clause_end, w.name))
            i += 1
    return out


def _typo_pair(x: Word, y: Word) -> bool:
    """A typo, unless the misspelt-looking side was written as a name: "Nuxt" is not "next"."""
    if not is_typo(x.raw, y.raw):
        return False
    freq = word_frequencies()
    rarer = x if freq.get(x.raw, 0) <= freq.get(y.raw, 0) else y
    return not rarer.name


def is_typo(x: str, y: str) -> bool:
    """One edit apart, same first letter, and one of them is not a real word (or a rare one)."""
    if x == y or min(len(x), len(y)) < 4 or not (x.isalpha() and y.isalpha()):
        return False
    if x[0] != y[0] or abs(len(x) - len(y)) > 1 or _osa_distance(x, y) != 1:
        return False
    freq = word_frequencies()
    if not freq:  # without a dictionary we cannot tell: refuse
        return False
    rare, common = sorted((freq.get(x, 0), freq.get(y, 0)))
    # A non-word next to a real word is a typo ("lsit"/"list"), and so is a rare word
    # next to a very common one ("oder"/"order"); two real words ("capitol"/"capital",
    # "yoke"/"yolk") are different words, and two unknown ones may be two product names.
    if rare == 0:
        return common >= 20
    return rare < 200 and common >= 100 * rare


def _osa_distance(x: str, y: str) -> int:
    """Damerau-Levenshtein (optimal string alignment): a transposition costs 1."""
    prev2: list[int] = []
    prev = list(range(len(y) + 1))
    for i in range(1, len(x) + 1):
        cur = [i] + [0] * len(y)
        for j in range(1, len(y) + 1):
            cost = 0 if x[i - 1] == y[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and x[i - 1] == y[j - 2] and x[i - 2] == y[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


# ---------------------------------------------------------------- word order

def order_problem(pairs: list[tuple[int, int]], a: list[Word], b: list[Word]) -> str:
    """'' if the aligned words keep their order (or one movable block moved), else why not."""
    pairs = sorted(p for p in pairs if not _floating_not(p, pairs, a, b))
    by_b = sorted(range(len(pairs)), key=lambda k: pairs[k][1])
    perm = [0] * len(pairs)  # perm[k]: rank in b of the k-th aligned word of a
    for rank, k in enumerate(by_b):
        perm[k] = rank
    runs = _runs(perm)
    if len(runs) == 1:
        return ""
    if perm[runs[0][0]] == 0:  # leading words that did not move
        runs = runs[1:]
    if runs and perm[runs[-1][1]] == len(perm) - 1:  # trailing words that did not move
        runs = runs[:-1]
    if len(runs) == 2 and perm[runs[0][0]] == perm[runs[1][1]] + 1:  # two blocks swapped
        for s, e in runs:
            (ia, ib), (ja, jb) = pairs[s], pairs[e]
            if _movable(a, ia, ja) or _movable(b, min(ib, jb), max(ib, jb)):
                return ""
    moved = [a[i].raw for k, (i, _) in enumerate(pairs) if perm[k] != k]
    return "word order differs: " + " ".join(moved[:6])


def _floating_not(pair: tuple[int, int], pairs: list[tuple[int, int]],
                  a: list[Word], b: list[Word]) -> bool:
    """ "will not my car start" = "will my car not start": a "not" right after an
    auxiliary may sit 1-3 words later in the other text, after a subject."""
    i, j = pair
    if a[i].key != "not":
        return False
    words = tables().words
    b_to_a = {jj: ii for ii, jj in pairs}
    for x, y, y_to_x, xs, ys in ((i, j, b_to_a, a, b), (j, i, dict(pairs), b, a)):
        if x == 0 or y == 0 or x + 1 >= len(xs) or xs[x - 1].raw not in words["aux"]:
            continue
        # Never over an adjective: "are not safe to eat" is not "are safe not to eat".
        prev = y_to_x.get(y - 1)
        if prev is not None and x < prev <= x + 3 and xs[x + 1].raw in words["subject_starts"]:
            return True
    return False


def _runs(perm: list[int]) -> list[tuple[int, int]]:
    """Maximal stretches where the permutation counts up by one: (start, end) positions."""
    runs: list[tuple[int, int]] = []
    start = 0
    for k in range(1, len(perm) + 1):
        if k == len(perm) or perm[k] != perm[k - 1] + 1:
            runs.append((start, k - 1))
            start = k
    return runs


def _movable(words: list[Word], start: int, end: int) -> bool:
    """A block may move if it is a prepositional phrase or a whole clause at an edge."""
    w = tables().words
    at_edge = start == 0 or end == len(words) - 1
    if words[start].raw in w["movable_heads"]:
        # A phrase with its object; a lone preposition only from before an opening
        # wh-word ("At what temperature ..." = "What temperature ... at?").
        return end > start or (start == 0 and len(words) > 1 and words[1].key in w["wh_words"])
    # "Step by step, explain X" = "explain X step by step"; but two inner clauses
    # swapping ("A (B)" vs "B (A)") change who is who, and so do lone numbers.
    whole_clause = (start == 0 or words[start].clause_start) and (
        end == len(words) - 1 or words[end].clause_end)
    long_enough = end > start and not all(x.raw[0].isdigit() for x in words[start:end + 1])
    return whole_clause and at_edge and long_enough
