"""The words of a task the generic scenario is built from: its verb, deliverable, topic and audience.

``task_words("Plan a picnic for twelve people")`` finds the verb "Plan", the thing asked for
("picnic"), what the file will hold ("picnic plan": a picnic is planned, not written), and that
"twelve people" is who it is for, not what it is about. Every phrase is kept as a noun phrase
with its article ("the coffee shop", "Lisbon", "your team"), so templates can put it anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from workbench.simulator.english import NUMBER_WORDS, capital, core, is_plural, quoted

__all__ = ["TaskWords", "task_words"]

_ARTICLES = {"a", "an", "the", "some", "any", "my", "our", "your", "their", "his", "her", "this", "that", "these",
             "those", "me", "us"}  # fmt: skip
_POSSESSIVE = {"my": "your", "our": "your", "your": "your", "their": "their", "his": "his", "her": "her"}
_DEFINITE = {"a", "an", "the", "this", "that", "these", "those", "some", "any"}
_BREAKS = {
    "for", "about", "on", "with", "to", "in", "from", "that", "which", "who", "by", "at", "into",
    "using", "and", "or", "so", "as", "but", "while", "where", "when", "including", "covering",
    "titled", "called", "named", "than", "like", "without", "within", "under", "over",
}  # fmt: skip
_QUOTES = {'"', "\u201c", "\u201d", "\u00ab", "\u00bb"}
_ABOUT = {"for", "about", "on", "to", "in", "at", "with", "from", "covering", "including"}
_QUESTION = {"how", "what", "what's", "why", "when", "who", "which", "where", "is", "are", "can", "could", "should",
             "does", "do", "did", "will", "would", "was", "were", "has", "have", "whats"}  # fmt: skip
_STOP = _ARTICLES | _BREAKS | _QUESTION | {"of", "it", "i", "you", "we", "be", "will", "would", "please", "give"}
# How the task's verb reads in the name of the phase that produces the deliverable.
_WRITE_VERB = {
    "build": "Build", "develop": "Build", "implement": "Build", "code": "Build", "program": "Build",
    "design": "Design", "plan": "Plan", "prepare": "Prepare", "organize": "Plan", "organise": "Plan",
    "arrange": "Plan", "schedule": "Plan",
}  # fmt: skip
# Verbs whose deliverable is a document about their object: "compare X" gives "a comparison of X".
_ANALYSIS = {
    "compare": ("comparison", "Write up"), "contrast": ("comparison", "Write up"),
    "summarize": ("summary", "Write"), "summarise": ("summary", "Write"),
    "analyze": ("analysis", "Write up"), "analyse": ("analysis", "Write up"),
    "explain": ("explanation", "Write"), "describe": ("description", "Write"),
    "research": ("report", "Write up"), "investigate": ("report", "Write up"), "study": ("report", "Write up"),
    "translate": ("translation", "Write"), "review": ("review", "Write"), "evaluate": ("evaluation", "Write up"),
    "assess": ("assessment", "Write up"), "critique": ("critique", "Write"),
}  # fmt: skip
# Verbs that ask for a list of things: "give me three ideas", "brainstorm names".
_LISTING = {"list", "brainstorm", "suggest", "recommend", "find", "collect", "gather", "give", "tell", "name", "show",
            "propose", "pick", "choose"}  # fmt: skip
_MAKING = {"create", "make", "produce", "generate", "draw", "sketch", "put", "set"}
_WRITING = {"write", "draft", "compose", "outline", "document", "edit", "improve", "rewrite", "fix", "update"}
_VERBS = set(_WRITE_VERB) | set(_ANALYSIS) | _LISTING | _MAKING | _WRITING
_LEAD_INS = (("please",), ("can", "you"), ("could", "you"), ("would", "you"), ("will", "you"), ("help", "me"),
             ("help", "us"), ("i", "need"), ("i", "want"), ("i'd", "like"), ("i", "would", "like"), ("we", "need"),
             ("let's",), ("lets",), ("you", "to"), ("to",), ("please",))  # fmt: skip
_GREETINGS = {"hi", "hello", "hey", "hiya", "yo", "thanks", "thank", "you", "cheers", "greetings", "good", "morning",
              "afternoon", "evening", "bonjour", "hola", "ciao", "hallo", "salut", "hej", "namaste", "there", "ok",
              "okay", "test", "ping"}  # fmt: skip
_HTML_WORDS = {"page", "website", "site", "homepage", "html", "landing", "webpage", "portfolio"}
_TEXT_WORDS = {"poem", "poems", "story", "stories", "letter", "email", "haiku", "song", "lyrics", "speech", "toast",
               "limerick", "tweet", "sonnet", "joke", "jokes", "riddle", "verse", "ode"}  # fmt: skip
# Things a person writes; anything else is planned ("picnic"), made ("logo") or built ("app").
_WRITABLE = _HTML_WORDS | _TEXT_WORDS | set(
    "essay report article post blog summary plan guide list outline script readme document notes note memo proposal "
    "review recipe recipes menu itinerary agenda checklist description comparison explanation analysis answer reply "
    "response resume cv bio biography newsletter release manual tutorial lesson quiz faq brief paragraph chapter book "
    "novel slogan tagline headline caption title abstract thesis paper function code query regex test tests module "
    "snippet message announcement invitation invite pitch cover overview introduction conclusion letters emails "
    "posts articles questions ideas tips names ways steps reasons suggestions options examples facts words sentences "
    "lines rules notes instructions schedule timeline budget table spreadsheet routine workout lesson plan".split()
)
_EVENTS = set(
    "picnic trip party wedding event vacation holiday dinner lunch breakfast brunch meal workshop meeting conference "
    "weekend week day journey tour hike birthday celebration festival move launch visit retreat barbecue bbq reunion "
    "ceremony evening night sprint offsite garden project move semester course class".split()
)
_HUMAN = set(
    "people person kids kid children child students student team family friends friend guests guest class colleagues "
    "colleague beginners beginner developers developer customers customer readers reader users user parents parent "
    "teachers teacher audience employees staff visitors clients members volunteers coworkers seniors adults teens "
    "teenagers toddlers wife husband mom mum dad mother father boss partner girlfriend boyfriend grandma grandmother "
    "grandpa grandfather sister brother son daughter neighbours neighbors participants attendees newcomers engineers "
    "researchers scientists nurses doctors managers executives investors everyone group crowd players fans couple "
    "couples runners hikers travellers travelers tourists kindergartners pupils learners newbies me us".split()
)
_ADJECTIVE = re.compile(r"(ed|ful|ly|y|ive|al|ous|ic|ish|ble|less|short|long|simple|clear|fun|warm|quick|cute|bold|brief)$")
_ADVICE = {"ways", "tips", "steps", "ideas", "reasons", "things", "strategies", "methods", "tricks", "rules", "habits"}

Mode = Literal["make", "question", "reply"]


@dataclass(frozen=True)
class TaskWords:
    """The words of a task the generic scenario is built from."""

    task: str
    verb: str
    """How the producing phase starts: "Write", "Build", "Plan", "Write up", ..."""
    obj: str
    """What the task asks for, e.g. "landing page", "picnic", "three note-taking apps"."""
    head: str
    """The last word of ``obj``, e.g. "page"."""
    context: str
    """The bare words of what the deliverable is for or about, e.g. "coffee shop" (may be empty)."""
    kind: str
    """"html", "text" or "markdown": the kind of file the deliverable is."""
    output: str
    """The deliverable's path in the workspace."""
    mode: Mode = "make"
    """"make" for a task, "question" for a question, "reply" for a greeting or words it cannot read."""
    doc: str = "the result"
    """What the file holds, with its determiner: "the landing page", "the picnic plan", "your resume"."""
    doc_short: str = "the result"
    """``doc`` in a word or two: "the page", "the picnic plan", "the comparison"."""
    thing: str = "result"
    """The phase name's object after "the": "landing page", "picnic", "comparison"."""
    produce: str = ""
    """The producing phase's description up to the output path: "Write the full landing page to"."""
    topic: str = "the result"
    """What the deliverable is about, ready for "about ...": "the coffee shop", "autumn", "the question"."""
    audience: str = ""
    """Who it is for: "the twelve people", "people interested in the coffee shop", or empty."""
    title: str = "Result"
    """The deliverable's title: "Landing page for a coffee shop", "Picnic for twelve people: the plan"."""
    brief_name: str = "Understand the brief"
    gather_name: str = "Gather the details"


def task_words(task: str) -> TaskWords:
    """Pick the verb, the deliverable, its topic and its audience out of a task sentence."""
    task = " ".join(task.split())
    # A task written in capitals is shouted, not made of names: its words are read in lower case.
    tokens = re.findall(r"\w(?:[\w-]|['\u2019](?=\w))*|[^\w\s]", task.lower() if task.isupper() else task)
    lower = [t.lower().replace("\u2019", "'") for t in tokens]
    words = [w for w in lower if _is_word(w)]
    if not words or all(w in _GREETINGS for w in words):
        return _reply(task, tokens, lower)
    start = _skip_lead_in(lower, 0)
    if task.endswith("?") and lower[start] not in _VERBS:
        return _question(task, tokens, lower)
    verb = lower[start] if lower[start] in _VERBS else ""
    i = start + 1 if verb else start
    if verb and i + 1 < len(lower) and lower[i] == "and" and lower[i + 1] in _VERBS:
        verb, i = lower[i + 1], i + 2  # "research and write a report": the second verb makes the thing
    while i < len(lower) and lower[i] in ("me", "us", "up", "out", "down"):
        i += 1
    obj_det, i = _determiner(lower, i)
    if i < len(tokens) and tokens[i] in _QUOTES:
        raw, i, natural = _quoted(tokens, i)
    else:
        raw, i, natural = _noun_phrase(tokens, lower, i, allow_and=verb in _ANALYSIS)
    obj_words = _trim(raw) or (["piece"] if verb and i < len(tokens) and lower[i] in _ABOUT else [])
    if not obj_words or (not verb and (not natural or len(raw) > 4 or not all(w.isascii() for w in raw))):
        return _reply(task, tokens, lower)  # not a request it can read: answer the message itself
    prep, tail_det, tail_words = _phrase_after(tokens, lower, i)
    made = _make(task, verb, obj_det, obj_words, prep, tail_det, tail_words)
    named = re.search(r"\b(?:titled|called|named)\s+[\"“'‘]?([^\"”'’.!?]+)", task)
    return replace(made, title=capital(core(named[1]))) if named and core(named[1]) else made


def _is_word(token: str) -> bool:
    return bool(re.match(r"\w", token))


def _quoted(tokens: list[str], i: int) -> tuple[list[str], int, bool]:
    """A quoted name as one word ("Translate \u201cgood morning\u201d"): it is a title, kept whole."""
    end = i + 1
    while end < len(tokens) and tokens[end] not in _QUOTES:
        end += 1
    inner = " ".join(tokens[i + 1 : end])
    return ([f"\u201c{inner}\u201d"] if inner else []), end + 1, True


def _skip_lead_in(lower: list[str], i: int) -> int:
    """Past "please", "can you", "help me", "I need" ...: where the request itself starts."""
    moved = True
    while moved:
        moved = False
        for lead in _LEAD_INS:
            if tuple(lower[i : i + len(lead)]) == lead and i + len(lead) < len(lower):
                i += len(lead)
                moved = True
    return i


def _determiner(lower: list[str], i: int) -> tuple[str, int]:
    det = ""
    while i < len(lower) and lower[i] in _ARTICLES:
        det = det or lower[i]
        i += 1
    return det, i


def _noun_phrase(tokens: list[str], lower: list[str], i: int, *, allow_and: bool) -> tuple[list[str], int, bool]:
    """Up to four words of a noun phrase from ``i``; whether it ended where a phrase may end."""
    words: list[str] = []
    while i < len(tokens) and len(words) < 8:
        word = lower[i]
        if word == "," and words and _ADJECTIVE.search(words[-1].lower()) and i + 1 < len(tokens) and lower[i + 1] not in _BREAKS:
            words[-1] += ","  # "a detailed, friendly guide": a list of adjectives, not the end of the phrase
            i += 1
            continue
        if not _is_word(word) or (word in _BREAKS and not (allow_and and word == "and" and words)):
            return words, i, True
        if word == "of" and words:
            words.append("of")  # "the history of tea": the complement belongs to the deliverable
            i += 1
            if i < len(tokens) and lower[i] in _DEFINITE:
                words.append(lower[i])  # "the key findings of the report"
                i += 1
            continue
        if word not in _ARTICLES:
            words.append(tokens[i])
        i += 1
    return words, i, i >= len(tokens) or len(words) < 8


def _trim(words: list[str]) -> list[str]:
    while words and words[-1].lower() in ("of", "and"):
        words.pop()
    return words[-4:] if "of" not in words else words


def _phrase_after(tokens: list[str], lower: list[str], i: int) -> tuple[str, str, list[str]]:
    """The first "for/about/to ..." phrase from ``i`` on: its preposition, determiner and (at most 3) words."""
    while i < len(tokens) and lower[i] not in _ABOUT:
        i += 1
    if i >= len(tokens):
        return "", "", []
    prep = lower[i]
    det, j = _determiner(lower, i + 1)
    words: list[str] = []
    while j < len(tokens) and _is_word(tokens[j]) and not (lower[j] in _BREAKS and lower[j] != "of"):
        if words and lower[j].endswith("ing") and len(lower[j]) > 5:
            break  # "for new engineers joining a startup": the participle starts a new clause
        if lower[j] not in _ARTICLES:
            words.append(tokens[j])
        j += 1
    while words and words[-1].lower() == "of":
        words.pop()
    return prep, det, words[:3]


def _ref(det: str, words: list[str]) -> str:
    """A noun phrase as the agent refers back to it: "a coffee shop" -> "the coffee shop", "my team" -> "your team"."""
    phrase = " ".join(words)
    if det in _POSSESSIVE:
        return f"{_POSSESSIVE[det]} {phrase}"
    if det in _DEFINITE or (words and words[0].lower() in NUMBER_WORDS) or (words and words[0].isdigit()):
        return f"the {phrase}"
    return phrase


def _as_written(det: str, words: list[str]) -> str:
    """A phrase as the task wrote it, for titles ("a coffee shop", "twelve people", "your team")."""
    det = _POSSESSIVE.get(det, det)
    return " ".join([det, *words]) if det and det not in ("me", "us") else " ".join(words)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(slug) > 40:
        slug = slug[:41].rsplit("-", 1)[0]
    return slug or "result"


def _human(words: list[str]) -> bool:
    return bool(words) and (words[-1].lower() in _HUMAN or words[-1].lower().endswith("-old"))


def _compound(words: list[str]) -> bool:
    """Whether a phrase can stand before a noun ("landing page brief"): singular, short, no number."""
    return 0 < len(words) <= 2 and not is_plural(" ".join(words)) and "of" not in words


def _make(task: str, verb: str, obj_det: str, obj_words: list[str], prep: str, tail_det: str, tail: list[str]) -> TaskWords:
    obj = " ".join(obj_words)
    noun = obj.split(" of ")[0].split()
    head = noun[-1]
    lowered = {w.lower() for w in obj_words}
    kind = "html" if lowered & _HTML_WORDS else "text" if lowered & _TEXT_WORDS else "markdown"
    obj_ref = _ref(obj_det, obj_words)
    owner = _POSSESSIVE.get(obj_det, "the")  # "my resume" is "your resume" to the agent
    plural = is_plural(obj)
    tail_ref = _ref(tail_det, tail)
    infinitive = prep == "to" and head.lower() in _ADVICE
    if infinitive:
        tail_ref = f"how to {' '.join(tail)}"  # "ways to save money": an infinitive, not a place
    human = prep in ("for", "to", "with") and _human(tail)
    after_of = [w for w in obj_words[obj_words.index("of") + 1 :] if w.lower() not in _ARTICLES] if "of" in obj_words else []
    context = " ".join(after_of) if after_of else " ".join(tail)
    tail_text = f" {prep} {_as_written(tail_det, tail)}" if tail else ""
    short = " ".join(noun[-2:])
    compound = _compound(noun[-2:])
    topic = tail_ref if tail and not human else obj_ref
    brief = f"Understand the {short} brief" if compound else "Understand the brief"
    if verb in _ANALYSIS:
        docnoun, name_verb = _ANALYSIS[verb]
        link = "on" if docnoun == "report" else "of"
        doc, doc_short, thing, topic = f"the {docnoun} {link} {obj_ref}", f"the {docnoun}", docnoun, obj_ref
        title = capital(f"{docnoun} {link} {obj_ref}{tail_text}")
        produce, output_words, brief = f"Write the full {docnoun} to", f"{docnoun} {link} {obj}", f"Understand the {docnoun} brief"
    elif head.lower() in _EVENTS and (verb in _WRITE_VERB or not verb or verb in _MAKING):
        name_verb = _WRITE_VERB.get(verb, "Plan")
        doc = f"{owner} {short} plan" if compound else f"the plan for {obj_ref}"
        doc_short, thing = doc if compound else "the plan", obj
        title = capital(f"{obj}{tail_text}: the plan")
        produce, output_words = f"{name_verb} the {obj} and write the plan to", f"{short} plan" if compound else obj
    else:
        writable = head.lower() in _WRITABLE or kind != "markdown" or verb in _WRITING
        if verb in _LISTING:
            name_verb = "Write down"
        elif writable:
            name_verb = _WRITE_VERB.get(verb, "Write")
        else:
            name_verb = _WRITE_VERB.get(verb, capital(verb) if verb in _MAKING and verb not in ("put", "set") else "Create")
        doc, doc_short, thing = f"{owner} {obj}", f"{owner} {head}", obj
        title = capital(f"{obj}{tail_text}")
        if name_verb == "Write":
            produce = f"Write the {obj} in full to" if plural else f"Write the full {obj} to"
        elif name_verb == "Write down":
            produce = f"Write down the {obj} in"
        else:
            produce = f"{name_verb} the {obj} and save {'them' if plural else 'it'} as"
        output_words = obj
    if human:
        audience = tail_ref
    elif tail and topic == tail_ref and tail_det not in _POSSESSIVE:
        audience = f"people interested in {topic}"
    else:
        audience = ""
    if tail and not human and not infinitive and _compound(tail) and tail_det not in _POSSESSIVE and topic == tail_ref:
        gather = f"Gather {' '.join(tail)} details"
    elif len(topic.split()) <= 5:
        gather = f"Gather details about {topic}"
    else:
        gather = "Gather the details"
    slug = _slug(output_words)
    output = {"html": "index.html", "text": f"{slug}.txt", "markdown": f"{slug}.md"}[kind]
    if slug == "readme":
        output = "README.md"
    return TaskWords(task, name_verb, obj, head, context, kind, output, "make", doc, doc_short, thing, produce, topic,
                     audience, title, brief, gather)  # fmt: skip


def _question(task: str, tokens: list[str], lower: list[str]) -> TaskWords:
    context = " ".join([tokens[j] for j in range(len(tokens)) if _is_word(tokens[j]) and lower[j] not in _STOP][:3])
    return TaskWords(task, "Write", "answer", "answer", context, "markdown", "answer.md", "question", "the answer",
                     "the answer", "answer", "Write the full answer to", "the question", "", capital(task),
                     "Understand the question", "Gather the facts")  # fmt: skip


def _reply(task: str, tokens: list[str], lower: list[str]) -> TaskWords:
    title = f"Reply to {quoted(task)}" if core(task) else "Reply"
    return TaskWords(task, "Write", "reply", "reply", "", "markdown", "reply.md", "reply", "the reply", "the reply", "reply",
                     "Write the full reply to", "the message", "", title, "Understand the message",
                     "Gather the details")  # fmt: skip
