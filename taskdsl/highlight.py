"""A Pygments lexer for ``.task`` files, so docs, notebooks and terminals colour them.

Registered under the ``pygments.lexers`` entry point (name ``taskdsl``, alias
``task``, files ``*.task``), so ``pygmentize -l task``, Sphinx's
``.. code-block:: task`` and mkdocs find it once taskdsl is installed.

The word lists come from the grammar's terminals (``grammar/task.lark``) and
from :mod:`taskdsl.builtins`, so a new builtin or divergence is coloured
without touching this file.  Keywords that are also valid names (a pattern's
``data`` parameter) count as keywords only where the grammar reads them as one:
before the name they declare.
"""

from __future__ import annotations

from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

from taskdsl.builtins import ALL_DIVERGENCES, BUILTINS, DISTRIBUTIONS, STRUCTURAL

__all__ = [
    "BOX_KINDS",
    "DECLARING",
    "KEYWORDS",
    "NAMESPACE",
    "TYPES",
    "TaskLexer",
]

# Words that declare the name after them: the box kinds, then the statements that name a thing.
BOX_KINDS = ("learner", "fixed", "data", "random", "const")
DECLARING = ("type", "def", "refine", "task", "objective", "pattern", "train", "impl", "claim")
# Words that only ever mean themselves.
KEYWORDS = ("let", "trains", "by")
NAMESPACE = ("import", "from", "use", "as")
TYPES = ("Real", "Class", "Binary", "Gaussian", "Tokens")
OPERATORS = (">>", "<-", "->", "...", "@", "=", "~", "+", "*")

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DISTRIBUTIONS = tuple(dict.fromkeys(d for ds in DISTRIBUTIONS.values() for d in ds))


class TaskLexer(RegexLexer):
    """The ``.task`` language of taskdsl: boxes, string diagrams and tasks as equations."""

    name = "taskdsl"
    aliases: ClassVar[list[str]] = ["taskdsl", "task"]
    filenames: ClassVar[list[str]] = ["*.task"]
    mimetypes: ClassVar[list[str]] = ["text/x-taskdsl"]
    url = "https://github.com/taskdsl/taskdsl"

    tokens: ClassVar[dict[str, list]] = {
        "root": [
            (r"[\t \f]+", Whitespace),
            (r"\r?\n", Whitespace),
            (r"\\[\t \f]*\r?\n", Text),  # a line continuation
            (r"#[^\n]*", Comment.Single),
            (r'"([^"\\\n]|\\.)*"', String.Double),
            # A keyword counts as one before the name it declares; elsewhere it is a name.
            (rf"({'|'.join(BOX_KINDS)})([\t ]+)({_NAME})", bygroups(Keyword.Declaration, Whitespace,
                                                                   Name.Function)),
            (rf"(type)([\t ]+)({_NAME})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"({'|'.join(DECLARING)})([\t ]+)({_NAME})", bygroups(Keyword.Declaration, Whitespace,
                                                                   Name.Function)),
            (words(NAMESPACE, suffix=r"\b"), Keyword.Namespace),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(("true", "false"), prefix=r"\b", suffix=r"\b"), Keyword.Constant),
            (words(TYPES, prefix=r"\b", suffix=r"\b"), Keyword.Type),
            (words((*BUILTINS, *STRUCTURAL), prefix=r"\b", suffix=r"\b"), Name.Builtin),
            (words((*ALL_DIVERGENCES, *_DISTRIBUTIONS), prefix=r"\b", suffix=r"\b"), Name.Builtin.Pseudo),
            (r"-?((\d+\.\d*|\d*\.\d+)([eE][-+]?\d+)?|\d+[eE][-+]?\d+)", Number.Float),
            (r"-?\d+", Number.Integer),
            (words(OPERATORS), Operator),
            (r"[()\[\],:.;]", Punctuation),
            (_NAME, Name),
        ],
    }
