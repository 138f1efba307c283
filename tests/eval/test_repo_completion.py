"""The repo-completion task: problems built from a project (a cross-file name at the
cursor), the context of each condition, CrossCodeEval's metrics, the report per project.

    python -m pytest tests/eval/test_repo_completion.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codecommons.eval.execute import execute
from codecommons.metrics import code_identifiers, edit_similarity, identifier_match, line_exact_match
from codecommons.eval.score import score
from codecommons.eval.tasks import TASKS, get_task
from codecommons.eval.tasks.repo_completion import RepoSettings, cross_file_uses, project_root
from codecommons.repocontext import RepoIndex
from tests.repocontext.project import write_project


def count(text: str) -> int:
    return len(text) // 4 + 1


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Path:
    root = write_project(tmp_path_factory.mktemp("proj") / "shop_project")
    toml = root.parent / "settings.toml"
    toml.write_text(f'projects = ["{root}"]\nproblems_per_project = 50\nmin_modules = 5\n'
                    f'context_tokens = 400\nwindow_tokens = 512\nmax_per_file = 10\n')
    return toml


def test_every_problem_completes_a_line_that_uses_a_name_from_another_file(settings):
    task = get_task("repo-completion-retrieval", str(settings))
    problems = task.problems()
    root = Path(task.config.projects[0])
    found = {(p.meta["path"], p.reference) for p in problems}
    assert ("shop/cart.py", "total_with_tax(cents)") in found  # after `pricing.`
    assert ("shop/cart.py", "Product, int]] = []") in found  # first use of Product
    assert ("app.py", "Cart()") in found and ("app.py", "total_with_tax(cart.total()))") in found
    # `slug(...)` and `text_utils.slugify(...)` are one definition: only its first use
    assert [p.reference for p in problems if p.meta["name"] == "slugify"] == [
        'slug(name) + text_utils.slugify("cart")']
    for p in problems:
        assert p.reference.startswith(p.meta["used"]) and not p.meta["definition"].startswith(p.meta["path"] + ":")
        text = (root / p.meta["path"]).read_text()
        assert text.startswith(p.prompt + p.reference) and text.endswith(p.suffix)
        assert p.suffix.startswith("\n") or p.suffix == ""
        assert task.group(p.task_id) == "shop_project"


def test_local_names_that_shadow_an_import_are_not_uses(tmp_path):
    root = write_project(tmp_path / "p", {
        "pkg/__init__.py": "", "pkg/a.py": "def helper():\n    pass\n\nVALUE = 1\n",
        "pkg/b.py": ("from .a import helper\nfrom . import a\n\n\ndef shadowed():\n    helper = 3\n"
                     "    return helper\n\n\ndef looped(a):\n    for helper in []:\n        pass\n"
                     "    return a.VALUE\n\n\ndef real():\n    return helper() + a.VALUE\n")})
    index = RepoIndex(root)
    uses = cross_file_uses(index, "pkg/b.py", (root / "pkg/b.py").read_text())
    assert [(u.row + 1, u.used) for u in uses] == [(17, "helper"), (17, "VALUE")]


def test_problems_are_drawn_with_a_fixed_seed_and_a_cap_per_file(settings, tmp_path):
    def ids(seed: int, per_file: int, n: int) -> list[str]:
        toml = tmp_path / f"s{seed}{per_file}{n}.toml"
        toml.write_text(settings.read_text().replace("problems_per_project = 50", f"problems_per_project = {n}")
                        .replace("max_per_file = 10", f"max_per_file = {per_file}") + f"seed = {seed}\n")
        return [p.task_id for p in get_task("repo-completion-in-file", str(toml)).problems()]

    assert ids(0, 10, 4) == ids(0, 10, 4)
    capped = ids(0, 1, 50)
    files = [t.rsplit(":", 2)[0] for t in capped]
    assert len(files) == len(set(files))  # one per file
    assert {ids(s, 10, 3)[0] for s in range(6)} != {ids(0, 10, 3)[0]}  # the seed matters


def test_a_project_too_small_is_refused(settings, tmp_path):
    toml = tmp_path / "small.toml"
    toml.write_text(settings.read_text().replace("min_modules = 5", "min_modules = 15"))
    with pytest.raises(ValueError, match=">= 15"):
        get_task("repo-completion-in-file", str(toml)).problems()


def test_settings_and_project_names(tmp_path):
    assert RepoSettings.parse("email, click").projects == ["email", "click"]
    bad = tmp_path / "bad.toml"
    bad.write_text("projects = ['email']\nbudget = 3\n")
    with pytest.raises(ValueError, match="unknown keys \\['budget'\\]"):
        RepoSettings.parse(str(bad))
    with pytest.raises(FileNotFoundError, match="--data"):
        RepoSettings.parse(str(tmp_path / "missing.toml"))
    assert (project_root("email") / "message.py").is_file()
    with pytest.raises(ValueError, match="not a folder"):
        project_root("no_such_package_anywhere")
    assert {"repo-completion-in-file", "repo-completion-ring-buffer", "repo-completion-retrieval"} <= set(TASKS)


def _problem(settings, condition: str, reference: str):
    task = get_task(f"repo-completion-{condition}", str(settings))
    return task, next(p for p in task.problems() if p.reference == reference)


def test_conditions_differ_only_in_their_context(settings):
    _, p = _problem(settings, "in-file", "total_with_tax(cents)")
    contexts = {}
    for condition in ("in-file", "ring-buffer", "retrieval"):
        task = get_task(f"repo-completion-{condition}", str(settings))
        ctx = task.repo_context(p, count)
        assert (ctx.repo_name, ctx.path) == ("shop_project", "shop/cart.py")
        assert all(c["path"] != "shop/cart.py" for c in ctx.chunks)  # the document is withheld
        assert sum(count(f"{f.path}\n{f.text}\n") for f in ctx.files) <= task.config.context_tokens + 8
        contexts[condition] = ctx
    assert contexts["in-file"].files == []
    # retrieval shows total_with_tax's definition (here in pricing.py's outline)
    assert any("def total_with_tax(cents: int, rate: float = TAX_RATE) -> int" in f.text
               for f in contexts["retrieval"].files)
    # the ring buffer holds whole 32-line windows of the imported files (and two others)
    ring = contexts["ring-buffer"].chunks
    assert ring and {c["kind"] for c in ring} == {"client"}
    assert {"shop/models.py", "shop/pricing.py"} & {c["path"] for c in ring}


def test_cceval_metrics_on_hand_made_examples():
    assert line_exact_match("foo(a, b)  # same call", "  foo(a, b)")
    assert not line_exact_match("foo(a, c)", "foo(a, b)")
    assert edit_similarity("foo(a, b)", "foo(a, b)") == 1.0
    assert edit_similarity("abcd", "abXd") == pytest.approx(0.75)  # 2 * 3 matches / 8 characters
    assert code_identifiers('x = self.f("not an id", True, None)  # nor this') == ["x", "self", "f", "True"]
    assert identifier_match("f(a, b)", "f(a, b)") == (True, 1.0)
    em, f1 = identifier_match("f(a)", "f(b)")
    assert not em and f1 == pytest.approx(0.5)  # {f, a} vs {f, b}: 2 * 1 / 4


def test_scores_are_reported_overall_and_per_project(settings, tmp_path):
    task = get_task("repo-completion-in-file", str(settings))
    problems = task.problems()[:4]
    samples = tmp_path / "samples.jsonl"
    completions = [problems[0].reference, problems[1].reference + "  # note", "wrong()", ""]
    samples.write_text("".join(json.dumps({"task_id": p.task_id, "sample": 0, "mode": "fim",
                                           "completion": c}) + "\n" for p, c in zip(problems, completions)))
    results = execute(task, problems, samples, tmp_path / "results.jsonl", allow_code_execution=False,
                      progress=False)
    report = score(task, results, tmp_path, {"mode": "fim"})
    m = report["metrics"]
    assert m["exact_match"] == 0.5 and 0.5 < m["edit_similarity"] < 1.0
    assert m["identifier_em"] == 0.5 and set(m) == {"exact_match", "edit_similarity", "identifier_em",
                                                     "identifier_f1"}
    assert report["by_group"]["shop_project"]["n_problems"] == 4
    assert "| shop_project | 4 |" in (tmp_path / "report.md").read_text()
