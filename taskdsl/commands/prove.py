"""``taskdsl prove FILE GOAL [--using T1,T2,...] [--render OUT.svg]``: prove or refute a goal
from a file's tasks; ``--render`` draws the derivation, a string diagram per step
(:mod:`taskdsl.reasoning.drawing`).

Exit 0 when proved, 1 when refuted or undecided within the budget (the output
says which), 2 on a usage error.  See docs/reasoning.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskdsl.reasoning.goals import Goal
    from taskdsl.reasoning.proving import Outcome


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prove", help="prove or refute a goal from a file's tasks")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("goal", metavar="GOAL",
                        help="a task of FILE, or an equation such as 'get(put(x, a)) = a'")
    parser.add_argument("--using", metavar="T1,T2,...",
                        help="assume only these tasks (default: every task but the goal)")
    parser.add_argument("--iterations", type=int, default=30, help="e-graph iterations (30)")
    parser.add_argument("--seconds", type=float, default=5.0, help="e-graph time budget (5)")
    parser.add_argument("--render", metavar="OUT.svg",
                        help="draw the derivation into OUT.svg: a string diagram per step, "
                             "the rewritten part framed")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskdsl.loader import check_file
    from taskdsl.reasoning import messages
    from taskdsl.reasoning.egraph import Budget
    from taskdsl.reasoning.goals import GoalError, read_goal, task_name, unknown
    from taskdsl.reasoning.proving import Verdict, prove, render

    if args.render is not None:
        problem = _render_problem(args.render, args.file)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
    result = check_file(args.file)
    if not result.ok:
        print(messages.NO_FILE.format(path=args.file, diagnostics=result.render()), file=sys.stderr)
        return 2
    program = result.program
    using = None
    if args.using is not None:
        wanted = [n.strip() for n in args.using.split(",") if n.strip()]
        if any(task_name(program, n) is None for n in wanted):
            print(unknown(program, wanted, args.file), file=sys.stderr)
            return 2
        using = [task_name(program, n) for n in wanted]
    try:
        goal = read_goal(program, args.goal, args.file)
    except GoalError as error:
        print(error, file=sys.stderr)
        return 2
    outcome = prove(program, goal, using, Budget(args.iterations, args.seconds))
    print(render(outcome, goal))
    if args.render is not None:
        done = _draw(outcome, goal, args.render)
        if done is not None:
            print(done, file=sys.stderr)
            return 2
    return 0 if outcome.verdict is Verdict.PROVED else 1


def _render_problem(out: str, source: str) -> str | None:
    """Why ``out`` cannot be drawn into (the input file itself, not an SVG), or None."""
    from pathlib import Path

    from taskdsl.reasoning import messages

    try:
        same = Path(out).resolve() == Path(source).resolve() or (
            Path(out).exists() and Path(out).samefile(source))
    except (OSError, ValueError):
        same = False
    if same:
        return messages.RENDER_INPUT.format(path=out)
    if Path(out).suffix.lower() != ".svg":
        return messages.RENDER_FORMAT.format(path=out)
    return None


def _draw(outcome: Outcome, goal: Goal, out: str) -> str | None:
    """Draw ``outcome``'s derivations into ``out``; a message on a failure to write, else None."""
    from taskdsl.reasoning import messages
    from taskdsl.reasoning.drawing import page, panels
    from taskdsl.reasoning.proving import Verdict
    from taskdsl.render import RenderError

    if outcome.verdict is not Verdict.PROVED:
        print(messages.RENDER_NOTHING.format(path=out, why=messages.RENDER_NOT_PROVED))
        return None
    found = [(rule, steps) for rule, steps in zip(outcome.goal, outcome.derivations, strict=True)
             if steps is not None]
    if not found:
        print(messages.RENDER_NOTHING.format(path=out, why=messages.RENDER_NO_STEPS))
        return None
    names = ", ".join(outcome.assumed) or "no tasks"
    try:
        sections = [(messages.RENDER_SECTION.format(goal=goal.text if len(found) == 1
                                                    else rule.name, names=names),
                     panels(rule, steps, outcome.symbols)) for rule, steps in found]
        text = page(sections)
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
    except (RenderError, OSError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        return messages.RENDER_FAILED.format(path=out, reason=reason)
    print(messages.RENDER_WROTE.format(steps=sum(len(s) for _, s in found), path=out))
    return None
