"""Normalising text into comparable words for the semantic-cache verifier.

`analyse(text)` lowers case, expands contractions, spells numbers one way, drops filler
and request scaffolds ("can you please tell me"), splits clauses, and gives each word a
key (its stem, or its synonym group's stem). The word tables live in data/. verifier.py
aligns and orders the words of two texts.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import unicodedata
from array import array
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).with_name("data")

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
CODE_PATTERN = re.compile(r"```|\n[ \t]+\S")  # fenced or indented: whitespace may be syntax
_BREAKS = re.compile(r"[,;!?()\[\]{}…]|\s-+\s|\s-+$|^-+\s|\.(?!\w)|--+")
_WORD = re.compile(r"[^\W\d_]+")
# A unit after a number keeps its case when case is its meaning: 100 Mb (bits) is not
# 100 MB (bytes), 5 mW is not 5 MW. "Mb" -> "mbul" (upper, lower) after lowercasing.
_CASED_UNIT = re.compile(r"(?<=\d)(\s?)([A-Za-z]{1,4})(?![A-Za-z])")
_TOKEN = re.compile(  # numbers, words, then any other symbol (emoji too) as a word of its own
    r"\d+(?:\.\d+)*(?:st|nd|rd|th|s)?(?![^\W_])|\d+(?:\.\d+)*|[^\W\d_]+|[^\w\s.\-'\"]")



@dataclass(slots=True)  # thousands are cached (analyse): a __dict__ each would double them
class Word:
    raw: str
    key: str  # stem, or its synonym group's stem
    clause_start: bool = False
    clause_end: bool = False
    name: bool = False  # written Capitalised mid-sentence or in CAPITALS: a name, not a typo



# ---------------------------------------------------------------- normalisation

CACHED_TEXT_CHARS = 300  # texts up to this long are cached (the ones that recur: questions)
CACHED_TEXTS = 4096


def short_texts_cached(function):
    """An LRU cache of `function(text)` for short texts only: a semantic text may be 2,000
    characters, whose analysis is ~80 KB, so 4,096 long texts would hold ~300 MB per worker
    (4,096 short ones: ~9 MB, docs/benchmarks.md)."""
    cached = functools.lru_cache(maxsize=CACHED_TEXTS)(function)

    @functools.wraps(function)
    def call(text: str):
        return cached(text) if len(text) <= CACHED_TEXT_CHARS else function(text)

    call.cache_clear = cached.cache_clear
    call.cache_info = cached.cache_info
    return call


@short_texts_cached
def analyse(text: str) -> tuple[Word, ...]:
    """The content words of a text, normalised (cached: the same texts recur)."""
    tokens = _numbers(_tokens(_prepare(text)))
    tokens = _rewrite_phrases(tokens, _lexicon().phrases)
    return _words(_strip_clauses(tokens), names(text))


@short_texts_cached
def names(text: str) -> frozenset[str]:
    """Words written as names: in CAPITALS, or Capitalised anywhere but a sentence start."""
    found = set()
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        word, before = m[0], text[:m.start()].rstrip(" \"'(")
        sentence_start = not before or before[-1] in ".!?:\n"
        if (len(word) > 1 and word.isupper()) or (word[0].isupper() and not sentence_start):
            found.add(word.lower())
    return frozenset(found)


@short_texts_cached
def counted_as_one(text: str) -> frozenset[str]:
    """Words after a singular determiner ("a file", "one fun fact", "this row"): against
    a plural in the other text they change the scope ("rename a file" / "rename files")."""
    tokens = _numbers(_tokens(_prepare(text)))
    stops = tables().words["phrase_ends"]
    found: set[str] = set()
    for k, tok in enumerate(tokens):
        if tok in tables().words["singular_determiners"]:
            for nxt in tokens[k + 1:k + 4]:
                if nxt in stops or nxt in (BOUNDARY, COLON):
                    break
                found.add(nxt)
    return frozenset(found)


def is_plural_of(plural: str, single: str) -> bool:
    """ "files"/"file", "boxes"/"box", "puppies"/"puppy", "children"/"child"."""
    irregular = tables().words["irregular"]
    if plural in irregular and plural != single:
        return irregular[plural] == single
    return plural.endswith("s") and not single.endswith("s") and plural.startswith(single[:-1])


def _prepare(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).replace("``", '"').replace("''", '"')
    t = t.translate(_QUOTE_CHARS)
    table = tables()
    for pattern, repl in table.rewrites_before_lowercase:
        t = pattern.sub(repl, t)
    t = _CASED_UNIT.sub(_cased_unit, t).lower()
    for pattern, repl in table.rewrites:
        t = pattern.sub(repl, t)
    slang = table.words["slang"]
    t = re.sub(r"\b[a-z]+\b", lambda m: slang.get(m[0], m[0]), t)
    return _expand(t)


def _cased_unit(m: re.Match) -> str:
    unit = m[2]
    if not any(c.isupper() for c in unit[1:]) and not (len(unit) <= 2 and unit != unit.lower()):
        return m[0]  # "100 Days", "3 kg": case carries nothing
    return m[1] + unit + "".join("u" if c.isupper() else "l" for c in unit)


def _expand(t: str) -> str:
    """Contractions, quotes, digits and symbols into plain words."""
    w = tables().words
    t = re.sub(r"(?<=\w) +'s\b", "'s", t)  # pre-tokenised text writes "John 's"
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
    n = tables().numbers
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
        out.append(tok)
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
        drop, aux = tables().words["droppable"], tables().words["aux"]
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
    if canon in tables().words["wh_scaffolds"] and len(rest) >= 2 and rest[-1] in ("is", "are"):
        # Embedded question: "tell me what the speed of light is" = "what is ...".
        return _scaffold([canon, rest[-1]] + rest[:-1], scaffolds)
    if canon in ("info", "give"):
        # "What is a fruit?" (definition) differs from "Name a fruit" (instance).
        if rest[:1] in (["a"], ["an"]):
            return ["define" if canon == "info" else "give"] + rest
        return rest
    return [canon] + rest


def _words(tokens: list[str], name_words: frozenset[str] = frozenset()) -> tuple[Word, ...]:
    words: list[Word] = []
    start = True
    for tok in tokens:
        if tok == BOUNDARY:
            if words:
                words[-1].clause_end = True
            start = True
        else:
            words.append(Word(raw=tok, key=word_key(tok), clause_start=start,
                              name=tok in name_words))
            start = False
    return tuple(words)


def word_key(word: str) -> str:
    stem = stem_word(word)
    return _lexicon().synonyms.get(stem, stem)


def stem_word(w: str) -> str:
    """Light inflection stripping: equal stems for list/lists, start/started, make/making."""
    irregular = tables().words["irregular"]
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
    elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and _is_word(w[:-1]):
        w = w[:-1]  # only a real word's plural: LDAPS is not LDAP, HTTPS not HTTP
    if len(w) >= 4 and w[-1] == w[-2] and w[-1] not in "aeiouslz":
        w = w[:-1]  # stopp(ed) -> stop
    if len(w) >= 4 and w.endswith("e"):
        w = w[:-1]  # make/making, file/files
    if len(w) >= 3 and w.endswith("y"):
        w = w[:-1] + "i"  # try/tried
    return w


def _is_word(w: str) -> bool:
    return word_frequencies().get(w, 0) > 0


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
def tables() -> Tables:
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


class WordFrequencies:
    """English word frequencies, 160,000 words, kept as the dictionary's own JSON bytes
    (pyspellchecker writes one `"word": count,` a line, sorted) with two int arrays: where
    each line's word starts, and its count. A lookup bisects them (a few µs; the verifier
    makes a handful per compared pair). About 4 MB in every worker, read without first
    building a table of 160,000 strings: that table's ~20 MB peak left ~5 MB of heap
    behind in each worker (issue 13's worker memory bound)."""

    _ENTRY = re.compile(rb'^"([^"\\\n]*)": (\d+),?$', re.MULTILINE)  # a word that JSON had to escape fails it

    def __init__(self, text: bytes = b"{}") -> None:
        """`text`: the JSON, one entry a line in sorted order; ValueError if it is not so written."""
        self._text = text
        self._starts, self._counts = array("I"), array("I")
        previous = None
        for entry in self._ENTRY.finditer(text):
            if previous is not None and entry[1] <= previous:
                raise ValueError(f"not sorted at {entry[1]!r}")
            previous = entry[1]
            self._starts.append(entry.start(1))
            self._counts.append(int(entry[2]))
        if text.count(b'":') != len(self._counts):  # an entry the pattern did not read
            raise ValueError("not one entry a line")

    @classmethod
    def from_table(cls, table: dict[str, int]) -> WordFrequencies:
        """The same form from a table; words that JSON must escape (quotes, backslashes) are left out."""
        kept = {word: table[word] for word in sorted(table) if not cls._needs_escape(word)}
        return cls(json.dumps(kept, indent=0, ensure_ascii=False).encode())

    @staticmethod
    def _needs_escape(word: str) -> bool:
        return json.dumps(word, ensure_ascii=False)[1:-1] != word

    def __len__(self) -> int:
        return len(self._counts)

    def get(self, word: str, default: int = 0) -> int:
        key = word.encode("utf-8", "surrogatepass")  # UTF-8 bytes sort as the strings do
        text, starts = self._text, self._starts
        low, high = 0, len(self._counts)
        while low < high:
            middle = (low + high) // 2
            start = starts[middle]
            found = text[start:text.index(b'"', start)]
            if found == key:
                return self._counts[middle]
            if found < key:
                low = middle + 1
            else:
                high = middle
        return default


@functools.lru_cache(maxsize=1)
def word_frequencies() -> WordFrequencies:
    """English word frequencies from pyspellchecker's bundled dictionary (no network)."""
    try:
        import spellchecker
    except ImportError:
        return WordFrequencies()
    path = Path(spellchecker.__file__).with_name("resources") / "en.json.gz"
    try:
        with gzip.open(path, "rb") as fh:
            text = fh.read()
    except OSError:
        return WordFrequencies()
    try:
        return WordFrequencies(text)
    except ValueError:  # written another way by another version: through a table
        return WordFrequencies.from_table(json.loads(text))
