"""`taskdsl lsp` as an editor sees it: a real server process, spoken to over stdio.

The client here is a few lines of JSON-RPC with Content-Length framing, so the
test checks the bytes an editor would get, not pygls's view of them.  One
server serves the whole module (starting one costs about a second).
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls")

from pygls.uris import from_fs_path

from taskdsl import backend
from taskdsl.loader import stdlib_dir

ROOT = Path(__file__).parents[2]
TIMEOUT = 20.0

BROKEN = """\
type Image = Real[4]

learner get : Image -> Class[10]
data pairs : -> Image, Class[10]

task classify:
    x, y <- pairs
    gett(x) = y
"""

CLEAN = """\
import classification from stdlib

type Image = Real[4]
learner get : Image -> Class[10]
data pairs : -> Image, Class[10]

task fit:
    x, y <- pairs
    get(x) = y  by ce

train fit:
    batch 8
"""

UGLY = "learner   get:Real[4]->Class[10]\n"


class Client:
    """The least of an LSP client: requests wait for their answer, notifications queue up."""

    def __init__(self, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "taskdsl", "lsp"], cwd=cwd, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ids = itertools.count(1)
        self.answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.notes: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            headers: dict[str, str] = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                key, _, value = line.decode("ascii").partition(":")
                headers[key.strip().lower()] = value.strip()
            if not headers:
                return  # the server closed its output
            message = json.loads(stream.read(int(headers["content-length"])))
            if "id" in message and "method" not in message:
                self.answers.setdefault(message["id"], queue.Queue()).put(message)
            elif "method" in message and "id" not in message:
                self.notes.put(message)
            else:  # a request from the server (e.g. a capability registration): accept it
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode("utf-8")
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def request(self, method: str, params: Any) -> Any:
        number = next(self.ids)
        box = self.answers.setdefault(number, queue.Queue())
        self.send({"jsonrpc": "2.0", "id": number, "method": method, "params": params})
        answer = box.get(timeout=TIMEOUT)
        assert "error" not in answer, answer
        return answer["result"]

    def notify(self, method: str, params: Any) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def diagnostics(self, uri: str) -> list[dict[str, Any]]:
        """The next diagnostics published for ``uri``."""
        while True:
            note = self.notes.get(timeout=TIMEOUT)
            if note["method"] == "textDocument/publishDiagnostics" and note["params"]["uri"] == uri:
                return note["params"]["diagnostics"]

    def open(self, path: Path, text: str) -> str:
        uri = from_fs_path(str(path))
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "taskdsl", "version": 1, "text": text}})
        return uri

    def close(self) -> int:
        self.request("shutdown", None)
        self.notify("exit", None)
        return self.process.wait(timeout=TIMEOUT)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    folder = tmp_path_factory.mktemp("lsp")
    started = Client(folder)
    try:
        answer = started.request("initialize", {
            "processId": None, "rootUri": from_fs_path(str(folder)), "capabilities": {},
            "initializationOptions": {"backends": False}})
        assert answer["capabilities"]["hoverProvider"]
        started.notify("initialized", {})
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()


def position(text: str, needle: str, offset: int = 0) -> dict[str, int]:
    """The LSP position of the first ``needle`` in ``text`` (plus ``offset`` characters)."""
    before = text[: text.index(needle) + offset]
    return {"line": before.count("\n"), "character": len(before.rsplit("\n", 1)[-1])}


def test_open_with_an_error_publishes_it_with_code_and_range(client: Client, tmp_path: Path) -> None:
    uri = client.open(tmp_path / "broken.task", BROKEN)
    found = client.diagnostics(uri)
    assert [d["code"] for d in found] == ["undefined"]
    (only,) = found
    assert only["range"] == {"start": {"line": 7, "character": 4}, "end": {"line": 7, "character": 8}}
    assert only["severity"] == 1
    assert only["source"] == "taskdsl"
    assert "undefined name `gett`" in only["message"]
    assert "did you mean `get`?" in only["message"]


def test_change_fixes_the_error_and_clears_it(client: Client, tmp_path: Path) -> None:
    uri = client.open(tmp_path / "fixed.task", BROKEN)
    assert client.diagnostics(uri)
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"text": BROKEN.replace("gett", "get")}]})
    assert client.diagnostics(uri) == []
    client.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
    assert client.diagnostics(uri) == []


def test_columns_are_utf16_units(client: Client, tmp_path: Path) -> None:
    # `𝔼` is one character to taskdsl and two UTF-16 units to an editor.
    uri = client.open(tmp_path / "wide.task", 'impl f = foo("𝔼") junk\n')
    (found,) = client.diagnostics(uri)
    assert found["code"] == "syntax"
    assert found["range"]["start"] == {"line": 0, "character": 19}


def test_an_error_in_an_imported_file_is_shown_on_its_import(client: Client, tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "shared.task").write_text("type Image = Rael[4]\n", encoding="utf-8")
    text = '# uses the shared types\nimport shared from "lib"\n'
    uri = client.open(tmp_path / "main.task", text)
    (found,) = client.diagnostics(uri)
    assert found["range"]["start"] == {"line": 1, "character": 0}
    assert found["message"].startswith("in ")
    (related,) = found["relatedInformation"]
    assert related["location"]["uri"] == from_fs_path(str(tmp_path / "lib" / "shared.task"))
    assert related["location"]["range"]["start"] == {"line": 0, "character": 13}
    answer = client.request("textDocument/definition", {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}})
    assert answer["uri"] == related["location"]["uri"]


def test_hover_shows_the_declaration_and_builtin_docs(client: Client, tmp_path: Path) -> None:
    uri = client.open(tmp_path / "hover.task", CLEAN)
    assert client.diagnostics(uri) == []
    answer = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "get(x)")})
    value = answer["contents"]["value"]
    assert "learner get : Image -> Class[10]" in value
    assert "hover.task:4:1" in value
    wire = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "get(x)", 4)})
    assert "x : Image (Real[4])" in wire["contents"]["value"]
    typed = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "Image = ")})
    assert "type Image = Real[4]" in typed["contents"]["value"]
    setting = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "batch")})
    assert "examples per draw" in setting["contents"]["value"]
    kind = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "Class")})
    assert "one of n classes" in kind["contents"]["value"]
    text = CLEAN.replace("get(x) = y", "get(flatten(x)) = y")
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": text}]})
    client.diagnostics(uri)
    builtin = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": position(text, "flatten")})
    assert "a Real wire as one flat vector" in builtin["contents"]["value"]
    nothing = client.request("textDocument/hover", {
        "textDocument": {"uri": uri}, "position": {"line": 2, "character": 0}})
    assert nothing is None


def test_definition_in_the_file_and_into_the_stdlib(client: Client, tmp_path: Path) -> None:
    uri = client.open(tmp_path / "goto.task", CLEAN)
    client.diagnostics(uri)
    here = client.request("textDocument/definition", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "get(x)")})
    assert here["uri"] == uri
    assert here["range"]["start"] == {"line": 3, "character": 0}
    module = client.request("textDocument/definition", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "classification", 3)})
    assert module["uri"] == from_fs_path(str(stdlib_dir() / "classification.task"))


def test_definition_of_a_pattern_task_goes_into_the_stdlib(client: Client, tmp_path: Path) -> None:
    text = (ROOT / "examples" / "mnist_vae.task").read_text(encoding="utf-8")
    uri = client.open(tmp_path / "vae.task", text)
    client.diagnostics(uri)
    found = client.request("textDocument/definition", {
        "textDocument": {"uri": uri}, "position": position(text, "reconstruct +")})
    assert found["uri"] == from_fs_path(str(stdlib_dir() / "vae.task"))
    stdlib = (stdlib_dir() / "vae.task").read_text(encoding="utf-8").split("\n")
    assert "task reconstruct" in stdlib[found["range"]["start"]["line"]]


def test_completion_offers_names_builtins_and_settings(client: Client, tmp_path: Path) -> None:
    uri = client.open(tmp_path / "complete.task", CLEAN)
    client.diagnostics(uri)
    items = client.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "get(x)")})["items"]
    labels = {item["label"] for item in items}
    assert {"get", "pairs", "Image", "fit", "flatten", "Real", "task"} <= labels
    assert "batch" not in labels
    settings = client.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "batch 8", 4)})["items"]
    assert {"batch", "steps", "optimizer", "seed"} <= {item["label"] for item in settings}
    divergences = client.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": position(CLEAN, "by ce", 3)})["items"]
    assert {item["label"] for item in divergences} >= {"ce", "mse", "kl"}


def test_formatting_replaces_the_document_and_skips_a_broken_one(client: Client, tmp_path: Path) -> None:
    uri = client.open(tmp_path / "ugly.task", UGLY)
    client.diagnostics(uri)
    options = {"tabSize": 4, "insertSpaces": True}
    (edit,) = client.request("textDocument/formatting", {"textDocument": {"uri": uri}, "options": options})
    assert edit["newText"] == "learner get : Real[4] -> Class[10]\n"
    assert edit["range"] == {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}
    bad = client.open(tmp_path / "bad.task", "learner get : Real[4] ->\n")
    assert client.diagnostics(bad)[0]["code"] == "syntax"
    assert client.request("textDocument/formatting", {"textDocument": {"uri": bad}, "options": options}) == []


def test_save_adds_the_backends_findings(tmp_path: Path) -> None:
    if not any(found.missing() is None for found in backend.installed()):
        pytest.skip("no backend can run here")
    text = CLEAN.replace("batch 8", "steps 0\n    data pairs = datasets.digits()")
    other = Client(tmp_path)
    try:
        other.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        other.notify("initialized", {})
        uri = other.open(tmp_path / "save.task", text)
        assert other.diagnostics(uri) == []  # the front end alone finds nothing
        other.notify("textDocument/didSave", {"textDocument": {"uri": uri}})
        found = other.diagnostics(uri)
        (setting,) = [d for d in found if d["code"] == "setting-value"]
        assert setting["range"]["start"] == position(text, "steps 0")
        assert other.close() == 0
    finally:
        if other.process.poll() is None:
            other.process.kill()


def test_shutdown_and_exit_end_the_process(tmp_path: Path) -> None:
    other = Client(tmp_path)
    try:
        other.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        other.notify("initialized", {})
        assert other.close() == 0
    finally:
        if other.process.poll() is None:
            other.process.kill()


def test_without_pygls_the_command_says_how_to_get_it() -> None:
    blocked = ("import sys; sys.modules['pygls'] = sys.modules['lsprotocol'] = None; "
               "from taskdsl.cli import main; sys.exit(main(['lsp']))")
    run = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert "pip install 'taskdsl[lsp]'" in run.stderr
    assert "Traceback" not in run.stderr
