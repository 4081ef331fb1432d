"""The front end never imports JAX: checking and building the CLI stay light.

Each check runs in a fresh interpreter, since the test process itself may have
imported JAX for other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "mnist_manipulator.task"
PYTHON = sys.executable
HEAVY = ("jax", "jaxlib", "flax", "optax", "orbax")

PROBE = """
import json, sys
{body}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print(json.dumps(heavy))
"""


def loaded_after(body: str) -> list[str]:
    script = PROBE.format(body=body, heavy=HEAVY)
    run = subprocess.run([PYTHON, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_probe_can_see_jax() -> None:
    """The probe itself works: a module named like JAX's does show up."""
    assert loaded_after("import types; sys.modules['flax.linen'] = types.ModuleType('x')") == [
        "flax.linen"]


def test_check_file_does_not_import_jax() -> None:
    body = f"""
import taskdsl
import taskdsl.cli
result = taskdsl.check_file({str(EXAMPLE)!r})
assert result.ok, result.render()
"""
    assert loaded_after(body) == []


def test_building_the_cli_parser_does_not_import_jax() -> None:
    body = """
from taskdsl.cli import build_parser
parser = build_parser()
args = parser.parse_args(["check", "x.task"])
assert args.command == "check"
"""
    assert loaded_after(body) == []


def test_finding_the_backends_does_not_import_jax() -> None:
    """Loading every backend object (entry points) is cheap: JAX comes only when used."""
    body = """
from taskdsl.backend import installed
assert any(b.name == "jax" for b in installed())
assert [b.missing() for b in installed()]
"""
    assert loaded_after(body) == []


def test_check_and_explain_commands_do_not_import_jax() -> None:
    """The front end's own part of `taskdsl check` (the backends' checks left out)."""
    body = f"""
import contextlib, io
from taskdsl import backend
from taskdsl.cli import main
backend.installed = lambda: []
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    assert main(["check", {str(EXAMPLE)!r}]) == 0
    assert main(["explain", {str(EXAMPLE)!r}]) == 0
"""
    assert loaded_after(body) == []


# Runs the CLI with JAX, Flax and Optax hidden, as on a machine without `taskdsl[jax]`:
# a None in sys.modules makes both `import jax` and importlib's find_spec see no module.
# Prints each command line's exit code and standard error as JSON.
HIDDEN = """
import contextlib, io, json, sys
sys.modules.update(jax=None, flax=None, optax=None)
from taskdsl.cli import main
results = []
for argv in {commands!r}:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as stop:
            code = stop.code
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""

BACKEND_COMMANDS = [
    ["train", str(EXAMPLE)],
    ["compile", str(EXAMPLE)],
    ["eval", "runs/x"],
    ["manipulate", "runs/x", "--input", "x.png", "--to", "1"],
    ["demo", "--fast"],
]


def without_jax(commands: list[list[str]]) -> list[tuple[int, str]]:
    script = HIDDEN.format(commands=commands)
    run = subprocess.run([PYTHON, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    return [(code, err) for code, err in json.loads(run.stdout.strip().splitlines()[-1])]


def test_backend_commands_without_jax_say_how_to_install_it() -> None:
    results = without_jax([*BACKEND_COMMANDS, ["data", "list"], ["check", str(EXAMPLE)]])
    *backend_runs, (data_code, data_err), (check_code, _) = results
    for argv, (code, err) in zip(BACKEND_COMMANDS, backend_runs, strict=True):
        assert code == 2, (argv, err)
        assert err.count("\n") == 1, err  # one line
        assert f"`taskdsl {argv[0]}` needs the `jax` backend" in err
        assert "jax, flax, optax are not installed" in err
        assert "pip install 'taskdsl[jax]'" in err
        assert "Traceback" not in err
    # `data` needs no JAX, and checking skips only the backend's checks.
    assert data_code == 0, data_err
    assert check_code == 0
