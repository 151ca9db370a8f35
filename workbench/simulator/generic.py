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

from workbench.simulator.english import be, capital, has, itself, pronoun, quoted, sentence, verb_s
from workbench.simulator.scenario import Plan, PlanPhase, Scenario, ToolCall, Turn
from workbench.simulator.task_words import TaskWords, task_words

__all__ = ["generic_scenario", "chat_turn", "TaskWords", "task_words"]


def _rng(task: str, seed: int, salt: str = "") -> random.Random:
    # A private generator seeded from a hash, so results never depend on PYTHONHASHSEED.
    digest = hashlib.sha256(f"{seed}\0{task}\0{salt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


class _Writer:
    """Builds the turns of one generic scenario, sharing the task's words and one generator.

    Every sentence takes its variable words from :class:`TaskWords` as whole noun phrases (with
    their articles) and asks :mod:`.english` for the words that agree with them.
    """

    def __init__(self, words: TaskWords, seed: int) -> None:
        self.w = words
        self.rng = _rng(words.task, seed)
        self.doc, self.short, self.topic = words.doc, words.doc_short, words.topic
        self.task_line = sentence(words.task)

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def think(self, phase: str, intent: str) -> str:
        """Three or four sentences: where we are, what this step does, a consideration."""
        task = self.task_line or "No task was given, so a short reply will do."
        if phase:
            where = (f"I'm in the \u201c{phase}\u201d phase of the task.", f"This step belongs to \u201c{phase}\u201d.",
                     f"Working on the \u201c{phase}\u201d phase now.", f"Current phase: {phase}.")  # fmt: skip
        else:
            where = ("I'm working on the task.", "This is the agent's loop.", "Working through the task now.", "One loop, no plan.")
        opening = self.pick(*(f"{w} The task: {task}" for w in where))
        reader = self.w.audience or f"{'their' if has(self.short) == 'have' else 'its'} readers"
        concern = self.pick(
            f"{capital(self.short)} {has(self.short)} to work for {reader}, so clarity beats cleverness.",
            f"Keeping everything focused on {self.topic} matters more than length.",
            "Short, concrete sections will be easier to check in the review.",
            f"I should keep the tone consistent with what {self.short} {be(self.short)} for.",
        )
        extra = self.pick(
            "",
            " Nothing here needs outside information, so the workspace is enough.",
            f" If something is unclear I will note it as an open question rather than guess about {self.topic}.",
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
        audience = self.w.audience or ("whoever asked" if self.w.mode != "make" else f"whoever reads {self.short}")
        return (
            f"# Brief for {self.doc}\n\n"
            f"Task: {self.w.task or '(none given)'}\n\n"
            f"## Audience\n\n- {capital(audience)}\n\n"
            "## Must-haves\n\n"
            f"- A clear opening that says what {self.short} {be(self.short)} about\n"
            f"- Concrete details about {self.topic}\n"
            "- A short, friendly ending that tells the reader what to do next\n\n"
            "## Open questions\n\n"
            f"- Which details about {self.topic} matter most to the reader?\n"
        )

    def research(self) -> str:
        return (
            f"# Notes on {self.topic}\n\n"
            f"- What makes {self.topic} stand out: a few specific, checkable facts\n"
            f"- Words the audience uses when they talk about {self.topic}\n"
            f"- Two or three examples to use in {self.short}\n"
            "- Claims to avoid unless they can be checked\n"
        )

    def outline(self) -> str:
        lines = [f"# Outline of {self.doc}", ""]
        lines += [f"{i + 1}. {name}" for i, name in enumerate(self.sections())]
        return "\n".join(lines) + "\n"

    def deliverable(self, polished: bool = False) -> str:
        title = self.w.title
        opening = self.task_line or f"{capital(self.doc)}."
        if self.w.kind == "html":
            parts = [
                "<!doctype html>",
                '<html lang="en">',
                "<head>",
                '  <meta charset="utf-8">',
                f"  <title>{title}</title>",
                "</head>",
                "<body>",
                f"  <header><h1>{title}</h1><p>{opening}</p></header>",
            ]
            for name in self.sections()[1:]:
                parts.append(f"  <section><h2>{name}</h2><p>{name}: what a visitor should know about {self.topic}.</p></section>")
            if polished:
                parts.append(f'  <footer><a href="#top">Back to top</a> · {title}</footer>')
            parts += ["</body>", "</html>"]
            return "\n".join(parts) + "\n"
        if self.w.kind == "text":
            body = [
                f"{title}",
                "",
                f"It begins with {self.topic}, quiet and plain.",
                f"It grows in the middle, where {self.w.head} and reader meet.",
                "It ends where it started, a little changed.",
            ]
            if polished:
                body.append(f"And {self.topic} {verb_s(self.topic, 'let')} go, one line at a time.")
            return "\n".join(body) + "\n"
        out = [f"# {title}", "", opening, ""]
        for name in self.sections():
            out += [f"## {name}", "", f"What matters about {self.topic} under \u201c{name.lower()}\u201d.", ""]
        if polished:
            out += ["---", "", f"Reviewed for clarity and accuracy about {self.topic}.", ""]
        return "\n".join(out)

    def goal(self) -> str:
        w, out = self.w, self.w.output
        if w.mode == "question":
            return f"Answer the question {quoted(w.task)} in {out}."
        if w.mode == "reply":
            return f"Reply to {quoted(w.task)} in {out}." if self.task_line else f"Write a short reply in {out}: no task was given."
        if w.task.endswith("?"):
            return f"{capital(self.doc)}, saved as {out} in the workspace, as asked in {quoted(w.task)}."
        return f"{self.task_line.rstrip('.!')}, saved as {out} in the workspace."


def generic_scenario(task: str, seed: int = 0) -> Scenario:
    """A complete scenario for ``task``: a plan of 3 to 5 phases named from the task's words,
    2 to 3 turns per phase that think, use the workspace tools and end with a summary, a
    ``react`` loop and a final answer. Deterministic for ``(task, seed)``."""
    w = task_words(task)
    x = _Writer(w, seed)
    doc, short, topic, out = x.doc, x.short, x.topic, w.output
    count = x.rng.choice([3, 4, 4, 5])
    notes_for_writing = "notes/outline.md" if count >= 4 else "notes/brief.md"

    phases: list[tuple[str, str, list[Turn]]] = []

    name = w.brief_name
    phases.append((name, f"Read the task, look at the workspace and write down the audience and must-haves for {doc} in notes/brief.md.", [
        Turn(thinking=x.think(name, "First I want to see what is already in the workspace, so I will list the files."),
             text=x.say("Let me look at the workspace first.", "I'll start by checking the workspace."),
             tool_calls=[ToolCall(name="list_files", input={"path": "."})]),
        Turn(thinking=x.think(name, f"The workspace has nothing I need to keep, so I will write the brief for {doc} to notes/brief.md."),
             tool_calls=[ToolCall(name="write_file", input={"path": "notes/brief.md", "content": x.brief()})]),
        Turn(thinking=x.think(name, "The brief is written; time to summarise this phase."),
             text=f"Wrote notes/brief.md: who {short} {be(short)} for, the must-haves, and one open question about {topic}."),
    ]))  # fmt: skip

    if count == 5:
        name = w.gather_name
        phases.append((name, f"Collect facts, words and examples about {topic} in notes/research.md.", [
            Turn(thinking=x.think(name, f"I will collect what I know about {topic} in notes/research.md, marking anything unchecked."),
                 tool_calls=[ToolCall(name="write_file", input={"path": "notes/research.md", "content": x.research()})]),
            Turn(thinking=x.think(name, "The notes are in place; I can summarise."),
                 text=f"Collected notes on {topic} in notes/research.md: facts to use, audience words, and claims to avoid."),
        ]))  # fmt: skip

    if count >= 4:
        name = f"Outline the {w.thing.split(' of ')[0].split()[-1]}"
        phases.append((name, f"Sketch the sections of {short} in notes/outline.md.", [
            Turn(thinking=x.think(name, "Before outlining I will read the brief again so the sections follow from it."),
                 tool_calls=[ToolCall(name="read_file", input={"path": "notes/brief.md"})]),
            Turn(thinking=x.think(name, f"The brief asks for a clear opening, details and an ending; {len(x.sections())} sections cover that."),
                 text=x.say("Here is the outline.", f"Writing the outline for {short}."),
                 tool_calls=[ToolCall(name="write_file", input={"path": "notes/outline.md", "content": x.outline()})]),
            Turn(thinking=x.think(name, "The outline is saved; I will summarise it."),
                 text=f"Outlined {short} in notes/outline.md: {', '.join(x.sections())}."),
        ]))  # fmt: skip

    name = f"{w.verb} the {w.thing}"
    phases.append((name, f"{w.produce} {out}.", [
        Turn(thinking=x.think(name, f"I will read {notes_for_writing} and then write {doc} section by section."),
             tool_calls=[ToolCall(name="read_file", input={"path": notes_for_writing})]),
        Turn(thinking=x.think(name, f"Now {doc} {itself(doc)}, saved as {out}."),
             text=x.say(f"Writing {out} now.", f"Here {verb_s(short, 'come')} {short}."),
             tool_calls=[ToolCall(name="write_file", input={"path": out, "content": x.deliverable()})]),
        Turn(thinking=x.think(name, "The file is written; a short summary closes the phase."),
             text=f"Wrote {out}: {doc} in {len(x.sections())} sections, following the notes."),
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

    they = "they" if be(doc) == "are" else "it"
    plan_thinking = (
        f"The task is: {x.task_line or 'not stated.'} I will produce {doc} and save {pronoun(doc)} as {out}. "
        + x.pick(
            f"{len(phases)} phases should be enough: ",
            f"I'll split the work into {len(phases)} phases: ",
            f"A plan of {len(phases)} phases keeps each step small: ",
        )
        + "; ".join(p[0] for p in phases)
        + ". Notes go under notes/ so later phases can read them back."
    )

    react = [
        Turn(thinking=x.think("", "I will check the workspace before writing anything."),
             tool_calls=[ToolCall(name="list_files", input={"path": "."})]),
        Turn(thinking=x.think("", "A short brief first, so the result has a clear target."),
             tool_calls=[ToolCall(name="write_file", input={"path": "notes/brief.md", "content": x.brief()})]),
        Turn(thinking=x.think("", f"Now {doc} {itself(doc)}."),
             text=x.say(f"Writing {out}."),
             tool_calls=[ToolCall(name="write_file", input={"path": out, "content": x.deliverable(polished=True)})]),
        Turn(thinking=x.think("", "I will read the result back to check it."),
             tool_calls=[ToolCall(name="read_file", input={"path": out})]),
        Turn(thinking=x.think("", "It matches the brief, so I can report."),
             text=f"Done: {out} holds {doc}, and notes/brief.md records who {they} {be(doc)} for and what {they} must include."),
    ]  # fmt: skip

    final = Turn(
        thinking=x.think("Final answer", "Every phase is done; I will summarise the result for the person who asked."),
        text=(
            f"{capital(doc)} {be(doc)} ready in `{out}`.\n\n"
            + "\n".join(f"{i + 1}. {p[0]}: {p[1]}" for i, p in enumerate(phases))
            + f"\n\nOpen `{out}` to see {pronoun(doc)}; the notes under `notes/` show how {they} came together."
        ),
    )
    return Scenario(
        plan=Plan(goal=x.goal(), phases=[PlanPhase(name=n, description=d) for n, d, _ in phases], thinking=plan_thinking),
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
