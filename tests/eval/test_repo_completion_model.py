"""With the real 0.5B: the context select_context picks is what the model needs, and
it uses it. A name the document cannot know (defined in another file, reached through
`from . import registry`) is completed right with the repository context and not
without it.

    python -m pytest tests/eval/test_repo_completion_model.py -q      # ~1 min on 2 cores
"""

from __future__ import annotations

import pytest

from codecommons.engines.base import SamplingParams
from codecommons.eval.generate import complete
from codecommons.eval.tasks import get_task
from tests.repocontext.project import write_project

pytestmark = pytest.mark.integration

FILES = {
    "widgets/__init__.py": "",
    "widgets/registry.py": '''\
"""Where every widget is kept."""
from .model import Widget

_BY_SERIAL: dict[str, Widget] = {}


def enrol_widget_under_serial(widget: Widget, serial_code: str) -> None:
    """Keep `widget`, findable by its serial code."""
    _BY_SERIAL[serial_code] = widget


def lookup_widget_by_serial(serial_code: str, *, include_retired: bool = False) -> Widget | None:
    """The widget enrolled under `serial_code`, if any."""
    widget = _BY_SERIAL.get(serial_code)
    if widget is not None and widget.retired and not include_retired:
        return None
    return widget
''',
    "widgets/model.py": '''\
from dataclasses import dataclass


@dataclass
class Widget:
    name: str
    retired: bool = False
''',
    "widgets/service.py": '''\
"""Requests about widgets."""
from . import registry


def describe(serial_code: str) -> str:
    widget = registry.lookup_widget_by_serial(serial_code, include_retired=True)
    return "unknown" if widget is None else widget.name
''',
}


@pytest.fixture(scope="module")
def engine():
    from codecommons.engines.base import load_engine
    from codecommons.models.registry import resolve

    eng = load_engine(resolve("qwen2.5-coder-0.5b"), n_ctx=4096)
    yield eng
    eng.close()


def test_the_definition_lands_in_the_prompt_and_the_model_uses_it(engine, tmp_path):
    root = write_project(tmp_path / "widgets_project", FILES)
    toml = tmp_path / "settings.toml"
    toml.write_text(f'projects = ["{root}"]\nmin_modules = 3\n')
    params = SamplingParams(max_tokens=32, temperature=0.0)
    got = {}
    for condition in ("in-file", "retrieval"):
        task = get_task(f"repo-completion-{condition}", str(toml))
        p = next(p for p in task.problems() if p.meta["path"] == "widgets/service.py")
        assert p.reference == "lookup_widget_by_serial(serial_code, include_retired=True)"
        repo = task.repo_context(p, engine.count_tokens)
        if condition == "retrieval":
            shown = "".join(f.text for f in repo.files)
            assert "def lookup_widget_by_serial(serial_code: str, *, include_retired: bool = False)" in shown
        got[condition] = task.postprocess(p, complete(engine, task, p, "fim", params, repo), "fim")
    assert got["retrieval"].startswith("lookup_widget_by_serial("), got
    assert not got["in-file"].startswith("lookup_widget_by_serial("), got
