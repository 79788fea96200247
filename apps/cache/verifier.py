"""Decides whether a cached question means the same as a new one (semantic cache).

MiniLM cosine cannot: "Celsius to Fahrenheit" / "Fahrenheit to Celsius" score 0.998,
swapped roles 0.999, negations > 0.99. So the best candidate must also pass a lexical
proof: (1) normalise both texts (case, contractions, numbers, filler, request
scaffolds); (2) align every word with a word of the other text (same stem, listed
synonym, compound, or a typo of a dictionary word) - one word left over refuses the
hit, which catches entity, number, unit, negation, antonym, scope, operation, format,
audience, language and version changes; (3) the aligned words keep their order, except
one prepositional phrase or edge clause that may move. Conservative on purpose: a refused
paraphrase costs one upstream call, a wrong hit serves a wrong answer. Pure Python,
0.02-0.3 ms a pair, no model call. Details and measurements: docs/semantic-cache.md.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")

# Cosine gate before the lexical proof. The verifier keeps precision at 1.0 down to 0.60
# on both benchmark sets; 0.75 keeps cosine as a second line of defence while letting
# typos (which MiniLM scores 0.6-0.8) reach the verifier. See docs/semantic-cache.md.
DEFAULT_THRESHOLD = 0.75

BOUNDARY, COLON = "|", "¦"  # a clause after a colon is usually data: "Translate: thank you"
_QUOTE_CHARS = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"', "´": "'"})
_NT = re.compile(r"\b(\w+)n't\b")
_APOS_S = re.compile(r"\b(\w+)'s\b")
_CLITICS = [(re.compile(rf"(?<=\w)'{c}\b"), full) for c, full in
            (("re", " are"), ("m", " am"), ("ll", " will"), ("ve", " have"), ("d", " would"))]
_QUOTED = re.compile(r'"([^"]*)"|(?<!\w)\'([^\']*)\'(?!\w)')
_DIGIT_COMMA = re.compile(r"(\d),(?=\d{3}\b)")
_CURRENCY = re.compile(r"([$€£¥])\s?(\d[\d.]*)")
_SYMBOLS = {"<": "lt", ">": "gt", "*": "star", "^": "caret", "~": "tilde", "|": "pipe",
            "\\": "backslash", "@": "atsign", "#": "hash", "%": "percent", "&": "and",
            "+": "plus", "=": "equals"}  # in code and maths a symbol is a word
_CODE = re.compile(r"```|\n[ \t]+\S")  # fenced or indented: whitespace may be syntax
_BREAKS = re.compile(r"[,;!?()\[\]{}…]|\s-+\s|\s-+$|^-+\s|\.(?!\w)|--+")
_TOKEN = re.compile(  # numbers, words, then any other symbol (emoji too) as a word of its own
    r"\d+(?:\.\d+)*(?:st|nd|rd|th|s)?(?![^\W_])|\d+(?:\.\d+)*|[^\W\d_]+|[^\w\s.\-'\"]")


@dataclass(frozen=True)
class Verdict:
    """Decision plus a short reason, for logs and the benchmark's error analysis."""

    same: bool
    reason: str


@dataclass
class Word:
    raw: str
    key: str  # stem, or its synonym group's stem
    clause_start: bool = False
    clause_end: bool = False


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
    if _CODE.search(query) or _CODE.search(candidate):
        same = query.strip() == candidate.strip()  # indentation can change the program
        return Verdict(same, "identical code" if same else "code differs")
    a, b = analyse(query), analyse(candidate)
    if not a or not b:  # only greetings/filler left: nothing to prove
        same = _squash(query) == _squash(candidate)
        return Verdict(same, "identical" if same else "nothing to compare")
    if [w.key for w in a] == [w.key for w in b]:
        return Verdict(True, "same after normalisation")
    al = align(a, b)
    if al.left_a or al.left_b:
        return Verdict(False, f"unmatched: {_show(al.left_a)} / {_show(al.left_b)}")
    problem = order_problem(al.pairs, al.a, al.b)
    return Verdict(not problem, problem or "aligned")


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", text.lower())


def _show(words: list[Word]) -> str:
    return " ".join(w.raw for w in words) or "-"


# ---------------------------------------------------------------- normalisation

@functools.lru_cache(maxsize=4096)
def analyse(text: str) -> tuple[Word, ...]:
    """The content words of a text, normalised (cached: the same texts recur)."""
    tokens = _numbers(_tokens(_prepare(text)))
    tokens = _rewrite_phrases(tokens, _lexicon().phrases)
    return _words(_strip_clauses(tokens))


def _prepare(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).replace("``", '"').replace("''", '"')
    t = t.translate(_QUOTE_CHARS)
    tables = _tables()
    for pattern, repl in tables.rewrites_before_lowercase:
        t = pattern.sub(repl, t)
    t = t.lower()
    for pattern, repl in tables.rewrites:
        t = pattern.sub(repl, t)
    slang = _tables().words["slang"]
    t = re.sub(r"\b[a-z]+\b", lambda m: slang.get(m[0], m[0]), t)
    return _expand(t)


def _expand(t: str) -> str:
    """Contractions, quotes, digits and symbols into plain words."""
    w = _tables().words
    t = re.sub(r"(?<=\w) +'s\b", "'s", t)  # "Loyang 's team" (pre-tokenised text)
    t = t.replace("cannot", "can not").replace("let's", "let us")
    # "isn't it" -> "is it not", so it lines up with the uncontracted question.
    t = re.sub(rf"\b(\w+)n't\s+({'|'.join(w['inverting_pronouns'])})\b",
               lambda m: f"{_aux(m[1])} {m[2]} not", t)
    t = _NT.sub(lambda m: f"{_aux(m[1])} not", t)
    for clitic, full in _CLITICS:
        t = clitic.sub(full, t)
    t = _APOS_S.sub(lambda m: f"{m[1]} is" if m[1] in w["s_means_is"] else m[1], t)
    t = _QUOTED.sub(_quote, t.replace("s' ", "s "))
    t = _DIGIT_COMMA.sub(r"\1", _DIGIT_COMMA.sub(r"\1", t))
    t = _CURRENCY.sub(lambda m: f" {m[2]} {w['currency'][m[1]]} ", t)
    t = re.sub(r"(?<!\w)-(?=\d)", " minus ", t)  # -5 is not 5
    t = re.sub(r"[<>*^~|\\@#%&+=]", lambda m: f" {_SYMBOLS[m[0]]} ", t)
    return t.replace("/", " ")


def _aux(stem: str) -> str:
    return {"wo": "will", "ca": "can", "sha": "shall"}.get(stem, stem)


def _quote(m: re.Match) -> str:
    """Quoted words are data, not request: marked so no filler/scaffold rule touches them."""
    inner = m[1] if m[1] is not None else m[2]
    return " " + re.sub(r"[^\W\d_]+", lambda w: "q" + w[0], inner) + " "


def _tokens(t: str) -> list[str]:
    t = _BREAKS.sub(f" {BOUNDARY} ", t).replace(":", f" {COLON} ")
    return _TOKEN.findall(t)


def _numbers(tokens: list[str]) -> list[str]:
    """Number words to digits ("twenty-one" = "21"); ordinals and roman numerals too."""
    n = _tables().numbers
    out: list[str] = []
    value: int | None = None
    for i, tok in enumerate(tokens):
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if value is not None and tok in n.scales:
            value *= n.scales[tok]
            continue
        if tok in n.cardinals and (value is None or (value % 10 == 0 and 20 <= value % 100
                                                     and n.cardinals[tok] < 10)):
            value = (value or 0) + n.cardinals[tok]
            continue
        if value is not None:
            out.append(str(value))
            value = None
        if tok == "a" and nxt in ("dozen", "hundred", "thousand", "million"):
            value = 0 if nxt == "dozen" else 1
            continue
        tok = n.ordinals.get(tok, n.roman.get(tok, tok))
        out.append("1" if tok == "i" and out[-1:] == ["war"] else tok)
    if value is not None:
        out.append(str(value))
    return out


def _prefix(tokens: list[str], table: dict | set, shortest: int = 1) -> int:
    """Length of the longest phrase of `table` that `tokens` starts with (0: none)."""
    for n in range(min(_lexicon().longest, len(tokens)), shortest - 1, -1):
        if tuple(tokens[:n]) in table:
            return n
    return 0


def _rewrite_phrases(tokens: list[str], phrases: dict[tuple[str, ...], str]) -> list[str]:
    """Multi-word synonyms to their group's first word, longest match first."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        n = _prefix(tokens[i:], phrases, shortest=2)
        out.append(phrases[tuple(tokens[i:i + n])] if n else tokens[i])
        i += n or 1
    return out


def _strip_clauses(tokens: list[str]) -> list[str]:
    """Drop filler and rewrite scaffolds at the edges of every clause.

    A clause after a colon is kept verbatim once the request has begun: it is
    usually data ("Translate to Korean: thank you"), where "thank you" is content.
    """
    lex = _lexicon()
    clauses: list[tuple[bool, list[str]]] = [(False, [])]
    for tok in tokens:
        if tok in (BOUNDARY, COLON):
            clauses.append((tok == COLON, []))
        elif tok not in lex.anywhere:
            clauses[-1][1].append(tok)
    out: list[str] = []
    for after_colon, clause in clauses:
        if not after_colon or not out:  # "Quick question: how do I ..." is the request
            clause = _strip_edges(clause, lex.edge)
            clause = _scaffold(clause, lex.scaffolds)
            clause = _strip_edges(clause, lex.edge)
        drop, aux = _tables().words["droppable"], _tables().words["aux"]
        clause = [t for k, t in enumerate(clause) if t not in drop or (
            t in aux and "not" in clause[k + 1:k + 5])]  # keep "does" of "does it not"
        if clause:
            out.extend(clause + [BOUNDARY])
    return out


def _strip_edges(clause: list[str], edge: set[tuple[str, ...]]) -> list[str]:
    while clause:
        n = _prefix(clause, edge)
        if n:
            clause = clause[n:]
            continue
        n = _prefix(clause[::-1], _lexicon().edge_reversed)
        if not n:
            return clause
        clause = clause[:-n]
    return clause


def _scaffold(clause: list[str], scaffolds: dict[tuple[str, ...], str]) -> list[str]:
    n = _prefix(clause, scaffolds)
    if not n:
        return clause
    canon, rest = scaffolds[tuple(clause[:n])], clause[n:]
    if canon in _tables().words["wh_scaffolds"] and len(rest) >= 2 and rest[-1] in ("is", "are"):
        # Embedded question: "tell me what the speed of light is" = "what is ...".
        return _scaffold([canon, rest[-1]] + rest[:-1], scaffolds)
    if canon in ("info", "give"):
        # "What is a fruit?" (definition) differs from "Name a fruit" (instance).
        if rest[:1] in (["a"], ["an"]):
            return ["define" if canon == "info" else "give"] + rest
        return rest
    return [canon] + rest


def _words(tokens: list[str]) -> tuple[Word, ...]:
    words: list[Word] = []
    start = True
    for tok in tokens:
        if tok == BOUNDARY:
            if words:
                words[-1].clause_end = True
            start = True
        else:
            words.append(Word(raw=tok, key=_key(tok), clause_start=start))
            start = False
    return tuple(words)


def _key(word: str) -> str:
    stem = stem_word(word)
    return _lexicon().synonyms.get(stem, stem)


def stem_word(w: str) -> str:
    """Light inflection stripping: equal stems for list/lists, start/started, make/making."""
    irregular = _tables().words["irregular"]
    if w in irregular:
        return irregular[w]
    if len(w) < 4 or not w.isalpha():
        return w
    if w.endswith("ing") and len(w) >= 6 and re.search(r"[aeiouy]", w[:-3]):
        w = w[:-3]
    elif w.endswith(("ied", "ies")) and len(w) >= 5:
        w = w[:-3] + "y"
    elif w.endswith("ed") and len(w) >= 6:
        w = w[:-2]
    elif w.endswith(("ches", "shes", "xes", "sses", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouslz":
        w = w[:-1]  # stopp(ed) -> stop
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]  # make/making, file/files
    if len(w) >= 3 and w.endswith("y"):
        w = w[:-1] + "i"  # try/tried
    return w


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
        options = [j for j in free_b if j not in used and is_typo(a[i].raw, b[j].raw)]
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
            out.append(Word(raw, _key(raw), w.clause_start, words[i + 1].clause_end))
            i += 2
        else:
            out.append(Word(w.raw, w.key, w.clause_start, w.clause_end))
            i += 1
    return out


def is_typo(x: str, y: str) -> bool:
    """One edit apart, same first letter, and one of them is not a real word (or a rare one)."""
    if x == y or min(len(x), len(y)) < 4 or not (x.isalpha() and y.isalpha()):
        return False
    if x[0] != y[0] or abs(len(x) - len(y)) > 1 or _osa_distance(x, y) != 1:
        return False
    freq = _word_freq()
    never = _tables().words["never_typos"]
    if not freq or x in never or y in never:  # without a dictionary we cannot tell: refuse
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
    words = _tables().words
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
    w = _tables().words
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


# ---------------------------------------------------------------- lexicon

@dataclass
class Numbers:
    cardinals: dict[str, int]
    scales: dict[str, int]
    ordinals: dict[str, str]
    roman: dict[str, str]


@dataclass
class Tables:
    words: dict  # closed word classes from data/words.json (lists become frozensets)
    numbers: Numbers
    rewrites_before_lowercase: list[tuple[re.Pattern, str]]
    rewrites: list[tuple[re.Pattern, str]]


@dataclass
class Lexicon:
    synonyms: dict[str, str]
    phrases: dict[tuple[str, ...], str]
    edge: set[tuple[str, ...]]
    edge_reversed: set[tuple[str, ...]]  # to strip filler at the end of a clause
    anywhere: set[str]
    scaffolds: dict[tuple[str, ...], str]
    longest: int = 1  # words in the longest phrase of any table


@functools.lru_cache(maxsize=1)
def _tables() -> Tables:
    raw = json.loads((DATA_DIR / "words.json").read_text(encoding="utf-8"))
    cardinals = {w: i for i, w in enumerate(raw["units"])}
    cardinals.update({w: 10 * i for i, w in enumerate(raw["tens"], start=2)})
    cardinals["dozen"] = 12
    ordinals = {w: f"{i}{_ordinal_suffix(i)}" for i, w in enumerate(raw["ordinals"], start=1)}
    words = {k: frozenset(v) if isinstance(v, list) and not k.startswith("rewrites") else v
             for k, v in raw.items()}
    compiled = {name: [(re.compile(p), r) for p, r in raw[name]]
                for name in ("rewrites_before_lowercase", "rewrites")}
    return Tables(words, Numbers(cardinals, raw["scales"], ordinals, raw["roman"]), **compiled)


def _ordinal_suffix(i: int) -> str:
    return "th" if 10 <= i % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(i % 10, "th")


def _data_lines(name: str) -> list[str]:
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(_numbers(_tokens(_expand(text.strip().lower()))))


@functools.lru_cache(maxsize=1)
def _lexicon() -> Lexicon:
    """Synonyms, fillers and scaffolds, tokenised exactly like the texts they match."""
    lex = Lexicon({}, {}, set(), set(), set(), {})
    for line in _data_lines("synonyms.txt"):
        group = [_phrase(item) for item in line.split(",")]
        head = group[0][0]
        for item in group:
            if len(item) == 1:
                lex.synonyms[stem_word(item[0])] = stem_word(head)
            else:  # rewritten to the group's first word
                lex.phrases[item] = head
    for line in _data_lines("fillers.txt"):
        kind, _, items = line.partition(":")
        for item in items.split("|"):
            if kind == "edge":
                lex.edge.add(_phrase(item))
            else:
                lex.anywhere.add(item.strip())
    for line in _data_lines("scaffolds.txt"):
        canon, _, items = line.partition(":")
        for item in items.split("|"):
            lex.scaffolds[_phrase(item)] = canon.strip()
    lex.edge_reversed = {p[::-1] for p in lex.edge}
    lex.longest = max(len(p) for table in (lex.phrases, lex.edge, lex.scaffolds) for p in table)
    return lex


@functools.lru_cache(maxsize=1)
def _word_freq() -> dict[str, int]:
    """English word frequencies from pyspellchecker's bundled dictionary (no network)."""
    try:
        import spellchecker
    except ImportError:
        return {}
    path = Path(spellchecker.__file__).with_name("resources") / "en.json.gz"
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return json.load(fh)
    except OSError:
        return {}
