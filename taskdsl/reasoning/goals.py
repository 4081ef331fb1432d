"""Reading a goal: a task of the file, or an equation in the language's own syntax.

An equation is checked by the front end itself: it becomes a synthetic task
appended to the file's text (so every name, type and refinement means what
it means in the file).  Its variables need draws; the goal may write them
(``x <- states; a <- views; get(put(x, a)) = a``), and a variable without one
takes the source that a task of the file draws the same name from.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

from taskdsl.builtins import BUILTINS
from taskdsl.ir import Equation, Program
from taskdsl.loader import check_text
from taskdsl.reasoning import messages

GOAL_TASK = "goal__"
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


class GoalError(Exception):
    """A goal that cannot be read; the message says why (a usage error)."""


@dataclass(frozen=True)
class Goal:
    text: str
    equation: Equation
    task: str | None  # the task's name when the goal is a task of the file


def task_name(program: Program, name: str) -> str | None:
    """``name`` as a task of ``program``: exactly, or as the last part of a pattern's task."""
    if name in program.tasks:
        return name
    ends = [t for t in program.tasks if t.endswith("." + name)]
    return ends[0] if len(ends) == 1 else None


def unknown(program: Program, names: list[str], path: str) -> str:
    bad = [n for n in names if task_name(program, n) is None]
    close = difflib.get_close_matches(bad[0], list(program.tasks), n=3) if bad else []
    hint = messages.DID_YOU_MEAN.format(names=", ".join(f"`{c}`" for c in close)) if close else ""
    if not program.tasks:
        hint = messages.NO_TASKS.format(path=path)
    return messages.UNKNOWN_TASK.format(name=bad[0] if bad else "", path=path, hint=hint)


def read_goal(program: Program, text: str, path: str) -> Goal:
    """The goal ``text`` means in ``program`` (read from ``path``); raises :class:`GoalError`."""
    name = task_name(program, text.strip())
    if name is not None:
        return Goal(name, program.tasks[name], name)
    parts = [p.strip() for p in re.split(r"[;\n]", text) if p.strip()]
    if not parts or "=" not in parts[-1] or "<-" in parts[-1]:
        if IDENT.fullmatch(text.strip()):
            raise GoalError(unknown(program, [text.strip()], path))
        raise GoalError(messages.BAD_GOAL.format(goal=text, path=path))
    *draws, equation = parts
    bound = {n.strip() for d in draws for n in d.split("<-")[0].split(",")}
    known = set(program.declarations) | set(program.defs) | set(BUILTINS) | {"id", "copy", "discard", "swap"}
    free = [m.group() for m in IDENT.finditer(equation)
            if m.group() not in known and m.group() not in bound
            and not equation[m.end():].lstrip().startswith(("(", "["))
            and not _is_number(equation, m.start())]
    lines = [*draws, *_inferred(program, list(dict.fromkeys(free)), path, equation)]
    body = "".join(f"    {line}\n" for line in (*lines, equation))
    source = Path(path).read_text(encoding="utf-8")
    result = check_text(f"{source}\n\ntask {GOAL_TASK}:\n{body}", path)
    # A goal may mention no learner (`x = x`): it is a question, not a training term.
    errors = [d for d in result.diagnostics if d.severity == "error" and d.code != "vacuous"]
    if errors or GOAL_TASK not in result.program.tasks:
        rendered = "\n\n".join(d.render(result.sources) for d in errors)
        raise GoalError(messages.GOAL_ERRORS.format(diagnostics=rendered))
    shown = "; ".join((*lines, equation))
    return Goal(shown, result.program.tasks[GOAL_TASK], None)


def _is_number(text: str, start: int) -> bool:
    return start > 0 and (text[start - 1].isdigit() or text[start - 1] == ".")


def _inferred(program: Program, free: list[str], path: str, goal: str) -> list[str]:
    """Draw lines for ``free`` variables, from the draws of the file's tasks."""
    chosen: dict[tuple[str, int], tuple[str, dict[int, str]]] = {}
    for var in free:
        found = next(((t, d, d.names.index(var)) for t, eq in program.tasks.items()
                      for d in eq.draws if var in d.names), None)
        if found is None:
            raise GoalError(messages.UNBOUND.format(name=var, path=path, goal=goal))
        task, draw, index = found
        key = (task, draw.box)
        chosen.setdefault(key, (draw.source, {}))[1][index] = var
    lines = []
    for source, names in chosen.values():
        width = len(program.declarations[source].signature.outputs)
        lines.append(f"{', '.join(names.get(i, '_') for i in range(width))} <- {source}")
    return lines
