"""The generic scenario's English, for any task: grammar rules checked mechanically on every text
it generates (plan, phase names, thinking, messages, file contents, final answer), and exact
strings for the sentences that once read badly in front of a class."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest

from workbench.agent import prompts
from workbench.simulator import Scenario, Simulator, SimulatorTransport, dump_scenario, generic_scenario
from workbench.simulator.generic import task_words

TASKS = [
    "Create a landing page for a coffee shop",
    "Plan a three-day trip to Lisbon",
    "Plan a picnic for twelve people",
    "Compare three note-taking apps",
    "Write a haiku about autumn",
    "Write a short poem about autumn leaves",
    "Research the history of tea",
    "How do vaccines work?",
    "What is the capital of Australia?",
    "Why is the sky blue?",
    "Any tips for sleeping better?",
    "What's the best way to learn piano?",
    "hi",
    "Hello there!",
    "",
    "Write three poems about the sea",
    "Give me three ideas for dinner",
    "List 10 ways to save money",
    "Explain quantum computing to a 10-year-old",
    "Can you write a limerick about a cat?",
    "Please draft an email to my landlord about a broken heater",
    "Build a todo app",
    "Design a logo for my bakery",
    'Write a poem titled "Blue Hour"',
    'Translate "good morning" into French',
    'Summarize "The Old Man and the Sea"',
    "Summarize this article about climate change",
    "Summarise the key findings of the 2023 IPCC report",
    "Compare Python and Rust for beginners",
    "Write my resume",
    "Organize a birthday party for my daughter",
    "Prepare a dinner menu for six guests",
    "Help me plan a wedding",
    "Write a blog post about remote work",
    "Make a packing list for a camping trip",
    "Draft a cover letter for a junior developer job",
    "Write a 500-word essay on the French Revolution",
    "Brainstorm names for a bakery",
    "Describe the water cycle",
    "Tell me a joke",
    "Write a README for my project",
    "Write about dogs",
    "Analyze the sales data for Q3",
    "Suggest a name for my cat",
    "Create a quiz about world capitals",
    "Write a story for kids about a brave little toaster",
    "plan a picnic",
    "WRITE A HAIKU ABOUT RAIN",
    "Écris un poème sur l'automne",
    "Schreibe ein Gedicht über den Herbst",
    "東京の旅行プランを作って",
    (
        "Write a detailed, friendly onboarding guide for new engineers joining a small startup that builds climate "
        "software, covering the first week, the tools we use, who to ask for help, and how we review code, in a tone "
        "that is warm but precise"
    ),
]
SEEDS = range(4)
EVENT_NOUNS = ("picnic", "trip", "party", "wedding", "dinner", "birthday", "holiday", "vacation")


# --- what the scenario says, piece by piece -----------------------------------------------


def prose(s: Scenario) -> Iterator[tuple[str, str]]:
    """Every sentence-bearing text of a scenario, with where it comes from."""
    yield "goal", s.plan.goal
    yield "plan thinking", s.plan.thinking or ""
    for phase in s.plan.phases:
        yield "phase description", phase.description
    for turn in [*(t for turns in s.phases for t in turns), *s.react, s.final]:
        for where, text in (("thinking", turn.thinking), ("message", turn.text)):
            if text is not None:
                yield where, text


def files(s: Scenario) -> Iterator[tuple[str, str]]:
    for turn in [*(t for turns in s.phases for t in turns), *s.react]:
        for call in turn.tool_calls:
            if call.name == "write_file":
                yield call.input["path"], call.input["content"]


def titles(path: str, content: str) -> list[str]:
    if path.endswith(".html"):
        return re.findall(r"<title>(.*?)</title>|<h1>(.*?)</h1>", content) and [
            t for pair in re.findall(r"<title>(.*?)</title>|<h1>(.*?)</h1>", content) for t in pair if t
        ]
    if path.endswith(".txt"):
        return [content.split("\n", 1)[0]]
    return [line.lstrip("#").strip() for line in content.splitlines() if line.startswith("#")]


def visible(text: str) -> str:
    """Text as a reader sees it: HTML tags, code spans and file paths left out of the word checks."""
    text = re.sub(r"<[^>]+>", "\n", text)
    text = re.sub(r"`[^`]*`", "CODE", text)
    return re.sub(r"[\w/.-]+\.(md|txt|html)\b|notes/", "FILE", text)


# --- the rules ------------------------------------------------------------------------------------


def looks_plural(phrase: str) -> bool:
    """The test's own reading of a noun phrase's number (its head noun, before "of"/"for"/...)."""
    words = re.split(r"\s+", phrase.strip().lower())
    for i, word in enumerate(words):
        if i and word in ("of", "for", "to", "about", "on", "in", "with"):
            words = words[:i]
            break
    if words and words[0].startswith("\u201c"):
        return False
    if "and" in words or any(w in ("two", "three", "six", "ten", "twelve", "10") for w in words[:-1]):
        return True
    head = words[-1] if words else ""
    if head in ("people", "children", "data"):
        return True
    return head.endswith("s") and not head.endswith(("ss", "us", "is"))


SUBJECT = r"(?: (?!(?:what|who|with|and|that)\b)[\w\u201c\u201d'-]+){1,14}?"
AGREEMENT = [
    # (pattern with the subject as group 1 and the verb as group 2, singular form, plural form)
    (rf"\b((?:[Tt]he|[Yy]our){SUBJECT}) (is|are) (?:ready|for|about)\b", "is", "are"),
    (rf"\b((?:[Tt]he|[Yy]our){SUBJECT}) (has|have) to work\b", "has", "have"),
    (rf"\bHere (comes|come) ((?:the|your){SUBJECT})", "comes", "come"),
    (rf"\b((?:the|your){SUBJECT}) (itself|themselves)\b", "itself", "themselves"),
    (r"\b(it|they) (is|are) (?:ready|for|about)\b", "is", "are"),
]

AN_EXCEPTIONS = ("uni", "use", "usu", "one", "eu", "ur")


def problems(where: str, text: str) -> list[str]:
    """Everything wrong with one text; empty when it reads well."""
    found: list[str] = []
    if not text.strip():
        return [f"{where}: empty"]
    for marker in ("{", "}", "None", "TaskWords", "\\u", "[]", "  "):
        if marker in "\n".join(line.strip() for line in text.splitlines() if not line.startswith("Task: ")):
            found.append(f"{where}: raw marker {marker!r}")
    words = visible(text)
    for match in re.finditer(r"\b(\w+)[ \t]+\1\b", words, re.IGNORECASE):
        if not match[1].isdigit():
            found.append(f"{where}: doubled word {match[0]!r}")
    for match in re.finditer(r"\b[Aa] ([aeiouAEIOU]\w*)", words):
        if not match[1].lower().startswith(AN_EXCEPTIONS):
            found.append(f"{where}: 'a' before a vowel sound: {match[0]!r}")
    for match in re.finditer(r"\b[Aa]n ([b-df-hj-np-tv-zB-DF-HJ-NP-TV-Z]\w*)", words):
        if not match[1].lower().startswith(("h",)):
            found.append(f"{where}: 'an' before a consonant: {match[0]!r}")
    for bad in (r"[?!.]\.(?!\.)", r"\s[,.;:!?](?!\w)", r",\s*[.,]", r"\b(?:the|a|an|of|about|with)\s*[.,;:!?]", r"\b(?:on|to|in)\s*[.;!?]"):
        if re.search(bad, words.replace("...", "")):
            found.append(f"{where}: empty phrase or stray stop {re.search(bad, words)[0]!r}")  # type: ignore[index]
    if re.search(r"\b(?:the|your) (?:the|a|an|your|my)\b", words, re.IGNORECASE):
        found.append(f"{where}: two determiners in a row")
    for pattern, one, many in AGREEMENT:
        for match in re.finditer(pattern, words):
            subject, verb = (match[2], match[1]) if match.re.pattern.startswith(r"\bHere") else (match[1], match[2])
            expected = many if subject == "they" or (subject != "it" and looks_plural(subject)) else one
            if verb != expected:
                found.append(f"{where}: {match[0]!r} should use {expected!r}")
    if re.search(rf"Write the full (?:{'|'.join(EVENT_NOUNS)})\b", text):
        found.append(f"{where}: 'Write the full' before a thing that is planned, not written")
    if where in ("message", "thinking", "goal", "plan thinking", "phase description") and not re.match(r"[A-Z0-9\u201c(]", text):
        found.append(f"{where}: does not start with a capital: {text[:30]!r}")
    return found


def check_scenario(task: str, s: Scenario) -> list[str]:
    found: list[str] = []
    w = task_words(task)
    names = [p.name for p in s.plan.phases]
    if len(set(names)) != len(names):
        found.append(f"phase names repeat: {names}")
    for name in names:
        found += problems("phase name", name)
        if not name[0].isupper() or name.endswith((".", ":")) or len(name.split()) > 9:
            found.append(f"phase name {name!r}: not a short capitalised name")
    for where, text in prose(s):
        found += problems(where, text)
    for path, content in files(s):
        found += problems(path, content)
        for title in titles(path, content)[:1]:
            if not re.match(r"[A-Z0-9\u201c]", title):
                found.append(f"{path}: title {title!r} is not capitalised")
            named = {w.head.lower(), w.thing.split()[-1].lower(), "brief", "outline", "notes", "reply", "answer", "plan"}
            if not named & set(re.findall(r"\w+", title.lower())) and not title.endswith("?") and title not in task:
                found.append(f"{path}: title {title!r} does not name the deliverable")
    return found


@pytest.mark.parametrize("task", TASKS)
def test_every_text_of_the_generic_scenario_reads_as_english(task: str) -> None:
    for seed in SEEDS:
        scenario = generic_scenario(task, seed)
        assert check_scenario(task, scenario) == [], (task, seed)
        assert dump_scenario(generic_scenario(task, seed)) == dump_scenario(scenario)  # deterministic


def test_the_rules_catch_the_sentences_that_read_badly_before() -> None:
    # The checks above must be able to fail: each once-shipped sentence trips at least one rule.
    assert problems("message", "The three note-taking apps is ready in `x.md`.")
    assert problems("phase description", "Write the full picnic to picnic.md.")
    assert problems("message", "Wrote notes/brief.md: who the the page is for.")
    assert problems("thinking", "I'm in the phase of the task: How do vaccines work?.")
    assert problems("message", "Concrete details about a apple.")
    assert problems("message", "The ideas has to work for its readers.")
    assert problems("message", "Here comes the ideas.")
    assert problems("goal", "lower-case start.")
    assert problems("message", "Details about .")
    title = "Twelve People"
    assert "twelve people" in title.lower() and "picnic" not in title.lower()  # a context fragment, not the deliverable


def deliverable(s: Scenario, path: str) -> str:
    return [content for p, content in files(s) if p == path][-1]


def test_exact_strings_for_the_examples_that_read_badly() -> None:
    picnic = generic_scenario("Plan a picnic for twelve people", 0)
    assert [p.name for p in picnic.plan.phases] == [
        "Understand the picnic brief", "Outline the picnic", "Plan the picnic", "Review and polish",
    ]  # fmt: skip
    assert picnic.plan.phases[2].description == "Plan the picnic and write the plan to picnic-plan.md."
    brief = deliverable(picnic, "notes/brief.md")
    assert "## Audience\n\n- The twelve people\n" in brief and "interested in" not in brief
    assert deliverable(picnic, "picnic-plan.md").startswith("# Picnic for twelve people: the plan\n")
    assert "# Twelve People" not in dump_scenario(picnic)
    assert picnic.final.text is not None and picnic.final.text.startswith("The picnic plan is ready in `picnic-plan.md`.")

    apps = generic_scenario("Compare three note-taking apps", 0)
    assert apps.final.text is not None and apps.final.text.startswith(
        "The comparison of the three note-taking apps is ready in `comparison-of-three-note-taking-apps.md`."
    )
    assert "Write up the comparison" in [p.name for p in apps.plan.phases]

    poems = generic_scenario("Write three poems about the sea", 1)
    assert poems.final.text is not None and poems.final.text.startswith("The three poems are ready in `three-poems.txt`.")
    assert "Write the three poems in full to three-poems.txt." in [p.description for p in poems.plan.phases]

    coffee = generic_scenario("Create a landing page for a coffee shop", 0)
    assert coffee.final.text is not None and coffee.final.text.startswith("The landing page is ready in `index.html`.")
    assert "<title>Landing page for a coffee shop</title>" in deliverable(coffee, "index.html")
    assert "- People interested in the coffee shop" in deliverable(coffee, "notes/brief.md")

    haiku = generic_scenario("Write a haiku about autumn", 2)
    assert deliverable(haiku, "haiku.txt").startswith("Haiku about autumn\n")
    assert generic_scenario("Write a poem titled \"Blue Hour\"", 0).final.text is not None
    assert deliverable(generic_scenario('Write a poem titled "Blue Hour"', 0), "poem.txt").startswith("Blue Hour\n")

    vaccines = generic_scenario("How do vaccines work?", 0)
    assert vaccines.plan.goal == "Answer the question \u201cHow do vaccines work?\u201d in answer.md."
    assert vaccines.plan.phases[0].name == "Understand the question"
    assert "How do vaccines work?." not in dump_scenario(vaccines)

    hi = generic_scenario("hi", 0)
    assert hi.plan.goal == "Reply to \u201chi\u201d in reply.md."
    assert deliverable(hi, "reply.md").startswith("# Reply to \u201chi\u201d\n")
    assert "Write the hi" not in dump_scenario(hi)


def test_task_words_read_the_deliverable_topic_and_audience() -> None:
    cases: dict[str, tuple[str, str, str]] = {
        # task: (what the file holds, what it is about, who it is for)
        "Plan a picnic for twelve people": ("the picnic plan", "the picnic", "the twelve people"),
        "Create a landing page for a coffee shop": ("the landing page", "the coffee shop", "people interested in the coffee shop"),
        "Explain quantum computing to a 10-year-old": ("the explanation of quantum computing", "quantum computing", "the 10-year-old"),
        "Design a logo for my bakery": ("the logo", "your bakery", ""),
        "Write my resume": ("your resume", "your resume", ""),
        "List 10 ways to save money": ("the 10 ways", "how to save money", "people interested in how to save money"),
        "Compare Python and Rust for beginners": ("the comparison of Python and Rust", "Python and Rust", "beginners"),
        "Translate \"good morning\" into French": ("the translation of \u201cgood morning\u201d", "\u201cgood morning\u201d", ""),
    }  # fmt: skip
    for task, (doc, topic, audience) in cases.items():
        w = task_words(task)
        assert (w.doc, w.topic, w.audience) == (doc, topic, audience), task
    assert task_words("Écris un poème sur l'automne").mode == "reply"
    assert task_words("Can you write a limerick about a cat?").mode == "make"
    assert task_words("Any tips for sleeping better?").mode == "question"


# --- the same texts, through the real SDK ------------------------------------------------------


def sdk_texts(message: Any) -> list[str]:
    out: list[str] = []
    for block in message.content:
        if block.type == "thinking":
            out.append(block.thinking)
        elif block.type == "text":
            out.append(block.text)
        elif block.type == "tool_use":
            out.append(json.dumps(block.input, ensure_ascii=False))
    return out


@pytest.mark.parametrize("task", ["Plan a picnic for twelve people", "Compare three note-taking apps", "hi"])
async def test_the_sdk_receives_the_same_grammatical_texts(task: str) -> None:
    scenario = generic_scenario(task, 0)
    sim = Simulator(seed=0)
    http = httpx2.AsyncClient(transport=SimulatorTransport(sim))
    tools: list[Any] = [prompts.PLAN_TOOL, *({"name": n, "description": n, "input_schema": {"type": "object"}}
                                             for n in ("list_files", "read_file", "write_file"))]  # fmt: skip
    async with anthropic.AsyncAnthropic(api_key="any", base_url="http://simulator.invalid", http_client=http) as client:
        request: dict[str, Any] = {"model": "claude-sonnet-4-6", "max_tokens": 8000, "thinking": {"type": "adaptive"},
                                   "tools": tools, "messages": [{"role": "user", "content": prompts.task_message(task)}]}  # fmt: skip
        async with client.messages.stream(system=prompts.plan_system(), **request) as stream:
            plan = await stream.get_final_message()
        async with client.messages.stream(system=prompts.final_system(), **request) as stream:
            final = await stream.get_final_message()
    plan_input = next(b.input for b in plan.content if b.type == "tool_use")
    assert plan_input["goal"] == scenario.plan.goal
    assert [p["name"] for p in plan_input["phases"]] == [p.name for p in scenario.plan.phases]
    assert sdk_texts(final) == [scenario.final.thinking, scenario.final.text]
    for text in sdk_texts(final):
        assert problems("message", text) == []
