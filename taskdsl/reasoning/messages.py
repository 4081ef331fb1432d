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
BUILTIN_NOTE = "  (builtins are read as tables obeying the law table, not as arithmetic)"
ANALYSE_OBJECTIVE = "objective {name}: {tasks}"
ANALYSE_DISTRIBUTIONAL = "  in distribution only (not used as rewrite rules): {names}"
ANALYSE_REDUNDANT = "  redundant: {name} follows from {names}"
ANALYSE_ADVERSARIAL = ("  adversarial: {names} cannot all hold: they make {clash} "
                       "(a game, not an error: the tasks pull against each other)")
CLASH_CONSTANTS = "{a} = {b}"
CLASH_COLLAPSE = "any two values of {type} equal ({a} = {b})"
ANALYSE_UNCONSTRAINED = "  unconstrained learners (no task mentions them): {names}"
ANALYSE_UNTRAINED = "  tasks that train no learner: {names}"
ANALYSE_NOTHING = "  nothing to report"
UNKNOWN_OBJECTIVE = "no objective or task `{name}` in {path}{hint}"
