"""Every user-facing string of the reasoning, in one place."""

from __future__ import annotations

NO_FILE = "{path}: cannot prove from a file with errors:\n{diagnostics}"
UNKNOWN_TASK = "no task `{name}` in {path}{hint}"
NO_TASKS = (" ({path} has no tasks: a file of patterns only; prove from a file that `use`s "
            "them, as examples/sprites_lens.task does)")
DID_YOU_MEAN = " (did you mean {names}?)"
BAD_GOAL = "the goal `{goal}` is not a task of {path} nor an equation `lhs = rhs`"
GOAL_ERRORS = "the goal does not check (it is read as a task appended to the file):\n{diagnostics}"
UNBOUND = ("`{name}` in the goal is not drawn from a source in any task of {path}; "
           "say where it comes from, e.g. `{name} <- SOURCE; {goal}`")
DISTRIBUTIONAL_GOAL = ("undecided: `{goal}` holds only in distribution (each side draws what the "
                       "other does not), so it has no pointwise proof")
UNEQUAL_GOAL = ("undecided: `{goal}` is not an equation (its divergence is a critic, a margin "
                "or a likelihood of another kind of value), so there is nothing to prove")
PROVED = "proved: {goal}"
FROM = "  from: {names}"
STEP = "  {n:>3}. = {term}    by {rule} ({direction}) at {subterm}"
START = "       {term}"
NO_DERIVATION = ("  (the e-graph proved it; no step-by-step derivation was found within the "
                 "search bounds)")
REFUTED = "refuted: {goal} does not follow from {names}"
COUNTERMODEL = "countermodel (every assumed task holds, the goal fails):"
WITNESS = "  the goal fails at {env}: {lhs} = {lhs_value} but {rhs} = {rhs_value}"
UNDECIDED = ("undecided: {goal} was not proved within {iterations} e-graph iterations, "
             "and no countermodel with types of up to {max_size} values was found")
IGNORED = "  (not used: {names} — equal only in distribution)"
IGNORED_UNEQUAL = ("  (not used: {names} — not equations: a critic, a margin or a likelihood "
                   "drives its sides apart or compares unlike things)")
BUILTIN_NOTE = "  (builtins are read as tables obeying the law table, not as arithmetic)"
ANALYSE_OBJECTIVE = "objective {name}: {tasks}"
ANALYSE_DISTRIBUTIONAL = "  in distribution only (not used as rewrite rules): {names}"
ANALYSE_UNEQUAL = ("  not equations (a critic, a margin or a likelihood; not used as rewrite "
                   "rules): {names}")
ANALYSE_REDUNDANT = "  redundant: {name} follows from {names}"
ANALYSE_ADVERSARIAL = ("  adversarial: {names} cannot all hold: they make {clash} "
                       "(a game, not an error: the tasks pull against each other)")
CLASH_CONSTANTS = "{a} = {b}"
CLASH_COLLAPSE = "any two values of {type} equal ({a} = {b})"
ANALYSE_UNCONSTRAINED = "  unconstrained learners (no task mentions them): {names}"
ANALYSE_UNTRAINED = "  tasks that train no learner: {names}"
ANALYSE_NOTHING = "  nothing to report"
UNKNOWN_OBJECTIVE = "no objective or task `{name}` in {path}{hint}"
RENDER_INPUT = "--render {path}: that is the input file; draw into another file"
RENDER_FORMAT = "--render {path}: a derivation is drawn as SVG; end the name in .svg"
RENDER_NOTHING = "(nothing drawn to {path}: {why})"
RENDER_NOT_PROVED = "the goal was not proved, so there is no derivation"
RENDER_NO_STEPS = "the e-graph proved it, but no step-by-step derivation was found"
RENDER_WROTE = "drew {steps} step(s) to {path}"
RENDER_FAILED = "--render {path}: {reason}"
RENDER_SECTION = "{goal}   (from {names})"
CLAIM_REFUTED = "claim `{name}` is false: `{goal}` does not follow from {using}"
CLAIM_COUNTERMODEL = "a countermodel, in which every assumed task holds and the goal fails:\n{model}"
CLAIM_UNDECIDED = "claim `{name}` could not be checked: {why}"
CLAIM_DISTRIBUTIONAL = ("`{goal}` holds only in distribution (each side draws what the other "
                        "does not), so it has no pointwise proof")
CLAIM_DISTRIBUTIONAL_HELP = "a claim must hold for every draw; state it over the same draws"
CLAIM_UNEQUAL = ("`{goal}` is not an equation (its divergence is a critic, a margin or a "
                 "likelihood of another kind of value)")
CLAIM_UNEQUAL_HELP = "claim an equation between values of one type, compared by a distance"
CLAIM_BUDGET = ("`{goal}` was neither proved from {names} within {iterations} e-graph "
                "iterations and {seconds} s, nor refuted by a countermodel with types of up "
                "to {max_size} values")
CLAIM_BUDGET_HELP = ("give it more time with `taskdsl check --claim-seconds {more}`, or see what "
                     "is tried with `{command} --seconds {more}`")
SIMPLIFY_HEADING = ("Tasks simplified (refinements inlined, each side rewritten by the builtins' "
                    "laws, never by the file's tasks):")
SIMPLIFY_TASK = "  {name}: {before}"
SIMPLIFY_AFTER = "     ⇒ {after}    by {laws}"
SIMPLIFY_SAME = "     (no law applies)"
SIMPLIFY_REFINED = "     refines {names}: written {written}"
SIMPLIFY_PATTERN = "Pattern {name}:"
SIMPLIFY_UNEXPLAINED = "the laws (the e-graph's; no derivation replayed within the search bounds)"
ANALYSE_REFINED = ("  refined: {name} (refining {refinements}), written {written}, "
                   "is trained as {trained}")
ANALYSE_GIVEN = "    given {names}, it becomes {becomes}"
CLOSEST = "  closest forms reached: {lhs} = {rhs}"
CLOSEST_NOTHING = "  (the two sides share nothing: no term, not even a variable, is common to both)"
CLOSEST_INSIDE = "  (they differ already at the outermost box; they share only inner parts)"
CLAIM_REACHED = "; the closest it got:\n{reached}"
