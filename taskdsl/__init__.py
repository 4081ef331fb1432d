"""taskdsl: ML objectives as equations between string diagrams."""
__version__ = "0.1.0"

# Imported for its effect too: it registers how IR values draw themselves in Jupyter.
from taskdsl import render as render
from taskdsl.diagnostics import Diagnostic, TaskError
from taskdsl.loader import Result, check_file, check_text, load

__all__ = ["Diagnostic", "Result", "TaskError", "__version__", "check_file", "check_text", "load"]
