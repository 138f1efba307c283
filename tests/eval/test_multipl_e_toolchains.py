"""Each MultiPL-E toolchain compiles and runs in the sandbox with the task's own
command, limits and files (node; javac + java with javatuples and -ea; g++; rustc
with cc, from rustup or Debian; bash), wherever the host has it installed; a
failing assertion fails the program; a missing toolchain or library is named with
how to install it before anything runs.

    python -m pytest tests/eval/test_multipl_e_toolchains.py -q      (~20 s)
"""

from __future__ import annotations

import dataclasses

import pytest

from codecommons.eval import sandbox
from codecommons.eval.execute import ExecutionRefused, check_runnable, task_limits
from codecommons.eval.tasks import TASKS, get_task
from codecommons.eval.tasks.multipl_e import JAVATUPLES, RUNNERS
from codecommons.types import ExecutionResult
from tests.eval import needs

# One program per language: strlen and its checks, the way MultiPL-E's tests check
# (assert / assert_eq! / [[ ]] under set -e). {ok} is the check's expected value:
# right (passes) or wrong (the program must fail).
PROGRAMS = {
    "js": """const assert = require('node:assert');
function strlen(s) { return s.length; }
assert.deepEqual(strlen("abc"), {ok});
""",
    "java": """import java.util.*;
import org.javatuples.*;
class Problem {
    public static long strlen(String s) { return s.length(); }
    public static void main(String[] args) {
        Pair<Long, Long> p = Pair.with(strlen("abc"), {ok}l);
        assert(p.getValue0().equals(p.getValue1()));
    }
}
""",
    "cpp": """#include<assert.h>
#include<bits/stdc++.h>
long strlen2(std::string s) { return s.size(); }
int main() { assert(strlen2("abc") == {ok}); }
""",
    "rs": """fn strlen(s: String) -> isize { s.len() as isize }
fn main() { assert_eq!(strlen(String::from("abc")), {ok}); }
""",
    "sh": """#!/bin/bash
strlen() { echo ${#1}; }
set -e
[[ $(strlen "abc") = "{ok}" ]]
""",
}


def run_program(language: str, ok: int) -> ExecutionResult:
    task = get_task(f"multipl-e-{language}")
    file_name, tools, command = RUNNERS[language]
    limits = task_limits(task, sandbox.SandboxLimits(timeout_s=60.0, cpu_s=60))
    source = PROGRAMS[language].replace("{ok}", str(ok))
    return sandbox.run(["sh", "-c", command], {file_name: source},
                       limits=limits, tools=task.tools, ro_binds=tuple(task.host_files))


@pytest.mark.parametrize("language", [
    pytest.param(lang, marks=needs.task_marks(TASKS[f"multipl-e-{lang}"])) for lang in RUNNERS])
def test_toolchain_runs_in_the_sandbox(language):
    right = run_program(language, 3)
    assert right.status == "passed", right
    wrong = run_program(language, 4)
    assert wrong.status == "failed", wrong  # the check really runs (java: -ea)


def test_missing_library_is_named_before_anything_runs(monkeypatch):
    task = get_task("multipl-e-java")
    monkeypatch.setattr(type(task), "host_files",
                        {"/nonexistent/javatuples.jar": "apt-get install -y libjavatuples-java"})
    monkeypatch.setattr(sandbox, "find_tools", lambda names: ())  # the JDK is there
    with pytest.raises(ExecutionRefused) as err:
        check_runnable(task, allow_code_execution=True)
    assert "/nonexistent/javatuples.jar: missing" in str(err.value)
    assert "apt-get install -y libjavatuples-java" in str(err.value)


def test_java_runs_without_an_address_space_cap():
    """The JVM does not start under the default 1 GiB RLIMIT_AS (limits.py)."""
    limits = task_limits(get_task("multipl-e-java"), sandbox.SandboxLimits())
    assert limits.address_space_mb == 0 and limits.memory_mb == 1024
    assert dataclasses.replace(limits, address_space_mb=None) == sandbox.SandboxLimits()
    assert JAVATUPLES in RUNNERS["java"][2]


# -- known scoring bugs outside the toolchains (strict: they fail loudly once fixed) -------


def run_task_program(task_name: str, completion: str, mode: str) -> ExecutionResult:
    task = get_task(task_name)
    p = next(q for q in task.problems() if q.task_id == "HumanEval_23_strlen")
    prog = task.program(p, completion, mode)
    return sandbox.run(prog.cmd, prog.files, limits=task_limits(task, sandbox.SandboxLimits()),
                       tools=task.tools, ro_binds=tuple(task.host_files))


# HumanEval_23_strlen in each language: a base completion (the body after the prompt)
# and an instruct answer (the whole function)
STRLEN = {
    "js": ("  return string.length;\n}\n", "function strlen(string){\n  return string.length;\n}\n"),
    "java": ("        return (long)string.length();\n",
             "public static long strlen(String string) {\n    return (long)string.length();\n}\n"),
    "cpp": ("    return string.size();\n",
            "long string_length(std::string string) {\n    return string.size();\n}\n"),
    "rs": ("    string.len() as isize\n", "fn strlen(string: String) -> isize {\n    string.len() as isize\n}\n"),
    "sh": ("    echo ${#1}\n", "strlen() {\n    echo ${#1}\n}\n"),
}


@pytest.mark.parametrize("lang", [pytest.param(lang, marks=needs.task_marks(TASKS[f"multipl-e-{lang}"]))
                                  for lang in STRLEN])
def test_base_and_instruct_programs_run_in_every_language(lang):
    """The shipped prompts lost their docstring's comment markers after the first line
    (the loader restores them, so prompt + completion parses), and in C++, Java, Rust
    and Bash the tests begin with the function's closing brace (a whole-function answer's
    own is dropped, the prompt's #include/import lines kept)."""
    base, whole = STRLEN[lang]
    res = run_task_program(f"multipl-e-{lang}", base, "base")
    assert res.status == "passed", res
    res = run_task_program(f"multipl-e-{lang}", whole, "instruct")
    assert res.status == "passed", res
