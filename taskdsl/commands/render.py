"""``taskdsl render FILE [--task|--objective|--def NAME] [-o OUT [--force]]``: draw string diagrams.

The picture format follows OUT's extension (svg, png, pdf); without ``-o`` the
SVG goes to standard output, so the command composes with other tools.  ``-o``
never overwrites FILE or a file it imports, nor another existing file unless
``--force`` (exit 2).  ``--output`` is the old spelling of ``--out``, kept hidden.
"""

from __future__ import annotations

import argparse
import sys

from taskdsl.cli import USAGE, refuse_overwrite
from taskdsl.loader import check_file
from taskdsl.render import FORMATS, RenderError, Style, render_program


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "render", help="draw tasks and objectives as string diagrams (Graphviz)",
        description="Draw a file's objectives (or one task, objective or def) as string "
                    "diagrams. Needs Graphviz's `dot` program.")
    parser.add_argument("file", metavar="FILE")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--task", metavar="NAME", help="draw one task")
    which.add_argument("--objective", metavar="NAME", help="draw one objective")
    which.add_argument("--def", dest="definition", metavar="NAME",
                       help="draw one def or refinement as an open diagram")
    parser.add_argument("-o", "--out", metavar="OUT",
                        help=f"write here; the format follows the extension ({', '.join(FORMATS)})"
                             "; default: SVG on standard output")
    parser.add_argument("--output", dest="out", help=argparse.SUPPRESS)  # the old spelling
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUT if it exists (never FILE or a file it imports)")
    parser.add_argument("--direction", choices=("LR", "TB"), default="LR",
                        help="wires flow left to right (LR, default) or top to bottom (TB)")
    parser.add_argument("--no-legend", dest="legend", action="store_false",
                        help="leave out the legend of box shapes")
    parser.add_argument("--structural-types", action="store_true",
                        help="label wires Real[28, 28, 1] rather than by alias (Image)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    result = check_file(args.file)
    if not result.ok:
        print(result.render(), file=sys.stderr)
        return 1
    if args.out:
        refusal = refuse_overwrite(args.out, [args.file, *result.sources], args.force)
        if refusal is not None:
            print(f"error: {refusal}", file=sys.stderr)
            return USAGE
    style = Style(direction=args.direction, legend=args.legend,
                  structural_types=args.structural_types)
    try:
        drawing = render_program(result.program, task=args.task, objective=args.objective,
                                 definition=args.definition, style=style)
        if args.out:
            drawing.write(args.out)
        else:
            sys.stdout.write(drawing.svg())
    except RenderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
