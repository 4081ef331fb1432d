"""A run's settings: a ``train`` block's values, then ``--set KEY=VALUE`` overrides, checked.

Every value a ``train`` block or ``impl`` line holds can be overridden from the
command line (DESIGN §3): plain settings by name (``--set steps=500``), an
``impl`` line by ``--set impl.get=nets.mlp(width = 64)``, a data binding by
``--set data.mnist=datasets.digits()``.  A ``--set`` value is written as in a
file (numbers, ``"strings"``, names, calls with ``key = value`` options, lists)
and read with Python's expression parser, whose syntax covers those, so the
backend needs nothing from the front end's parser.  A typo in a key is an
error that lists the valid keys, never a silently ignored setting.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from taskdsl.ir import BoxKind, Call, Name, Program

from . import errors
from .schedule import SIMULTANEOUS, Schedule
from .schedule import parse as parse_schedule

DEFAULT_OPTIMIZER = Call("adam", (), MappingProxyType({"lr": 1e-3}))


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know besides the program; ``impls`` and ``data`` are merged."""

    batch: int = 64
    steps: int = 1000
    optimizer: Call | Name = DEFAULT_OPTIMIZER
    seed: int = 0
    log_every: int = 50
    checkpoint_every: int = 200
    keep: int = 3  # how many of the latest checkpoints stay on disk
    schedule: Schedule = SIMULTANEOUS  # which learners each step updates (schedule.py)
    impls: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The settings as config.json records them: calls and names in the file's spelling."""
        plain = {k: _jsonable(getattr(self, k)) for k in SCALAR_KEYS}
        plain["impls"] = {k: show(v) for k, v in self.impls.items()}
        plain["data"] = {k: show(v) for k, v in self.data.items()}
        return plain


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _natural(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _call_or_name(value: Any) -> bool:
    return isinstance(value, Call | Name)


# Each plain setting: the check its value must pass, and how the message describes it.
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "batch": (_positive, "a whole number >= 1"),
    "steps": (_positive, "a whole number >= 1"),
    "optimizer": (_call_or_name, "an optimizer such as `adam(lr = 1e-3)`"),
    "seed": (_natural, "a whole number >= 0"),
    "log_every": (_positive, "a whole number >= 1"),
    "checkpoint_every": (_positive, "a whole number >= 1"),
    "keep": (_positive, "a whole number >= 1"),
    "schedule": (_call_or_name, "`simultaneous` or `alternate(LEARNER: STEPS, ...)`"),
}
SCALAR_KEYS = tuple(CHECKS)


def objective_name(program: Program, objective: str | None) -> str:
    """The objective a run trains: the one named, or the file's last (a lone task counts)."""
    known = [*program.objectives, *program.tasks]
    if objective is None:
        if not known:
            raise errors.nothing_to_train(program.path)
        return program.objective(None).name
    if objective not in known:
        raise errors.unknown_objective(objective, known)
    return objective


def resolve(program: Program, objective: str, overrides: Sequence[str] = ()) -> Settings:
    """The settings for training ``objective``: defaults, its ``train`` block, then ``overrides``.

    ``overrides`` are ``KEY=VALUE`` strings as given to ``--set``; later ones win.
    """
    spec = program.trainings.get(objective)
    values: dict[str, Any] = {}
    if spec is not None:
        where = f"in `train {objective}:` ({spec.span})"
        for key, value in spec.settings.items():
            values[key] = _checked(key, value, where)
    impls = dict(program.impls)
    data = dict(spec.data) if spec is not None else {}
    for text in overrides:
        key, value = parse_override(text)
        if key.startswith("impl."):
            impls[_target(program, key, "learner", (BoxKind.LEARNER, BoxKind.FIXED))] = value
        elif key.startswith("data."):
            data[_target(program, key, "data source", (BoxKind.DATA,))] = value
        else:
            values[key] = _checked(key, value, "in `--set`")
    if "schedule" in values:
        values["schedule"] = parse_schedule(values["schedule"], show(values["schedule"]),
                                            program.objective(objective))
    return dataclasses.replace(Settings(), impls=impls, data=data, **values)


def _checked(key: str, value: Any, where: str) -> Any:
    if key not in CHECKS:
        raise errors.unknown_setting(key, where, SCALAR_KEYS)
    check, expected = CHECKS[key]
    if not check(value):
        raise errors.bad_setting(key, show(value), expected, where)
    return value


def _target(program: Program, key: str, kind: str, kinds: tuple[BoxKind, ...]) -> str:
    """The box named after ``impl.``/``data.`` in ``key``, if the program declares it as one
    of ``kinds``."""
    name = key.partition(".")[2]
    known = [n for n, d in program.declarations.items() if d.kind in kinds]
    if name not in known:
        raise errors.unknown_target(kind, name, key, known)
    return name


def parse_override(text: str) -> tuple[str, Any]:
    """``"steps=500"`` as ``("steps", 500)``; the value as a train block would hold it."""
    key, equals, raw = text.partition("=")
    if not equals:
        raise errors.set_without_equals(text)
    try:
        return key.strip(), parse_value(raw)
    except (SyntaxError, ValueError) as error:
        raise errors.set_unparsable(text, getattr(error, "msg", None) or str(error)) from None


def parse_value(text: str) -> Any:
    """A configuration value written as in a ``.task`` file: ``adam(lr = 1e-3)``, ``[1, 2]``."""
    return _convert(ast.parse(text.strip(), mode="eval").body)


def _convert(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.Name | ast.Attribute):
        name = _dotted(node)
        return {"true": True, "false": False}.get(name, Name(name))
    if isinstance(node, ast.List | ast.Tuple):
        return tuple(_convert(item) for item in node.elts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name | ast.Attribute):
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise ValueError("`**` is not allowed")
            kwargs[keyword.arg] = _convert(keyword.value)
        args = tuple(_convert(arg) for arg in node.args)
        return Call(_dotted(node.func), args, MappingProxyType(kwargs))
    raise ValueError(f"`{ast.unparse(node)}` is not a number, string, name, call or list")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise ValueError(f"`{ast.unparse(node)}` is not a name")


def show(value: Any) -> str:
    """A configuration value in the ``.task`` file's spelling, for messages and config.json."""
    if isinstance(value, Call):
        parts = [show(a) for a in value.args]
        parts += [f"{k} = {show(v)}" for k, v in value.kwargs.items()]
        return f"{value.name}({', '.join(parts)})"
    if isinstance(value, Name):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, tuple | list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Schedule):
        value = value.spec
    return show(value) if isinstance(value, Call | Name) else value
