"""The widget's front-end files joined into the one ES module anywidget ships (``bundle``).

Whether the joined module runs is for the browser tests (test_widget_browser, which load it as
the widget and the exported page do); here: what the joiner writes, and what it refuses.
"""

from __future__ import annotations

import json
import re

import pytest

from workbench.notebook.widget.bundle import STATIC, BundleError, front_end, join_modules
from workbench.notebook.widget.messages import MAX_ENVELOPES, MAX_ITEMS
from workbench.notebook.widget.view import RunView


def test_siblings_run_once_each_in_their_own_scope_before_the_entry():
    sources = {
        "main.js": 'import { twice } from "./util.js";\nimport { one as base } from "./base.js"; // why\n'
                   "export default twice(base);\n",
        "util.js": 'import { one } from "./base.js";\nconst twice = (n) => 2 * n * one;\nexport { twice };\n',
        "base.js": "const one = 1;\nexport { one };\n",
    }
    assert join_modules(sources, "main.js") == (
        "// Agent Workbench front end: static/*.js joined by workbench/notebook/widget/bundle.py.\n"
        "// --- base.js\nconst __wb_base = (() => {\nconst one = 1;\nreturn { one };\n})();\n\n"
        "// --- util.js\nconst __wb_util = (() => {\nconst { one } = __wb_base;\n"
        "const twice = (n) => 2 * n * one;\nreturn { twice };\n})();\n\n"
        "// --- main.js\nconst { twice } = __wb_util;\nconst { one: base } = __wb_base;\nexport default twice(base);\n"
    )


@pytest.mark.parametrize(
    "sources, problem",
    [
        ({"main.js": 'import * as util from "./util.js";\n', "util.js": "export { x };\n"}, "one-line imports"),
        ({"main.js": 'import { x } from "./util.js";\n', "util.js": "export const x = 1;\n"}, "one export list"),
        ({"main.js": 'import { x } from "./util.js";\n', "util.js": "const x = 1;\nexport { x };\nx;\n"}, "one export list"),
        ({"main.js": 'import { x } from "./util.js";\n',
          "util.js": 'import { y } from "./main.js";\nconst x = 1;\nexport { x };\n'}, "imports itself"),
        ({"main.js": 'import { x } from "./gone.js";\n'}, "no front-end file gone.js"),
        ({"main.js": 'import { x-y } from "./util.js";\n', "util.js": "export { x };\n"}, "cannot read 'x-y'"),
    ],
)
def test_forms_it_does_not_understand_fail_here_not_in_a_browser(sources, problem):
    with pytest.raises(BundleError, match=re.escape(problem)):
        join_modules(sources, "main.js")


def test_the_widget_ships_every_front_end_file_and_the_kernels_limits():
    module = front_end()
    assert RunView._esm == module
    joined = re.findall(r"^// --- (\S+)$", module, re.M)
    # Each file comes after every file it imports, once; the entry point last.
    assert joined[-1] == "run_view.js" and len(joined) == len(set(joined))
    for name in set(joined) - {"limits.js"}:  # limits.js is written by bundle.py, and imports nothing
        imported = re.findall(r'^import .* from "\./(\S+\.js)";$', (STATIC / name).read_text("utf-8"), re.M)
        assert all(joined.index(dep) < joined.index(name) for dep in imported), name
    on_disk = {path.name for path in STATIC.glob("*.js")}
    # the exported page's bootstrap and the stand-in model it shares with the web view of runs, not the widget's;
    # the comparison table's entry, joined on its own (below)
    assert on_disk - set(joined) == {"export_bootstrap.js", "stand_in_model.js", "compare_view.js"}
    limits = json.loads(re.search(r"const LIMITS = Object\.freeze\((.*)\);", module).group(1))
    assert limits == {"deltaTypes": ["text:delta", "thinking:delta"], "maxItems": MAX_ITEMS, "maxEnvelopes": MAX_ENVELOPES}
    model = (STATIC / "run_model.js").read_text("utf-8")
    assert model.rsplit("export {", 1)[0] in module  # the model as test_run_model_browser imports it
    assert module.count("export default") == 1 and not re.search(r"^\s*import\b", module, re.M)


def test_the_comparison_table_ships_its_own_entry_with_the_helpers_it_imports():
    from workbench.notebook.compare.view import CompareTable

    module = front_end("compare_view.js")
    assert CompareTable._esm == module
    assert re.findall(r"^// --- (\S+)$", module, re.M) == ["dom.js", "compare_view.js"]
    assert module.count("export default") == 1 and not re.search(r"^\s*import\b", module, re.M)
