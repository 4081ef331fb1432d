"""The Pygments lexer: every shipped file lexes cleanly, and the words that matter get their colours."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, String, _TokenType

from taskdsl.builtins import ALL_DIVERGENCES, BUILTINS, STRUCTURAL
from taskdsl.highlight import BOX_KINDS, DECLARING, KEYWORDS, NAMESPACE, TaskLexer

ROOT = Path(__file__).parents[2]
SHIPPED = sorted([*ROOT.glob("examples/*.task"), *ROOT.glob("stdlib/*.task")])

SAMPLE = """\
import vae from stdlib  # a comment
type Image = Real[28, 28, 1]
learner enc : Image -> Gaussian[16]
random z : -> Real[8] ~ normal
const prior : -> Gaussian[16] = 0
pattern p[X, d: dim](data):
    data : -> X, ...
task t:
    x <- mnist
    let h = flatten(x)
    (enc >> dec) @ id = scale[0.5](x)  trains enc  by mse
objective o = t + 1e-3 * t
impl enc = nets.mlp(width = 32, name = "a \\"q\\"", on = true)
train o:
    data mnist = datasets.mnist(split = "train")
"""


def tokens(text: str) -> list[tuple[_TokenType, str]]:
    return [(kind, value) for kind, value in TaskLexer().get_tokens(text) if value.strip()]


def kind_of(text: str, word: str, nth: int = 0) -> _TokenType:
    return [kind for kind, value in tokens(text) if value == word][nth]


def test_shipped_files_were_found() -> None:
    assert len(SHIPPED) >= 10


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_lexes_without_errors(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = list(TaskLexer(stripnl=False).get_tokens(text))
    assert [value for kind, value in found if kind in Error] == []
    assert "".join(value for _, value in found) == (text if text.endswith("\n") else text + "\n")


def test_a_stray_character_is_an_error_token() -> None:
    assert (Error, "$") in tokens("learner f : Real[1] -> Real[1] $\n")


@pytest.mark.parametrize(("word", "nth", "expected"), [
    ("import", 0, Keyword.Namespace),
    ("from", 0, Keyword.Namespace),
    ("type", 0, Keyword.Declaration),
    ("Image", 0, Name.Class),
    ("Real", 0, Keyword.Type),
    ("Gaussian", 0, Keyword.Type),
    ("learner", 0, Keyword.Declaration),
    ("enc", 0, Name.Function),
    ("random", 0, Keyword.Declaration),
    ("const", 0, Keyword.Declaration),
    ("normal", 0, Name.Builtin.Pseudo),
    ("pattern", 0, Keyword.Declaration),
    ("data", 0, Name),  # a pattern's parameter named `data` is a name, not the keyword
    ("data", 1, Name),
    ("data", 2, Keyword.Declaration),
    ("task", 0, Keyword.Declaration),
    ("let", 0, Keyword),
    ("trains", 0, Keyword),
    ("by", 0, Keyword),
    ("mse", 0, Name.Builtin.Pseudo),
    ("flatten", 0, Name.Builtin),
    ("scale", 0, Name.Builtin),
    ("id", 0, Name.Builtin),
    ("true", 0, Keyword.Constant),
    ("0.5", 0, Number.Float),
    ("1e-3", 0, Number.Float),
    ("28", 0, Number.Integer),
    ('"a \\"q\\""', 0, String.Double),
    ("# a comment", 0, Comment.Single),
    (">>", 0, Operator),
    ("@", 0, Operator),
    ("<-", 0, Operator),
    ("->", 0, Operator),
    ("=", 0, Operator),
    ("~", 0, Operator),
    ("...", 0, Operator),
])
def test_key_tokens_get_their_types(word: str, nth: int, expected: _TokenType) -> None:
    assert kind_of(SAMPLE, word, nth) is expected


def test_a_claim_declares_its_name() -> None:
    found = tokens("claim undo_follows: undo by put_put, get_put\n")
    assert found[:2] == [(Keyword.Declaration, "claim"), (Name.Function, "undo_follows")]
    assert (Keyword, "by") in found
    assert tokens("def claimed = f\n")[1] == (Name.Function, "claimed")


def test_a_name_that_starts_with_a_keyword_is_one_name() -> None:
    assert tokens("learner important_box : Real[1] -> Real[1]\n")[1] == (Name.Function, "important_box")
    assert tokens("def addx = typed\n")[3] == (Name, "typed")


def test_the_entry_point_finds_the_lexer() -> None:
    """Needs the package installed (``pip install -e .``): Pygments reads the entry point."""
    assert type(get_lexer_by_name("taskdsl")).__name__ == "TaskLexer"
    assert type(get_lexer_by_name("task")).__name__ == "TaskLexer"
    assert type(get_lexer_for_filename("model.task")).__name__ == "TaskLexer"


# ------------------------------------------------------------ the VS Code extension
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "taskdsl.tmLanguage.json"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_extensions_json_files_parse_and_agree() -> None:
    manifest = load_json(VSCODE / "package.json")
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".task"]
    assert grammar["language"] == language["id"] == "taskdsl"
    assert (VSCODE / language["configuration"]).is_file()
    assert (VSCODE / manifest["main"]).is_file()
    assert load_json(VSCODE / grammar["path"])["scopeName"] == grammar["scopeName"]
    configuration = load_json(VSCODE / language["configuration"])
    assert configuration["comments"]["lineComment"] == "#"
    assert manifest["contributes"]["configuration"]["properties"]["taskdsl.server.command"]["default"] \
        == ["taskdsl", "lsp"]


def rules(grammar: dict[str, Any], patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The grammar's rules in the order TextMate tries them, includes expanded."""
    found: list[dict[str, Any]] = []
    for rule in patterns:
        if "include" in rule:
            target = grammar["repository"][rule["include"].lstrip("#")]
            found += rules(grammar, target.get("patterns", [target]) if "match" not in target
                           and "begin" not in target else [target])
        else:
            found.append(rule)
    return found


def scopes(line: str) -> list[tuple[str, str]]:
    """Each piece of ``line`` that the grammar names, with its scope: a one-line TextMate
    tokenizer (earliest match wins, ties go to the first rule)."""
    grammar = load_json(GRAMMAR)
    compiled = [(rule, re.compile(rule.get("match") or rule["begin"]))
                for rule in rules(grammar, grammar["patterns"])]
    pieces: list[tuple[str, str]] = []
    at = 0
    while at < len(line):
        candidates = [(m.start(), i, rule, m) for i, (rule, regex) in enumerate(compiled)
                      if (m := regex.search(line, at)) is not None]
        if not candidates:
            break
        _, _, rule, match = min(candidates, key=lambda c: (c[0], c[1]))
        if "begin" in rule:  # up to the end, past what the inner rules (escapes) consume first
            stop = match.end()
            inner = [re.compile(r["match"]) for r in rule.get("patterns", [])]
            while (end := re.compile(rule["end"]).search(line, stop)) is not None:
                skip = [m for regex in inner if (m := regex.search(line, stop)) and m.start() < end.start()]
                if not skip:
                    stop = end.end()
                    break
                stop = min(skip, key=lambda m: m.start()).end()
            pieces.append((line[match.start():stop], rule["name"]))
        else:
            stop = match.end()
            if "captures" in rule:
                pieces += [(match.group(int(k)), v["name"]) for k, v in rule["captures"].items()]
            else:
                pieces.append((match.group(), rule["name"]))
        at = max(stop, at + 1)
    return pieces


@pytest.mark.parametrize(("line", "piece", "scope"), [
    ("import vae from stdlib", "import", "keyword.control.import.taskdsl"),
    ("import vae from stdlib", "from", "keyword.control.import.taskdsl"),
    ("type Image = Real[28, 28, 1]", "type", "storage.type.alias.taskdsl"),
    ("type Image = Real[28, 28, 1]", "Image", "entity.name.type.taskdsl"),
    ("type Image = Real[28, 28, 1]", "Real", "support.type.taskdsl"),
    ("type Image = Real[28, 28, 1]", "28", "constant.numeric.integer.taskdsl"),
    ("learner enc : Image -> Gaussian[16]", "learner", "storage.type.box.taskdsl"),
    ("learner enc : Image -> Gaussian[16]", "enc", "entity.name.function.taskdsl"),
    ("learner enc : Image -> Gaussian[16]", "->", "keyword.operator.taskdsl"),
    ("learner enc : Image -> Gaussian[16]", "Gaussian", "support.type.taskdsl"),
    ("random z : -> Real[8] ~ normal", "random", "storage.type.box.taskdsl"),
    ("random z : -> Real[8] ~ normal", "~", "keyword.operator.taskdsl"),
    ("random z : -> Real[8] ~ normal", "normal", "support.constant.taskdsl"),
    ("const c : -> Class[2] = 0", "const", "storage.type.box.taskdsl"),
    ("data mnist : -> Image, Class[10]", "data", "storage.type.box.taskdsl"),
    ("fixed f : Binary[3] -> Tokens[5, 2]", "Binary", "support.type.taskdsl"),
    ("fixed f : Binary[3] -> Tokens[5, 2]", "Tokens", "support.type.taskdsl"),
    ("def both = enc >> dec @ id", "def", "keyword.declaration.taskdsl"),
    ("def both = enc >> dec @ id", ">>", "keyword.operator.taskdsl"),
    ("def both = enc >> dec @ id", "@", "keyword.operator.taskdsl"),
    ("def both = enc >> dec @ id", "id", "support.function.builtin.taskdsl"),
    ("refine r = x", "refine", "keyword.declaration.taskdsl"),
    ("task fit:", "task", "keyword.declaration.taskdsl"),
    ("task fit:", "fit", "entity.name.function.taskdsl"),
    ("    x, y <- mnist", "<-", "keyword.operator.taskdsl"),
    ("    let h = flatten(x)", "let", "keyword.other.taskdsl"),
    ("    let h = flatten(x)", "flatten", "support.function.builtin.taskdsl"),
    ("    get(x) = y  trains get  by ce", "trains", "keyword.other.taskdsl"),
    ("    get(x) = y  trains get  by ce", "by", "keyword.other.taskdsl"),
    ("    get(x) = y  trains get  by ce", "ce", "support.constant.taskdsl"),
    ("objective o = a + 1e-3 * b", "objective", "keyword.declaration.taskdsl"),
    ("objective o = a + 1e-3 * b", "1e-3", "constant.numeric.float.taskdsl"),
    ("objective o = a + 1e-3 * b", "+", "keyword.operator.taskdsl"),
    ("pattern vae[X, d: dim](data):", "pattern", "keyword.declaration.taskdsl"),
    ("use vae(data = mnist) as v", "use", "keyword.control.import.taskdsl"),
    ("use vae(data = mnist) as v", "as", "keyword.control.import.taskdsl"),
    ('impl enc = nets.mlp(name = "a\\"b", on = true)', "impl", "keyword.declaration.taskdsl"),
    ('impl enc = nets.mlp(name = "a\\"b", on = true)', '"a\\"b"', "string.quoted.double.taskdsl"),
    ('impl enc = nets.mlp(name = "a\\"b", on = true)', "true", "constant.language.boolean.taskdsl"),
    ("train fit:  # a comment", "train", "keyword.declaration.taskdsl"),
    ("train fit:  # a comment", "# a comment", "comment.line.number-sign.taskdsl"),
    ("claim undo_follows: undo by put_put", "claim", "keyword.declaration.taskdsl"),
    ("claim undo_follows: undo by put_put", "undo_follows", "entity.name.function.taskdsl"),
    ("claim undo_follows: undo by put_put", "by", "keyword.other.taskdsl"),
])
def test_the_textmate_grammar_scopes_the_language(line: str, piece: str, scope: str) -> None:
    assert (piece, scope) in scopes(line)


def test_the_textmate_grammar_knows_every_builtin_and_keyword() -> None:
    """The word lists were written from taskdsl.builtins and the lexer; a new word must reach both."""
    for word in [*BUILTINS, *STRUCTURAL]:
        assert (word, "support.function.builtin.taskdsl") in scopes(f"def f = {word}"), word
    for word in ALL_DIVERGENCES:
        assert (word, "support.constant.taskdsl") in scopes(f"  by {word}"), word
    for word in [*NAMESPACE, *KEYWORDS]:
        found = scopes(f"{word} x")
        assert any(piece == word and scope.startswith("keyword.") for piece, scope in found), word
    for word in [*BOX_KINDS, *DECLARING]:
        assert scopes(f"{word} x")[0][0] == word, word
    assert ("data", "storage.type.box.taskdsl") not in scopes("    data : -> X, ...")


STUB_VSCODE = """
exports.shown = [];
exports.window = {showWarningMessage: (m) => exports.shown.push(m)};
exports.workspace = {getConfiguration: () => ({get: (key, fallback) => fallback})};
"""
STUB_CLIENT = """
exports.made = [];
exports.LanguageClient = class {
  constructor(...args) { this.args = args; exports.made.push(this); }
  start() { this.started = true; return Promise.resolve(); }
  stop() { return Promise.resolve(); }
  dispose() {}
};
"""
ACTIVATE = """
const extension = require(process.argv[1]);
const vscode = require("vscode");
let made = [];
try { made = require("vscode-languageclient/node").made; } catch (e) {}
extension.activate({subscriptions: []}).then(() => {
  const client = made[0];
  console.log(JSON.stringify({shown: vscode.shown, server: client ? client.args[2].run : null,
                              options: client ? client.args[3].initializationOptions : null,
                              started: client ? client.started : false}));
});
"""


@pytest.mark.parametrize("with_client", [True, False], ids=["languageclient", "no-languageclient"])
def test_the_extension_starts_taskdsl_lsp(tmp_path: Path, with_client: bool) -> None:
    """extension.js under stubs of the `vscode` API: it starts `taskdsl lsp`, and without
    vscode-languageclient installed it says how to get it instead of failing."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if (VSCODE / "node_modules").exists():
        pytest.skip("an installed node_modules would shadow the stubs")
    (tmp_path / "vscode").mkdir()
    (tmp_path / "vscode" / "index.js").write_text(STUB_VSCODE, encoding="utf-8")
    if with_client:
        (tmp_path / "vscode-languageclient").mkdir()
        (tmp_path / "vscode-languageclient" / "node.js").write_text(STUB_CLIENT, encoding="utf-8")
    run = subprocess.run([node, "-e", ACTIVATE, str(VSCODE / "extension.js")], capture_output=True,
                         text=True, timeout=30, env={**os.environ, "NODE_PATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    if with_client:
        assert found == {"shown": [], "server": {"command": "taskdsl", "args": ["lsp"]},
                         "options": {"backends": True}, "started": True}
    else:
        assert found["server"] is None
        assert "npm install" in found["shown"][0]
