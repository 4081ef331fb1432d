"""``taskdsl analyse FILE [--objective O]``: redundant, adversarial and idle tasks and learners,
and what each refinement turns each task into.

Exit 0 after the report (an adversarial pair is a finding, not an error), 2 on
a usage error.  See docs/reasoning.md.
"""

from __future__ import annotations

import argparse
import difflib
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("analyse", help="find redundant and adversarial tasks")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--objective", metavar="O", help="one objective or task (default: all)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from taskdsl.loader import check_file
    from taskdsl.queries import find_objective, objective_names
    from taskdsl.reasoning import messages
    from taskdsl.reasoning.analysis import analyse, render

    result = check_file(args.file)
    if not result.ok:
        print(messages.NO_FILE.format(path=args.file, diagnostics=result.render()), file=sys.stderr)
        return 2
    program = result.program
    if args.objective is not None:
        found = find_objective(program, args.objective)
        if found is None:
            close = difflib.get_close_matches(args.objective, objective_names(program), n=3)
            hint = messages.DID_YOU_MEAN.format(names=", ".join(f"`{c}`" for c in close)) if close else ""
            print(messages.UNKNOWN_OBJECTIVE.format(name=args.objective, path=args.file, hint=hint),
                  file=sys.stderr)
            return 2
        objectives = [found]
    else:
        objectives = list(program.objectives.values()) or [
            program.objective(t) for t in program.tasks]
    print("\n\n".join(render(analyse(program, o)) for o in objectives))
    return 0
