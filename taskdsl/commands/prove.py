"""``taskdsl prove FILE GOAL [--using T1,T2,...]``: prove or refute a goal from a file's tasks.

Exit 0 when proved, 1 when refuted or undecided within the budget (the output
says which), 2 on a usage error.  See docs/reasoning.md.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prove", help="prove or refute a goal from a file's tasks")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("goal", metavar="GOAL",
                        help="a task of FILE, or an equation such as 'get(put(x, a)) = a'")
    parser.add_argument("--using", metavar="T1,T2,...",
                        help="assume only these tasks (default: every task but the goal)")
    parser.add_argument("--iterations", type=int, default=30, help="e-graph iterations (30)")
    parser.add_argument("--seconds", type=float, default=5.0, help="e-graph time budget (5)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskdsl.loader import check_file
    from taskdsl.reasoning import messages
    from taskdsl.reasoning.egraph import Budget
    from taskdsl.reasoning.goals import GoalError, read_goal, task_name, unknown
    from taskdsl.reasoning.proving import Verdict, prove, render

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
    return 0 if outcome.verdict is Verdict.PROVED else 1
