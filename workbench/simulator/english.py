"""Small rules of English grammar the generic scenario's sentences follow.

The generic scenario fills templates with words taken from any task, so each template asks
these helpers for what changes with them: "is" or "are" after a noun phrase, "it" or "them"
for it, a sentence that ends with exactly one stop, a title that starts with a capital.
"""

from __future__ import annotations

__all__ = [
    "NUMBER_WORDS",
    "is_plural",
    "be",
    "pronoun",
    "capital",
    "sentence",
    "core",
    "quoted",
    "verb_s",
    "has",
    "itself",
]

NUMBER_WORDS = frozenset(
    "two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty hundred dozen several few many some both".split()
)
"""Words that make the noun after them plural ("three apps", "several ideas")."""

_IRREGULAR_PLURALS = frozenset(
    "people children men women mice geese feet teeth data criteria phenomena folks cattle police".split()
)
_SINGULAR_S = frozenset(
    "news analysis basis thesis series species physics mathematics economics politics ethics class glass bus "
    "boss address process business lens canvas success access progress chess mess dress atlas bonus campus "
    "census virus status focus crisis bias gas plus yes this its is was us css ios macos js paris athens "
    "wales texas brussels christmas diabetes measles linux".split()
)


_PREPOSITIONS = ("of", "for", "to", "about", "on", "in", "with", "from", "at", "into")


def _noun_part(phrase: str) -> list[str]:
    """The words of a phrase before its first preposition ("history of tea" -> ["history"])."""
    words = [w.strip(".,;:!?\"'\u201c\u201d").lower() for w in phrase.split()]
    for i, word in enumerate(words):
        if i and word in _PREPOSITIONS:
            return words[:i]
    return words


def is_plural(phrase: str) -> bool:
    """Whether a noun phrase is plural: "three note-taking apps", "people", "autumn leaves" (not "news")."""
    words = _noun_part(phrase)
    if not words or phrase.startswith("\u201c"):  # a quoted title is one thing
        return False
    if "and" in words[1:-1]:
        return True  # "Python and Rust"
    if any(word in NUMBER_WORDS for word in words[:-1]) or (len(words) > 1 and words[0].isdigit() and words[0] != "1"):
        return True
    head = words[-1]
    if head in _IRREGULAR_PLURALS:
        return True
    if head in _SINGULAR_S or head.endswith(("ss", "us", "is", "'s", "’s")):
        return False
    return head.endswith("s") and len(head) > 2


def be(phrase: str) -> str:
    """ "is" or "are", agreeing with ``phrase``."""
    return "are" if is_plural(phrase) else "is"


def pronoun(phrase: str) -> str:
    """ "it" or "them", for ``phrase`` as an object."""
    return "them" if is_plural(phrase) else "it"


def verb_s(phrase: str, verb: str) -> str:
    """``verb`` agreeing with ``phrase`` as its subject: "lets" after "autumn", "let" after "leaves"."""
    if is_plural(phrase):
        return verb
    return verb + ("es" if verb.endswith(("s", "sh", "ch", "x", "o")) else "s")


def has(phrase: str) -> str:
    """ "has" or "have", agreeing with ``phrase``."""
    return "have" if is_plural(phrase) else "has"


def itself(phrase: str) -> str:
    """ "itself" or "themselves", for ``phrase``."""
    return "themselves" if is_plural(phrase) else "itself"


def capital(text: str) -> str:
    """``text`` with its first letter upper-case (the rest untouched, so names keep their case)."""
    return text[:1].upper() + text[1:]


def core(text: str) -> str:
    """``text`` without trailing stops, for quoting it inside a sentence."""
    return " ".join(text.split()).rstrip(" .!?;:,")


def sentence(text: str) -> str:
    """``text`` as one sentence: a capital first letter and exactly one closing stop."""
    text = " ".join(text.split()).rstrip(" ;:,")
    if not text:
        return ""
    text = capital(text)
    if text.endswith(("?", "!")):
        return text.rstrip(".")
    return text.rstrip(".") + "."


def quoted(text: str) -> str:
    """``text`` in curly quotes (a closing "?" or "!" stays inside), so quotes the person wrote stay readable."""
    return f"\u201c{' '.join(text.split()).rstrip(' .;:,')}\u201d"
