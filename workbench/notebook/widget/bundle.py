"""The widget's front end joined into the one ES module that anywidget ships.

anywidget sends ``_esm`` to the browser as a single string and imports it from a Blob URL, where
relative imports cannot resolve; the exported page does the same. So the files in ``static/``
stay plain ES modules that a person reads one at a time, and this joins them, with no build step,
when the widget is first imported: each module a sibling imports runs once, in its own function
scope, in dependency order, and each ``import { a, b as c } from "./x.js";`` becomes
``const { a, b: c } = <what x.js exports>;``.

Only those forms are understood: one-line named imports of siblings, and in every module but the
entry one ``export { ... };`` as its last line. Anything else raises :class:`BundleError` here,
so a file that would not join fails at import rather than in someone's browser.

``limits.js`` is made here, not read: the limits the kernel sends by (:func:`.messages.view_limits`), so
the front end cannot drift from them.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from workbench.notebook.widget.messages import view_limits

__all__ = ["BundleError", "front_end", "join_modules"]

STATIC = Path(__file__).parent / "static"
ENTRY = "run_view.js"

_IMPORT = re.compile(r'^import \{([^}]*)\} from "\./([\w-]+\.js)";[^\n]*$', re.MULTILINE)
_EXPORTS = re.compile(r"^export \{([^}]*)\};\s*\Z", re.MULTILINE)
_ANY_IMPORT = re.compile(r"^\s*import\b", re.MULTILINE)
_ANY_EXPORT = re.compile(r"^\s*export\b", re.MULTILINE)
_NAME = r"[A-Za-z_$][\w$]*"
_BINDING = re.compile(rf"^({_NAME})(?:\s+as\s+({_NAME}))?$")


class BundleError(ValueError):
    """A front-end file uses a form of ``import`` or ``export`` that the joiner does not understand."""


def _generated() -> dict[str, str]:
    limits = json.dumps(view_limits(), separators=(",", ":"))
    return {"limits.js": f"const LIMITS = Object.freeze({limits});\n\nexport {{ LIMITS }};\n"}


def _bindings(names: str, where: str) -> list[tuple[str, str]]:
    """``a, b as c`` as ``[(a, a), (b, c)]``: each name with the one it is bound to."""
    pairs = []
    for part in filter(None, (p.strip() for p in names.split(","))):
        match = _BINDING.match(part)
        if match is None:
            raise BundleError(f"{where}: cannot read {part!r} in an import or export list")
        pairs.append((match.group(1), match.group(2) or match.group(1)))
    return pairs


def _variable(file: str) -> str:
    return "__wb_" + re.sub(r"\W", "_", file.removesuffix(".js"))


def _body(file: str, source: str, entry: bool) -> tuple[str, list[str]]:
    """``source`` with its sibling imports replaced, and the files it imports."""
    imported: list[str] = []

    def replace(match: re.Match[str]) -> str:
        imported.append(match.group(2))
        pairs = _bindings(match.group(1), file)
        names = ", ".join(name if name == local else f"{name}: {local}" for name, local in pairs)
        return f"const {{ {names} }} = {_variable(match.group(2))};"

    body = _IMPORT.sub(replace, source)
    if _ANY_IMPORT.search(body):
        raise BundleError(f"{file}: only one-line imports of siblings, import {{ ... }} from \"./x.js\";")
    if entry:
        return body, imported
    exports = _EXPORTS.search(body)
    if exports is None or len(_ANY_EXPORT.findall(body)) != 1:
        raise BundleError(f"{file}: a module must end with its one export list, export {{ ... }};")
    pairs = _bindings(exports.group(1), file)
    returned = ", ".join(local if local == name else f"{name}: {local}" for local, name in pairs)
    return body[: exports.start()] + f"return {{ {returned} }};\n", imported


def join_modules(sources: dict[str, str], entry: str) -> str:
    """The modules ``sources`` (file name -> text) as one module that runs as ``entry`` would."""
    done: list[str] = []
    chunks: list[str] = []
    visiting: set[str] = set()

    def visit(file: str) -> None:
        if file in done:
            return
        if file in visiting:
            raise BundleError(f"{file} imports itself through its siblings")
        if file not in sources:
            raise BundleError(f"no front-end file {file}")
        visiting.add(file)
        body, imported = _body(file, sources[file], file == entry)
        for dependency in imported:
            visit(dependency)
        visiting.discard(file)
        done.append(file)
        if file == entry:
            chunks.append(f"// --- {file}\n{body}")
        else:
            chunks.append(f"// --- {file}\nconst {_variable(file)} = (() => {{\n{body}}})();\n")

    visit(entry)
    head = "// Agent Workbench front end: static/*.js joined by workbench/notebook/widget/bundle.py.\n"
    return head + "\n".join(chunks)


@functools.cache
def front_end(entry: str = ENTRY) -> str:
    """A widget's module: ``static/run_view.js`` (or another ``entry`` there, such as the comparison
    table's ``compare_view.js``) with everything it imports joined in."""
    sources = {path.name: path.read_text("utf-8") for path in STATIC.glob("*.js")}
    sources.update(_generated())
    return join_modules(sources, entry)
