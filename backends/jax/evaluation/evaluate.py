"""Judging a manipulator by what it does (docs/design.md), with a classifier it never trained against.

The figures, on held-out examples ``x`` with true attribute ``y``, and targets
``a`` drawn uniformly among the classes other than ``y``:

``attribute_success``
    share of edits ``put(x, a)`` that the independent judge labels ``a``;
``training_classifier_success``
    the same share as the manipulator's own ``get`` sees it.  High here but low
    for the judge means the edits are adversarial noise against ``get``;
``getput_mse``
    mean squared error of ``put(x, get(x))`` against ``x``;
``undo_mse``
    mean squared error of ``put(put(x, a), get(x))`` against ``x``;
``counterfactual_mse`` (sprites)
    mean squared error of ``put(x, a)`` against the true counterfactual, the same
    sprite re-drawn with attribute ``a`` (``reference`` gives the same error for
    the unedited input, the score of doing nothing);
``kept_attributes`` (whenever the judge reads other attributes, e.g. sprites)
    share of (edit, other attribute) pairs for which the judge reads the same
    class on the edit as on the input;
``bleu`` (sentences)
    corpus BLEU (0..100, sacrebleu, on the words as the tokenizer splits them)
    of the edits against their inputs: how much of each sentence survives
    (``reference`` gives the attribute success of not editing at all: the
    share of inputs the judge already reads as the asked-for class).

``realism`` (``--no-realism`` skips it)
    whether edits look like real data of the asked-for class: a two-sample
    classifier's held-out accuracy and the Fréchet distance in the judge's
    penultimate features (for sentences, its sentence encodings), per class and pooled,
    on edit inputs and real references from disjoint halves of one seeded permutation
    of the split, and on sprites the total-variation distance of the other attributes: see :mod:`.realism`.

``get(x)`` is fed to ``put`` as the distribution ``get`` outputs, as in training.
An edited sentence is the most probable word at each position: the judge, the
manipulator's ``get`` and the undo edit read that sentence (as one-hot tokens),
not the editor's word distribution, and ``edits.txt`` shows a few of them.

The judge is one multi-head classifier (one softmax head per categorical field
of the data set: on sprites shape, colour, scale, xpos and ypos) trained by the
normal ``train`` path on the training split, with another architecture and seed
than the manipulator's ``get``.  One net for all attributes costs one training
run instead of five; its accuracy on unedited inputs is reported per attribute
(``judge_accuracy``), and "kept" compares the judge with itself (before and
after the edit), so an attribute it reads wrongly but consistently still counts
as kept.  Without ``--judge RUN_DIR`` one is trained and cached in
``RUN_DIR/judge/`` (its task file beside it, ``RUN_DIR/judge.task``).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from rich.console import Console
from rich.table import Table
from sacrebleu.metrics import BLEU

from taskdsl.ir import BoxKind, Call
from taskdsl.loader import load
from taskdsl.types import WireType

from ..data import ATTRIBUTES, LOADERS, DataError, Dataset, Tokenizer, counterfactual
from ..lowering.interpret import Context, DrawOf, EquationPlan, Mode, execute
from ..lowering.lower import Lowered
from ..lowering.precision import learners_in, under_matmul_precision
from ..lowering.values import CATEGORICAL_KINDS, Value
from ..messages import show as show_value
from ..training import feed as feeding
from ..training.errors import TrainError
from ..training.files import write_text
from ..training.runs import CHUNK, Run, load_run
from ..training.settings import show
from ..training.train import CONFIG, train
from . import errors, fluency, pictures, realism
from .manipulate import Manipulator, find_manipulator

EVAL_FILE = "eval.json"
GRID_FILE = "grid.png"
INTERPOLATION_FILE = "interpolation.png"
EDITS_FILE = "edits.txt"
EDIT_ROWS = 12
"""Sentences shown in ``edits.txt``."""
JUDGE_FOLDER = "judge"
JUDGE_TASK = "judge.task"
JUDGE_STEPS = 1500
GRID_ROWS = 6
STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
ADVERSARIAL_GAP = 0.3
"""Warn when the manipulator's own classifier is this much more convinced than the judge."""
WEAK_JUDGE = 0.9
"""Warn when the judge reads an attribute of unedited inputs right less often than this."""

# Judges for image states, in order of preference: the first whose net differs from get's.
IMAGE_JUDGES = (Call("nets.conv_encoder", (), {"width": 16}), Call("nets.cnn", (), {"width": 24}),
                Call("nets.mlp", (), {"width": 256, "depth": 2}))
TEXT_JUDGES = (Call("nets.text_encoder", (), {"embed": 32, "width": 64}),
               Call("nets.text_encoder", (), {"embed": 32, "width": 64, "cell": "transformer"}),
               Call("nets.mlp", (), {"width": 128, "depth": 1}))
# A text reader's cell (a GRU, or attention) makes it another architecture, as a net name does.
TEXT_CELLS = {"nets.text_encoder": "gru"}

Judge = Callable[[np.ndarray], dict[str, np.ndarray]]
"""States to the class index the judge reads for each data field it knows."""


class Editor(Protocol):
    """What the figures need of a manipulator (tests pass hand-made ones to pin the metrics)."""

    @property
    def classes(self) -> int: ...

    def read(self, states: np.ndarray) -> np.ndarray: ...

    def put_distribution(self, states: np.ndarray, asked: np.ndarray) -> np.ndarray: ...


# -- the figures ---------------------------------------------------------------------


def targets_for(labels: np.ndarray, classes: int, seed: int = 0) -> np.ndarray:
    """For each true label, a class drawn uniformly among the other ``classes - 1``."""
    shift = np.random.default_rng(seed).integers(1, classes, size=len(labels))
    return (labels + shift) % classes


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.square(a.astype(np.float32) - b.astype(np.float32))))


def _share(hits: np.ndarray) -> float:
    return float(np.mean(hits))


def is_text(states: np.ndarray) -> bool:
    """Token ids (sentences) rather than real arrays (images)."""
    return bool(np.issubdtype(states.dtype, np.integer))


def one_hot(ids: np.ndarray, vocabulary: int) -> np.ndarray:
    return np.eye(vocabulary, dtype=np.float32)[ids]


def sentences(ids: np.ndarray, tokenizer: object = None) -> list[str]:
    """Token ids (N, L) as sentences: the tokenizer's words (up to ``<eos>``) when there is
    one, else the ids themselves with the padding (id 0) left out."""
    if isinstance(tokenizer, Tokenizer):
        return tokenizer.decode(ids)
    return [" ".join(str(i) for i in row if i != 0) for row in np.asarray(ids).tolist()]


def bleu(edits: list[str], inputs: list[str]) -> float:
    """Corpus BLEU (0..100) of the edited sentences against their inputs, one reference each.

    The sentences are compared as given, split at spaces (``tokenize="none"``): they are
    already the words the model reads.
    """
    score = BLEU(tokenize="none", force=True).corpus_score(edits, [inputs]).score
    return min(float(score), 100.0)  # sacrebleu's exact match can round to 100.00000000000004


def figures(editor: Editor, judge: Judge, dataset: Dataset, state_field: str,
            attribute_field: str, seed: int = 0) -> dict[str, Any]:
    """The figures of the module docstring, the references, and the judge's own accuracy."""
    states, labels = dataset.fields[state_field], dataset.fields[attribute_field]
    targets = targets_for(labels, editor.classes, seed)
    edits = editor.put_distribution(states, np.eye(editor.classes, dtype=np.float32)[targets])
    text: dict[str, float] = {}
    if is_text(states):  # token ids: compare as the one-hot wire values; edits are sentences
        tokenizer = dataset.extras.get("tokenizer")
        words = edits.argmax(-1)
        text["bleu"] = bleu(sentences(words, tokenizer), sentences(states, tokenizer))
        states, edits = one_hot(states, edits.shape[-1]), one_hot(words, edits.shape[-1])
    read = editor.read(states)
    before, after = judge(states), judge(edits)
    results: dict[str, Any] = {
        "attribute_success": _share(after[attribute_field] == targets),
        "training_classifier_success": _share(editor.read(edits).argmax(-1) == targets),
        "getput_mse": _mse(editor.put_distribution(states, read), states),
        "undo_mse": _mse(editor.put_distribution(edits, read), states),
    }
    reference: dict[str, float] = {}
    if dataset.name == "sprites" and attribute_field in ATTRIBUTES:
        truth = counterfactual(dataset, attribute_field, targets)
        results["counterfactual_mse"] = _mse(edits, truth)
        reference["identity_counterfactual_mse"] = _mse(states, truth)
    if text:  # what the judge's errors alone give an editor that changes nothing
        reference["identity_attribute_success"] = _share(before[attribute_field] == targets)
    others = [f for f in after if f != attribute_field]
    kept = {f: _share(after[f] == before[f]) for f in others}
    if kept:
        results["kept_attributes"] = float(np.mean(list(kept.values())))
    results.update(text)
    return {
        "figures": results,
        "kept_by_attribute": kept,
        "reference": reference,
        "judge_accuracy": {f: _share(before[f] == dataset.fields[f]) for f in before},
    }


def warnings_for(report: Mapping[str, Any]) -> list[str]:
    """The warnings a report deserves: adversarial edits, a judge too weak to trust."""
    found = report["figures"]
    warnings = []
    training, judged = found["training_classifier_success"], found["attribute_success"]
    if training >= 0.5 and training - judged >= ADVERSARIAL_GAP:
        warnings.append(errors.adversarial(training, judged))
    warnings += [errors.weak_judge(f, a) for f, a in report["judge_accuracy"].items()
                 if a < WEAK_JUDGE]
    return warnings


# -- the judge -----------------------------------------------------------------------


@dataclass(frozen=True)
class TrainedJudge:
    """A classifier run used as a judge: ``learner``'s outputs read the data ``fields``."""

    run: Run
    learner: str
    fields: tuple[str, ...]

    def __call__(self, states: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.run.call(self.learner, states)
        return {f: o.argmax(-1) for f, o in zip(self.fields, outputs, strict=True)}

    def features(self, states: np.ndarray) -> np.ndarray:
        """The judge's penultimate features of each state (N, D), what its heads read: the
        feature space of the Fréchet distance.  A net without ``heads`` gives its logits."""
        wire = self.run.signature(self.learner).inputs[0]
        parts = [np.asarray(self._features(Value.from_data(states[i:i + CHUNK], wire).array))
                 for i in range(0, len(states), CHUNK)]
        return np.concatenate(parts).reshape(len(states), -1)

    @cached_property
    def _features(self) -> Callable[[jax.Array], jax.Array]:
        net = self.run.lowered.learners[self.learner]
        module = nnx.merge(net.graphdef, self.run.params[self.learner])
        if hasattr(module, "heads"):
            module.heads = _Penultimate()
        graphdef, state = nnx.split(module)

        @jax.jit
        def features(x: jax.Array) -> jax.Array:
            outputs = nnx.merge(graphdef, state)(x)
            return jax.numpy.concatenate([o.reshape(o.shape[0], -1) for o in outputs], -1)

        return features


class _Penultimate(nnx.Module):
    """Stands in for a net's ``heads``: hands back what they would read."""

    def __call__(self, h: jax.Array) -> tuple[jax.Array]:
        return (h,)


def find_judge(run: Run, state: WireType, field: str) -> TrainedJudge:
    """The learner of ``run`` that classifies ``state``s into classes including ``field``.

    Each of its outputs reads the field of the first output of its training data
    source with the same type (not yet taken), after the state itself.
    """
    for learner in run.lowered.learner_names:
        signature = run.signature(learner)
        if signature.inputs != (state,) or any(t.kind != "Class" for t in signature.outputs):
            continue
        for source in run.data_sources():
            outputs = list(run.signature(source).outputs)
            if state not in outputs:
                continue
            names = run.labelled(source, "test", 1).fields
            free = [i for i in range(len(outputs)) if i != outputs.index(state)]
            fields = []
            for wanted in signature.outputs:
                match = next((i for i in free if outputs[i] == wanted), None)
                if match is None:
                    break
                free.remove(match)
                fields.append(names[match])
            if len(fields) == len(signature.outputs) and field in fields:
                return TrainedJudge(run, learner, tuple(fields))
    raise errors.not_a_judge(run.directory, str(state), field)


def judged_fields(dataset: Dataset, attribute_field: str) -> list[str]:
    """The attribute first, then every other categorical field with one label per example."""
    others = [f for f in dataset.classes if f != attribute_field and dataset.fields[f].ndim == 1]
    return [attribute_field, *others]


def architecture(net: object) -> tuple[str, str]:
    """What tells a judge's net from ``get``'s: its name, and for a text reader its cell."""
    name = getattr(net, "name", "")
    name = name if name.startswith("nets.") or not name else f"nets.{name}"
    kwargs = getattr(net, "kwargs", {})
    return name, str(kwargs.get("cell", TEXT_CELLS.get(name, "")))


def judge_task(manipulator: Manipulator, steps: int) -> str:
    """The .task text of the judge for ``manipulator``: see the module docstring."""
    sample = manipulator.sample.dataset
    state_field, attribute_field = manipulator.fields
    fields = judged_fields(sample, attribute_field)
    types = ", ".join(f"Class[{sample.classes[f]}]" for f in fields)
    names = ", ".join(f"y{i}" for i in range(len(fields)))
    binding = manipulator.run.settings.data.get(manipulator.source)
    options = dict(binding.kwargs) if isinstance(binding, Call) else {}
    options.update(split="train", fields=(state_field, *fields))
    dataset = binding.name if isinstance(binding, Call) else f"datasets.{manipulator.source}"
    get_net = architecture(manipulator.run.lowered.impls.get(manipulator.get))
    candidates = IMAGE_JUDGES if manipulator.is_image else TEXT_JUDGES
    net = next(c for c in candidates if architecture(c) != get_net)
    seed = manipulator.run.settings.seed + 1
    return f"""\
# The independent judge of the manipulator in {manipulator.run.directory}: one classifier
# with a head per attribute, trained on the training split with another architecture and
# seed than the manipulator's `{manipulator.get}`. Written by `taskdsl eval`.
type State = {manipulator.state.structural()}

data    labelled : -> State, {types}
learner judge    : State -> {types}

task classify:
    x, {names} <- labelled
    judge(x) = {names}

impl judge = {show(net)}

train classify:
    data labelled = {show(Call(dataset, (), options))}
    batch 64
    steps {steps}
    optimizer adam(lr = 2e-3)
    seed {seed}
"""


def cached_judge(manipulator: Manipulator, steps: int = JUDGE_STEPS,
                 progress: bool = True) -> TrainedJudge:
    """The judge in ``RUN_DIR/judge/``, trained there first if it is not (or only partly)."""
    directory = manipulator.run.directory / JUDGE_FOLDER
    started = (directory / CONFIG).is_file()
    run = _finished(directory, steps) if started else None
    if run is None:
        path = manipulator.run.directory / JUDGE_TASK
        write_text(path, judge_task(manipulator, steps))
        train(load(path), "classify", (), directory, resume=started, progress=progress)
        run = load_run(directory)
    return find_judge(run, manipulator.state, manipulator.fields[1])


def _finished(directory: Path, steps: int) -> Run | None:
    """The judge run in ``directory`` if it has a checkpoint after at least ``steps`` steps."""
    try:
        run = load_run(directory)
    except errors.EvalError:
        return None
    return run if run.step >= steps else None


# -- realism -------------------------------------------------------------------------


def realism_report(manipulator: Manipulator, judge: TrainedJudge, split: str, n: int,
                   seed: int = 0, steps: int = realism.TWO_SAMPLE_STEPS) -> dict[str, Any]:
    """:func:`.realism.realism` of ``manipulator`` on the whole ``split``: up to ``n`` edit
    inputs and ``n`` references from its two halves (permuted by ``seed``), judged in
    ``judge``'s features, the other attributes the judge reads compared with the truth."""
    state_field, attribute_field = manipulator.fields
    full = manipulator.labelled(split).dataset
    others = {f: (full.fields[f], full.classes[f])
              for f in judged_fields(full, attribute_field)[1:] if f in judge.fields}
    run_seed = manipulator.run.settings.seed
    return realism.realism(
        manipulator, full.fields[state_field], full.fields[attribute_field], judge.features,
        lambda labels: targets_for(labels, manipulator.classes, run_seed), n=n, seed=seed,
        steps=steps, judge=judge, others=others, names=manipulator.class_names)


def _figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def realism_table(report: Mapping[str, Any]) -> list[str]:
    """The realism figures as text: pooled, per class, then the other attributes' shift,
    each beside the same figure for real data against real data."""
    reference = report["reference"]
    lines = [f"  realism ({report['edit_inputs']} edits against {report['references']} real "
             "examples of the asked-for class; the reference column is real against real)",
             f"    {'':<22}{'edits':>10}{'reference':>11}"]
    for key in ("two_sample_accuracy", "frechet_distance"):
        lines.append(f"    {key:<22}{_figure(report[key]):>10}{_figure(reference[key]):>11}")
    heading = "by class"  # the names column is at least the heading and a space wide
    column = max(len(heading) + 1, *(len(str(name)) + 3 for name in report["by_class"]))
    lines.append(f"    {heading:<{column}}{'two-sample':>10}{'Fréchet':>9}{'edits':>7}")
    for name, row in report["by_class"].items():
        lines.append(f"      {name:<{column - 2}}{_figure(row['two_sample_accuracy']):>10}"
                     f"{_figure(row['frechet_distance'], 2):>9}{row['edits']:>7}")
    shift = report.get("other_attributes_tv", {})
    if shift:
        lines.append("    other attributes, total variation of edits against data "
                     "(reference: real against real)")
        for field, value in shift.items():
            floor = reference["other_attributes_tv"][field]
            lines.append(f"      {field:<16}{_figure(value):>10}{_figure(floor):>11}")
    return lines


# -- pictures ------------------------------------------------------------------------


def _examples(labels: np.ndarray, count: int) -> np.ndarray:
    """Up to ``count`` example indices, one of each class first, so a grid shows variety."""
    firsts = [int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]
    rest = [i for i in range(len(labels)) if i not in firsts]
    return np.array((firsts + rest)[:count])


def draw(manipulator: Manipulator, dataset: Dataset, out: Path) -> list[Path]:
    """``grid.png`` (each input, then its edit to every class) and, for a refined ``put``,
    ``interpolation.png`` (each input, then edits toward the next class at each strength)."""
    if not manipulator.is_image:
        return []
    state_field, attribute_field = manipulator.fields
    rows = _examples(dataset.fields[attribute_field], GRID_ROWS)
    states = dataset.fields[state_field][rows]
    edits = [manipulator.edit(states, np.full(len(rows), c)) for c in range(manipulator.classes)]
    written = [pictures.save_columns(out / GRID_FILE, [states, *edits],
                                     ["input", *manipulator.class_names])]
    if manipulator.refined:
        toward = (dataset.fields[attribute_field][rows] + 1) % manipulator.classes
        steps = [manipulator.edit(states, toward, s) for s in STRENGTHS]
        written.append(pictures.save_columns(out / INTERPOLATION_FILE, [states, *steps],
                                             ["input", *(f"s={s:g}" for s in STRENGTHS)]))
    return written


def write_edits(manipulator: Manipulator, judge: Judge, dataset: Dataset, out: Path
                ) -> list[Path]:
    """``edits.txt``, the text analogue of ``grid.png``: a few input sentences, each with its
    edit to every other class, and what the judge reads on each."""
    if manipulator.is_image:
        return []
    state_field, attribute_field = manipulator.fields
    labels = dataset.fields[attribute_field]
    rows = _examples(labels, EDIT_ROWS)
    ids = dataset.fields[state_field][rows]
    tokenizer = dataset.extras.get("tokenizer")
    names = manipulator.class_names
    vocabulary = manipulator.state.value_shape[-1]
    read = judge(one_hot(ids, vocabulary))[attribute_field]
    lines = [f"# Edits by `{manipulator.put}` of {manipulator.run.directory}: each input "
             "sentence (its true class; the class the judge reads), then its edit to each "
             "other class (the class asked for; the class the judge reads).", ""]
    edits = {c: manipulator.edit(ids, np.full(len(rows), c)).argmax(-1)
             for c in range(manipulator.classes)}
    judged = {c: judge(one_hot(e, vocabulary))[attribute_field] for c, e in edits.items()}
    width = max(len(f"to {n} ") for n in names) + len("(judge: ) ") + max(map(len, names))
    for i, (sentence, label) in enumerate(zip(sentences(ids, tokenizer), labels[rows],
                                              strict=True)):
        head = f"{names[label]} (judge: {names[read[i]]})"
        lines.append(f"{head:<{width}}  {sentence}")
        for c in range(manipulator.classes):
            if c != label:
                edit = sentences(edits[c][i:i + 1], tokenizer)[0]
                head = f"to {names[c]} (judge: {names[judged[c][i]]})"
                lines.append(f"{head:<{width}}  {edit}")
        lines.append("")
    path = out / EDITS_FILE
    write_text(path, "\n".join(lines))
    return [path]


# -- the whole evaluation ---------------------------------------------------------------


def evaluate(run_dir: str | Path, judge_dir: str | Path | None = None, split: str = "test",
             n: int = 1000, out: str | Path | None = None, judge_steps: int = JUDGE_STEPS,
             progress: bool = True, seed: int = 0, measure_realism: bool = True,
             realism_steps: int = realism.TWO_SAMPLE_STEPS) -> dict[str, Any]:
    """Judge the manipulator in ``run_dir`` on ``n`` examples of ``split``; write ``eval.json``
    and the pictures to ``out`` (default: the run folder) and return what eval.json holds.

    ``seed`` seeds the manipulator's random boxes (a sampling editor's noise; ``drop`` is
    off at inference), so an evaluation is reproducible from it; eval.json records it.
    It also seeds the permutation that splits ``split`` into edit inputs and real
    references for the realism figures (``measure_realism=False`` skips them; sentences
    also get a fluency figure, :mod:`.fluency`).
    """
    if n < 1:
        raise errors.bad_count(n)
    run = load_run(run_dir, seed=seed)
    try:
        manipulator = find_manipulator(run)
    except errors.EvalError as error:
        if error.code not in ("no-manipulator", "no-labels"):
            raise
        return evaluate_objective(run, split, n, out, seed)
    if judge_dir is None:
        judge = cached_judge(manipulator, judge_steps, progress)
    elif Path(judge_dir).resolve() == manipulator.run.directory.resolve():
        raise errors.judge_is_manipulator(Path(judge_dir))
    else:
        judge = find_judge(load_run(judge_dir), manipulator.state, manipulator.fields[1])
    dataset = manipulator.labelled(split, n).dataset
    report = figures(manipulator, judge, dataset, *manipulator.fields,
                     seed=manipulator.run.settings.seed)
    result = {
        "run": str(manipulator.run.directory),
        "judge": str(judge.run.directory),
        "judge_net": show(judge.run.lowered.impls[judge.learner]),
        "get": manipulator.get,
        "put": manipulator.put,
        "split": split,
        "seed": seed,
        "n": len(dataset),
        "attribute": manipulator.fields[1],
        "classes": list(manipulator.class_names),
        **report,
        "warnings": warnings_for(report),
    }
    if measure_realism and manipulator.is_image:
        result["realism"] = realism_report(manipulator, judge, split, n, seed, realism_steps)
    elif not manipulator.is_image:  # sentences: fluency, and realism on the judge's encodings
        run_seed = manipulator.run.settings.seed
        pick = lambda labels: targets_for(labels, manipulator.classes, run_seed)  # noqa: E731
        result["figures"].update(fluency.sentence_figures(manipulator, dataset, pick))
        if measure_realism:
            vocabulary = manipulator.state.value_shape[-1]
            full = manipulator.labelled(split).dataset
            result["realism"] = fluency.sentence_realism(
                manipulator, full.fields[manipulator.fields[0]],
                full.fields[manipulator.fields[1]],
                lambda ids: judge.features(one_hot(ids, vocabulary)), pick, n=n, seed=seed,
                steps=realism_steps, names=list(manipulator.class_names))
    try:  # the held-out value of each task too, as for any run
        found = objective_report(manipulator.run, split, n)
    except (errors.EvalError, TrainError, DataError):
        found = {}
    result["objective_warnings"] = found.pop("warnings", [])
    result.update({k: v for k, v in found.items() if k not in result})
    folder = Path(out) if out is not None else manipulator.run.directory
    folder.mkdir(parents=True, exist_ok=True)
    written = [*draw(manipulator, dataset, folder),
               *write_edits(manipulator, judge, dataset, folder)]
    result["pictures"] = [p.name for p in written]
    write_text(folder / EVAL_FILE, json.dumps(result, indent=2) + "\n")
    return result


def table(result: Mapping[str, Any]) -> str:
    """The figures as aligned text, the references and judge accuracy after them."""
    rows: list[tuple[str, float]] = list(result["figures"].items())
    rows += [(f"kept {k}", v) for k, v in result["kept_by_attribute"].items()]
    rows += list(result["reference"].items())
    rows += [(f"judge accuracy {k}", v) for k, v in result["judge_accuracy"].items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"{result['attribute']} edits of {result['run']} ({result['n']} {result['split']} "
             f"examples, judged by {result['judge_net']})"]
    lines += [f"  {name:<{width}}  {value:.4f}" for name, value in rows]
    if "realism" in result:
        lines += realism_table(result["realism"])
    return "\n".join([*lines, *result["warnings"]])


# -- any objective ----------------------------------------------------------------------

ACCURACY, MSE, NEG_ELBO = "accuracy", "mse", "neg_elbo"
"""Figures of any run: the share of ``Class``/``Tokens`` sides compared by ``ce`` whose
most probable classes agree, the mean squared error of ``Real`` sides, and for the VAE
pattern the sum of its reconstruction and KL tasks (-ELBO up to scale and a constant,
``stdlib/vae.task``)."""


SHOWN_CLASSES = 20
"""Per-class accuracy is printed for at most this many classes (eval.json has them all)."""


@dataclass(frozen=True)
class Measured:
    """One compared pair of an equation that a figure fits: what to compute on it, and for
    accuracy on one class axis the data source output the true classes come from."""

    plan: str
    task: str
    figure: str
    lhs: int
    rhs: int
    truth: tuple[str, int] | None = None  # (source, output) of the side that is data
    truth_is_lhs: bool = False
    classes: int = 0


def _drawn(plan: EquationPlan, wire: int) -> tuple[str, int] | None:
    """The data source and output a wire of ``plan`` is drawn from, if it is data."""
    for step in plan.plan.steps:
        if step.fn is None and step.args and isinstance(step.args[0], DrawOf):
            outputs = [w for w, _ in step.outputs]
            if wire in outputs:
                return step.args[0].source, outputs.index(wire)
    return None


def measured(plans: tuple[EquationPlan, ...]) -> list[Measured]:
    """Each term of each equation with a figure: ``accuracy`` for categorical sides by
    ``ce``, ``mse`` for ``Real`` sides of one shape; named ``FIGURE/TASK`` (``/I`` for an
    equation that compares several wires)."""
    found = []
    for plan in plans:
        for i, term in enumerate(plan.terms):
            lt, rt = plan.plan.types[term.lhs], plan.plan.types[term.rhs]
            task = plan.name if len(plan.terms) == 1 else f"{plan.name}/{i}"
            if term.name == "ce" and lt.kind in CATEGORICAL_KINDS and lt == rt:
                left = _drawn(plan, term.lhs)
                truth = left or _drawn(plan, term.rhs)
                one_axis = len(lt.value_shape) == 1
                found.append(Measured(plan.name, task, ACCURACY, term.lhs, term.rhs,
                                      truth if one_axis else None, left is not None,
                                      lt.value_shape[-1] if one_axis else 0))
            elif lt.kind == rt.kind == "Real" and lt.value_shape == rt.value_shape:
                found.append(Measured(plan.name, task, MSE, term.lhs, term.rhs))
    return found


def vae_tasks(plans: tuple[EquationPlan, ...]) -> tuple[str, ...]:
    """The tasks of the VAE pattern, when the objective has it: a ``kl`` between
    ``Gaussian`` wires (q(z | x) against the prior) and a task that decodes a ``sample``
    (the reconstruction); ``()`` otherwise."""
    kl = [p.name for p in plans
          if any(t.name == "kl" and p.plan.types[t.lhs].kind == "Gaussian" for t in p.terms)]
    decoded = [p.name for p in plans if p.name not in kl
               and any(s.box.kind is BoxKind.BUILTIN and s.box.name == "sample"
                       for s in p.plan.steps)]
    return (*decoded, *kl) if kl and decoded else ()


def _values(lowered: Lowered, found: list[Measured], params: Any, batch: Any, key: jax.Array,
            size: int, precision: str = "float32"
            ) -> tuple[jax.Array, dict[str, jax.Array], list[dict[str, jax.Array]]]:
    """One held-out batch: ``Lowered.loss`` in inference mode (the total and each task),
    and each figure's sums, by running the same held-out plans on the same keys, in the
    run's ``precision`` (its learners compute as they did in training)."""
    apply_fns = learners_in(lowered.apply_fns, precision)
    total, tasks = lowered.loss(params, batch, key, size, Mode.EVAL, apply_fns)
    total, tasks = (jnp.asarray(total, jnp.float32),
                    {n: jnp.asarray(v, jnp.float32) for n, v in tasks.items()})
    plans = {p.name: p for p in lowered._eval_plans()}
    envs: dict[str, dict] = {}
    parts = []
    for m in found:
        plan = plans[m.plan]
        if plan.name not in envs:  # the keys of `equation_value`, so the draws are the same
            context = Context(apply_fns, params, jax.random.fold_in(key, plan.index),
                              size, batch)
            envs[plan.name] = execute(plan.plan, context)
        env = envs[plan.name]
        lhs, rhs = env[plan.plan.value(m.lhs)], env[plan.plan.value(m.rhs)]
        if m.figure == MSE:
            lhs, rhs = lhs.astype(jnp.float32), rhs.astype(jnp.float32)
            parts.append({"sum": jnp.sum(jnp.mean(jnp.square(lhs - rhs),
                                                  axis=tuple(range(1, lhs.ndim)))),
                          "count": jnp.asarray(lhs.shape[0], jnp.float32)})
            continue
        left, right = lhs.argmax(-1), rhs.argmax(-1)
        hits = (left == right).astype(jnp.float32)
        part = {"sum": jnp.sum(jnp.mean(hits.reshape(hits.shape[0], -1), axis=1)),
                "count": jnp.asarray(hits.shape[0], jnp.float32)}
        if m.classes:
            truth = left if m.truth_is_lhs else right
            onehot = jax.nn.one_hot(truth, m.classes)
            part["per_class_hits"] = jnp.sum(onehot * hits[:, None], axis=0)
            part["per_class_count"] = jnp.sum(onehot, axis=0)
        parts.append(part)
    return total, tasks, parts


def held_out_sources(run: Run, split: str, n: int, warnings: list[str]
                     ) -> dict[str, feeding.BoundSource]:
    """Each data source the objective draws, bound as in training but to ``split`` (and at
    most ``n`` examples); a data set without a ``split`` option is used whole, with a
    warning in ``warnings``."""
    requests = run.lowered.data_requests()
    bindings: dict[str, Any] = {}
    for request in requests:
        call = feeding.binding_of(request.source, run.settings.data)
        if request.source in bindings or not isinstance(call, Call):
            continue  # binding reports a missing or malformed binding
        accepted = _loader_options(call.name.removeprefix("datasets."))
        options = dict(call.kwargs)
        if "split" in accepted:
            options["split"] = split
        else:
            warnings.append(errors.not_held_out(request.source, show_value(call)))
        if "n" in accepted:
            options["n"] = n
        bindings[request.source] = Call(call.name, call.args, options, call.span)
    bound = feeding.bind(requests, bindings, run.config.get("objective", ""))
    return {name: _subset(s, n, run.settings.seed) for name, s in bound.items()}


def _subset(source: feeding.BoundSource, n: int, seed: int) -> feeding.BoundSource:
    """At most ``n`` of ``source``'s examples, a seeded random choice (in their order): the
    first ``n`` of a data set stored class by class would leave classes out."""
    if len(source) <= n:
        return source
    rows = np.sort(np.random.default_rng(seed).permutation(len(source))[:n])
    return feeding.BoundSource(source.name, source.binding, tuple(a[rows] for a in source.arrays))


def objective_report(run: Run, split: str = "test", n: int = 1000) -> dict[str, Any]:
    """Each task's held-out value (as ``eval_every`` measures it), the weighted total, and
    each figure of :func:`measured`, on ``n`` examples of ``split`` (a seeded random choice
    when it has more) in whole batches of the run's batch size: each example at most once,
    the last partial batch left out (fewer examples than a batch: one smaller batch)."""
    warnings: list[str] = []
    lowered = run.lowered
    sources = held_out_sources(run, split, n, warnings)
    smallest = min((len(s) for s in sources.values()), default=run.settings.batch)
    size = max(1, min(run.settings.batch, smallest))
    count = max(1, smallest // size)
    feed = feeding.Feed(lowered.data_requests(), sources, size, run.settings.seed)
    found = measured(lowered._eval_plans())
    precision = run.settings.precision
    step = jax.jit(under_matmul_precision(
        lambda params, batch, key: _values(lowered, found, params, batch, key, size, precision),
        run.settings.matmul_precision))
    key = jax.random.key(run.seed)
    totals, tasks, parts = [], [], []
    for i in range(count):
        total, values, figures_ = jax.device_get(step(run.params, feed.batch(i),
                                                      jax.random.fold_in(key, i)))
        totals.append(float(total))
        tasks.append({k: float(v) for k, v in values.items()})
        parts.append(figures_)
    values = {name: float(np.mean([t[name] for t in tasks])) for name in lowered.task_names}
    weights = {p.name: float(p.weight) for p in lowered._eval_plans()}
    metrics: dict[str, float] = {}
    by_class: dict[str, dict[str, float]] = {}
    for j, m in enumerate(found):
        summed = {k: np.sum([p[j][k] for p in parts], axis=0) for k in parts[0][j]}
        metrics[f"{m.figure}/{m.task}"] = float(summed["sum"] / summed["count"])
        if "per_class_hits" in summed and m.truth is not None:
            names = run.class_names(*m.truth) or tuple(map(str, range(m.classes)))
            by_class[f"{m.figure}/{m.task}"] = {
                name: float(h / c) for name, h, c in zip(
                    names, summed["per_class_hits"], summed["per_class_count"], strict=True)
                if c > 0}
    result: dict[str, Any] = {
        "objective": run.config.get("objective"),
        "examples": count * size,
        "batch": size,
        "total": float(np.mean(totals)),
        "tasks": values,
        "weights": weights,
        "metrics": metrics,
        "by_class": by_class,
    }
    elbo = vae_tasks(lowered._eval_plans())
    if elbo:
        result[NEG_ELBO] = float(sum(values[t] for t in elbo))
        result["elbo_tasks"] = list(elbo)
    result["class_names"] = {f"{s}/{o}": list(names) for s, o, names in _named(run)}
    result["warnings"] = warnings
    return result


def _named(run: Run) -> list[tuple[str, int, tuple[str, ...]]]:
    """Each data source output whose classes have names, with them: what eval.json records."""
    found = []
    for source in run.data_sources():
        for output, wire in enumerate(run.signature(source).outputs):
            if wire.kind == "Class":
                names = run.class_names(source, output)
                if names is not None:
                    found.append((source, output, names))
    return found


def _loader_options(name: str) -> tuple[str, ...]:
    loader = LOADERS.get(name)
    return tuple(inspect.signature(loader).parameters) if loader else ()


def evaluate_objective(run: Run | str | Path, split: str = "test", n: int = 1000,
                       out: str | Path | None = None, seed: int = 0) -> dict[str, Any]:
    """Any run's held-out report (:func:`objective_report`), written to ``eval.json`` in
    ``out`` (default: the run folder); returns what eval.json holds."""
    if n < 1:
        raise errors.bad_count(n)
    if not isinstance(run, Run):
        run = load_run(run, seed=seed)
    result = {"run": str(run.directory), "split": split, "seed": seed, "n": n,
              **objective_report(run, split, n)}
    folder = Path(out) if out is not None else run.directory
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / EVAL_FILE, json.dumps(result, indent=2) + "\n")
    return result


def objective_table(result: Mapping[str, Any]) -> Table:
    """The report as a Rich table: each task's held-out value and weight, the total, the
    figures (with per-class accuracy by class name), and -ELBO for a VAE."""
    table_ = Table()
    table_.add_column("held-out")
    table_.add_column("value", justify="right")
    table_.add_column("weight", justify="right")
    for name, value in result["tasks"].items():
        table_.add_row(name, f"{value:.4f}", f"{result['weights'].get(name, 1.0):g}")
    table_.add_row("total (weighted)", f"{result['total']:.4f}", "", end_section=True)
    if NEG_ELBO in result:
        table_.add_row(f"-ELBO ({' + '.join(result['elbo_tasks'])})",
                       f"{result[NEG_ELBO]:.4f}", "", end_section=True)
    for name, value in result["metrics"].items():
        table_.add_row(name, f"{value:.4f}", "")
        shares = result["by_class"].get(name, {})
        for cls, share in shares.items() if len(shares) <= SHOWN_CLASSES else ():
            table_.add_row(f"  {cls}", f"{share:.4f}", "")
    return table_


def print_report(result: Mapping[str, Any]) -> None:
    """What ``taskdsl eval`` prints: the manipulator's figures (if it is one), then the
    objective's table, then the warnings."""
    console = Console(highlight=False)
    if "figures" in result:
        console.print(table(result), markup=False, soft_wrap=True)
    if "tasks" in result:
        console.print(f"objective `{result.get('objective')}` on {result['examples']} "
                      f"{result['split']} examples of {result['run']}", markup=False,
                      soft_wrap=True)
        console.print(objective_table(result))
    later = "objective_warnings" if "figures" in result else "warnings"
    for warning in result.get(later, []):
        console.print(warning, markup=False, soft_wrap=True)
