"""A sensible scenario for any task, built from the task's own words.

``generic_scenario("Create a landing page for a coffee shop")`` plans phases such as
"Understand the landing page brief", "Outline the page", "Write the landing page" and
"Review and polish", thinks aloud about the task in each turn, and uses the built-in
workspace tools (``list_files``, ``read_file``, ``write_file``) to write notes and the
deliverable. Everything is deterministic for a ``(task, seed)`` pair; the seed varies the
wording of the thinking and the number of phases.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from workbench.simulator.scenario import Plan, PlanPhase, Scenario, ToolCall, Turn

__all__ = ["generic_scenario", "chat_turn", "TaskWords", "task_words"]

_ARTICLES = {"a", "an", "the", "some", "my", "our", "your", "their", "this", "that", "these", "those", "me", "us"}
_BREAKS = {
    "for", "about", "on", "with", "to", "in", "from", "that", "which", "who", "by", "at", "into",
    "using", "and", "or", "so", "as", "but", "while", "where", "when", "including", "covering",
}  # fmt: skip
_ABOUT = {"for", "about", "on", "to", "in", "at", "with", "from", "covering", "including"}
_QUESTION = {"how", "what", "why", "when", "who", "which", "where", "is", "are", "can", "could", "should", "does", "do"}
_STOP = _ARTICLES | _BREAKS | _QUESTION | {"of", "it", "i", "you", "we", "be", "will", "would", "please", "give"}
# How the task's verb reads in the name of the phase that produces the deliverable.
_WRITE_VERB = {
    "build": "Build", "develop": "Build", "implement": "Build", "code": "Build", "program": "Build",
    "design": "Design", "plan": "Plan", "prepare": "Prepare", "organize": "Plan", "organise": "Plan",
    "research": "Write up", "summarize": "Write up", "summarise": "Write up", "analyze": "Write up",
    "analyse": "Write up", "compare": "Write up", "explain": "Write up", "describe": "Write up",
    "investigate": "Write up", "study": "Write up",
}  # fmt: skip
_VERBS = set(_WRITE_VERB) | {
    "create", "write", "make", "draft", "produce", "compose", "generate", "outline", "document",
    "propose", "collect", "list", "translate", "edit", "improve", "rewrite", "sketch", "put", "set", "find",
}  # fmt: skip
_HTML_WORDS = {"page", "website", "site", "homepage", "html", "landing", "webpage", "portfolio"}
_TEXT_WORDS = {"poem", "story", "letter", "email", "haiku", "song", "lyrics", "speech", "toast", "limerick", "tweet"}


@dataclass(frozen=True)
class TaskWords:
    """The words of a task the generic scenario is built from."""

    task: str
    verb: str
    """How the producing phase starts: "Write", "Build", "Plan", "Write up", ..."""
    obj: str
    """The deliverable, e.g. "landing page"."""
    head: str
    """The deliverable's last word, e.g. "page"."""
    context: str
    """What the deliverable is for or about, e.g. "coffee shop" (may be empty)."""
    kind: str
    """"html", "text" or "markdown": the kind of file the deliverable is."""
    output: str
    """The deliverable's path in the workspace."""


def task_words(task: str) -> TaskWords:
    """Pick the verb, the deliverable and its context out of a task sentence."""
    task = " ".join(task.split())
    tokens = re.findall(r"[\w'’-]+|[.,;:!?()]", task)
    lower = [t.lower() for t in tokens]
    verb, start = "Write", 0
    question = bool(lower) and lower[0] in _QUESTION and task.rstrip().endswith("?")
    if lower and lower[0] in _VERBS:
        verb, start = _WRITE_VERB.get(lower[0], "Write"), 1
    obj_words: list[str] = []
    i = start
    if question:
        obj_words = ["answer"]
    else:
        while i < len(tokens) and lower[i] in _ARTICLES:
            i += 1
        while i < len(tokens) and len(obj_words) < 4:
            word = lower[i]
            if not _is_word(word) or word in _BREAKS:
                break
            if word == "of" and obj_words:
                # "the history of tea": keep the complement as part of the deliverable
                obj_words.append("of")
                i += 1
                while i < len(tokens) and lower[i] in _ARTICLES:
                    i += 1
                continue
            if word not in _ARTICLES:
                obj_words.append(tokens[i])
            i += 1
        if obj_words and obj_words[-1] == "of":
            obj_words.pop()
    if question:
        context_words = [tokens[j] for j in range(len(tokens)) if _is_word(tokens[j]) and lower[j] not in _STOP][:3]
    elif "of" in obj_words:
        context_words = obj_words[obj_words.index("of") + 1 :]  # "history of tea": about tea
    else:
        context_words = _phrase_after(tokens, lower, i, _ABOUT)
    obj = " ".join(obj_words) or "result"
    head = obj.split(" of ")[0].split()[-1]
    words = {w.lower() for w in obj_words}
    kind = "html" if words & _HTML_WORDS else "text" if words & _TEXT_WORDS else "markdown"
    slug = re.sub(r"[^a-z0-9]+", "-", obj.lower()).strip("-")[:40].strip("-") or "result"
    output = {"html": "index.html", "text": f"{slug}.txt", "markdown": f"{slug}.md"}[kind]
    if slug == "readme":
        output = "README.md"
    return TaskWords(task, verb, obj, head, " ".join(context_words), kind, output)


def _is_word(token: str) -> bool:
    return bool(re.match(r"[\w'’-]", token))


def _phrase_after(tokens: list[str], lower: list[str], i: int, preps: set[str]) -> list[str]:
    """The words after the first of ``preps`` from ``i`` on, up to the next break (at most 3)."""
    while i < len(tokens) and lower[i] not in preps:
        i += 1
    words: list[str] = []
    for j in range(i + 1, len(tokens)):
        if not _is_word(tokens[j]) or (lower[j] in _BREAKS and lower[j] != "of"):
            break
        if lower[j] not in _ARTICLES:
            words.append(tokens[j])
    return words[:3]


def _rng(task: str, seed: int, salt: str = "") -> random.Random:
    # A private generator seeded from a hash, so results never depend on PYTHONHASHSEED.
    digest = hashlib.sha256(f"{seed}\0{task}\0{salt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _short(obj: str) -> str:
    """The deliverable without its complement, at most two words ("history of tea" -> "history")."""
    return " ".join(obj.split(" of ")[0].split()[-2:])


class _Writer:
    """Builds the turns of one generic scenario, sharing the task's words and one generator."""

    def __init__(self, words: TaskWords, seed: int) -> None:
        self.w = words
        self.rng = _rng(words.task, seed)
        self.about = words.context or words.obj
        self.audience = f"people interested in {words.context}" if words.context else f"whoever reads the {words.head}"

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def think(self, phase: str, intent: str) -> str:
        """Three or four sentences: where we are, what this step does, a consideration."""
        task = self.w.task or "the task"
        opening = self.pick(
            f"I'm in the \"{phase}\" phase of the task: {task}.",
            f"This step belongs to \"{phase}\", for the task \"{task}\".",
            f"Working on {phase.lower()} now; the overall task is: {task}.",
            f"Current phase: {phase}. The task I was given: {task}.",
        )
        concern = self.pick(
            f"The {self.w.head} has to work for {self.audience}, so clarity beats cleverness.",
            f"Keeping everything focused on {self.about} matters more than length.",
            "Short, concrete sections will be easier to check in the review.",
            f"I should keep the tone consistent with what the {self.w.head} is for.",
        )
        extra = self.pick(
            "",
            " Nothing here needs outside information, so the workspace is enough.",
            f" If something is unclear I will note it as an open question rather than guess about {self.about}.",
        )
        return f"{opening} {intent} {concern}{extra}"

    def say(self, *options: str) -> str | None:
        # Real models often, not always, say a short sentence before calling a tool.
        return self.rng.choice([*options, None])

    # --- file contents ---------------------------------------------------------------

    def sections(self) -> list[str]:
        if self.w.kind == "html":
            return ["Hero", "About", "What we offer", "Visit us", "Call to action"]
        if self.w.kind == "text":
            return ["Opening", "Middle", "Closing"]
        return ["Introduction", "Key points", "Details", "Next steps"]

    def brief(self) -> str:
        return (
            f"# Brief: {self.w.obj}\n\n"
            f"Task: {self.w.task}\n\n"
            f"## Audience\n\n- {self.audience[0].upper() + self.audience[1:]}\n\n"
            "## Must-haves\n\n"
            f"- A clear opening that says what the {self.w.head} is about\n"
            f"- Concrete details about {self.about}\n"
            "- A short, friendly ending that tells the reader what to do next\n\n"
            "## Open questions\n\n"
            f"- Which details about {self.about} matter most to the reader?\n"
        )

    def research(self) -> str:
        return (
            f"# Notes on {self.about}\n\n"
            f"- What makes {self.about} stand out: a few specific, checkable facts\n"
            f"- Words the audience uses when they talk about {self.about}\n"
            f"- Two or three examples to use in the {self.w.head}\n"
            "- Claims to avoid unless they can be checked\n"
        )

    def outline(self) -> str:
        lines = [f"# Outline: {self.w.obj}", ""]
        lines += [f"{i + 1}. {name}" for i, name in enumerate(self.sections())]
        return "\n".join(lines) + "\n"

    def deliverable(self, polished: bool = False) -> str:
        title = self.w.context.title() if self.w.context else self.w.obj.capitalize()
        if self.w.kind == "html":
            parts = [
                "<!doctype html>",
                '<html lang="en">',
                "<head>",
                '  <meta charset="utf-8">',
                f"  <title>{title}</title>",
                "</head>",
                "<body>",
                f"  <header><h1>{title}</h1><p>{self.w.task}.</p></header>",
            ]
            for name in self.sections()[1:]:
                parts.append(f"  <section><h2>{name}</h2><p>{name}: what a visitor should know about {self.about}.</p></section>")
            if polished:
                parts.append(f'  <footer><a href="#top">Back to top</a> · {title}</footer>')
            parts += ["</body>", "</html>"]
            return "\n".join(parts) + "\n"
        if self.w.kind == "text":
            body = [
                f"{title}",
                "",
                f"It begins with {self.about}, quiet and plain.",
                f"It grows in the middle, where {self.w.head} and reader meet.",
                "It ends where it started, a little changed.",
            ]
            if polished:
                body.append(f"And {self.about} lets go, one line at a time.")
            return "\n".join(body) + "\n"
        out = [f"# {title}", "", f"{self.w.task}.", ""]
        for name in self.sections():
            out += [f"## {name}", "", f"What matters about {self.about} under \"{name.lower()}\".", ""]
        if polished:
            out += ["---", "", f"Reviewed for clarity and accuracy about {self.about}.", ""]
        return "\n".join(out)


def generic_scenario(task: str, seed: int = 0) -> Scenario:
    """A complete scenario for ``task``: a plan of 3 to 5 phases named from the task's words,
    2 to 3 turns per phase that think, use the workspace tools and end with a summary, a
    ``react`` loop and a final answer. Deterministic for ``(task, seed)``."""
    w = task_words(task)
    x = _Writer(w, seed)
    short = _short(w.obj)
    out = w.output
    count = x.rng.choice([3, 4, 4, 5])
    notes_for_writing = "notes/outline.md" if count >= 4 else "notes/brief.md"

    phases: list[tuple[str, str, list[Turn]]] = []

    name = f"Understand the {short} brief"
    phases.append((name, f"Read the task, look at the workspace and write down the audience and must-haves for the {w.obj} in notes/brief.md.", [
        Turn(thinking=x.think(name, "First I want to see what is already in the workspace, so I will list the files."),
             text=x.say("Let me look at the workspace first.", "I'll start by checking the workspace."),
             tool_calls=[ToolCall(name="list_files", input={"path": "."})]),
        Turn(thinking=x.think(name, f"The workspace has nothing I need to keep, so I will write the brief for the {w.obj} to notes/brief.md."),
             tool_calls=[ToolCall(name="write_file", input={"path": "notes/brief.md", "content": x.brief()})]),
        Turn(thinking=x.think(name, "The brief is written; time to summarise this phase."),
             text=f"Wrote notes/brief.md: who the {w.head} is for, the must-haves, and one open question about {x.about}."),
    ]))  # fmt: skip

    if count == 5:
        name = f"Gather {w.context} details" if w.context else "Gather the details"
        phases.append((name, f"Collect facts, words and examples about {x.about} in notes/research.md.", [
            Turn(thinking=x.think(name, f"I will collect what I know about {x.about} in notes/research.md, marking anything unchecked."),
                 tool_calls=[ToolCall(name="write_file", input={"path": "notes/research.md", "content": x.research()})]),
            Turn(thinking=x.think(name, "The notes are in place; I can summarise."),
                 text=f"Collected notes on {x.about} in notes/research.md: facts to use, audience words, and claims to avoid."),
        ]))  # fmt: skip

    if count >= 4:
        name = f"Outline the {w.head}"
        phases.append((name, f"Plan the sections of the {w.head} in notes/outline.md.", [
            Turn(thinking=x.think(name, "Before outlining I will read the brief again so the sections follow from it."),
                 tool_calls=[ToolCall(name="read_file", input={"path": "notes/brief.md"})]),
            Turn(thinking=x.think(name, f"The brief asks for a clear opening, details and an ending; {len(x.sections())} sections cover that."),
                 text=x.say("Here is the outline.", f"Writing the outline for the {w.head}."),
                 tool_calls=[ToolCall(name="write_file", input={"path": "notes/outline.md", "content": x.outline()})]),
            Turn(thinking=x.think(name, "The outline is saved; I will summarise it."),
                 text=f"Outlined the {w.head} in notes/outline.md: {', '.join(x.sections())}."),
        ]))  # fmt: skip

    name = f"{w.verb} the {w.obj}"
    phases.append((name, f"Write the full {w.obj} to {out}.", [
        Turn(thinking=x.think(name, f"I will read {notes_for_writing} and then write the {w.obj} section by section."),
             tool_calls=[ToolCall(name="read_file", input={"path": notes_for_writing})]),
        Turn(thinking=x.think(name, f"Now the {w.obj} itself, saved as {out}."),
             text=x.say(f"Writing {out} now.", f"Here comes the {w.head}."),
             tool_calls=[ToolCall(name="write_file", input={"path": out, "content": x.deliverable()})]),
        Turn(thinking=x.think(name, "The file is written; a short summary closes the phase."),
             text=f"Wrote {out}: the {w.obj} with {len(x.sections())} sections, following the notes."),
    ]))  # fmt: skip

    name = "Review and polish"
    rewrite = x.rng.random() < 0.7
    review: list[Turn] = [
        Turn(thinking=x.think(name, f"I will read {out} back and check it against the brief."),
             tool_calls=[ToolCall(name="read_file", input={"path": out})]),
    ]  # fmt: skip
    if rewrite:
        review.append(
            Turn(thinking=x.think(name, "The ending is abrupt; I will add a closing touch and save the file again."),
                 tool_calls=[ToolCall(name="write_file", input={"path": out, "content": x.deliverable(polished=True)})])
        )  # fmt: skip
    review.append(
        Turn(thinking=x.think(name, "The review is done; I will summarise what changed."),
             text=f"Reviewed {out}" + (": added a closing touch and tightened the wording." if rewrite else ": it reads well, no changes needed."))
    )  # fmt: skip
    phases.append((name, f"Read {out} back, fix gaps and tighten the wording.", review))

    goal = f"{w.task.rstrip('.') or 'Do the task'}, saved as {out} in the workspace."
    plan_thinking = (
        f"The task is: {w.task or 'not stated'}. The deliverable is the {w.obj}, which I will save as {out}. "
        + x.pick(
            f"{len(phases)} phases should be enough: ",
            f"I'll split the work into {len(phases)} phases: ",
            f"A plan of {len(phases)} phases keeps each step small: ",
        )
        + "; ".join(p[0] for p in phases)
        + ". Notes go under notes/ so later phases can read them back."
    )

    react = [
        Turn(thinking=x.think("Agent", "I will check the workspace before writing anything."),
             tool_calls=[ToolCall(name="list_files", input={"path": "."})]),
        Turn(thinking=x.think("Agent", "A short brief first, so the result has a clear target."),
             tool_calls=[ToolCall(name="write_file", input={"path": "notes/brief.md", "content": x.brief()})]),
        Turn(thinking=x.think("Agent", f"Now the {w.obj} itself."),
             text=x.say(f"Writing {out}."),
             tool_calls=[ToolCall(name="write_file", input={"path": out, "content": x.deliverable(polished=True)})]),
        Turn(thinking=x.think("Agent", "I will read the result back to check it."),
             tool_calls=[ToolCall(name="read_file", input={"path": out})]),
        Turn(thinking=x.think("Agent", "It matches the brief, so I can report."),
             text=f"Done: {out} holds the {w.obj}, and notes/brief.md records who it is for and what it must include."),
    ]  # fmt: skip

    final = Turn(
        thinking=x.think("Final answer", "Every phase is done; I will summarise the result for the person who asked."),
        text=(
            f"The {w.obj} is ready in `{out}`.\n\n"
            + "\n".join(f"{i + 1}. {p[0]}: {p[1]}" for i, p in enumerate(phases))
            + f"\n\nOpen `{out}` to see it; the notes under `notes/` show how it came together."
        ),
    )
    return Scenario(
        plan=Plan(goal=goal, phases=[PlanPhase(name=n, description=d) for n, d, _ in phases], thinking=plan_thinking),
        phases=[turns for _, _, turns in phases],
        react=react,
        final=final,
    )


def chat_turn(prompt: str, seed: int = 0) -> Turn:
    """A short answer for a request that is not one of the workbench's own (thinking + text)."""
    rng = _rng(prompt, seed, "chat")
    excerpt = " ".join(prompt.split())
    if len(excerpt) > 120:
        excerpt = excerpt[:117] + "..."
    thinking = rng.choice(
        [
            f"The user wrote: \u201c{excerpt}\u201d. I am a simulated model, so I will answer briefly and say so.",
            f"A request about \u201c{excerpt}\u201d. This is the offline simulator; a short, honest reply is best.",
        ]
    )
    text = (
        f"(Simulated answer) You asked: \u201c{excerpt}\u201d. This reply comes from the offline "
        "Anthropic API simulator; connect a real model for a real answer."
    )
    return Turn(thinking=thinking, text=text)
