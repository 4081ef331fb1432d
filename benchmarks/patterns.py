"""Every stdlib pattern trained for real through ``train()``, and one table of what each achieves.

Each pattern's example in ``examples/`` is trained with its own ``train`` block
(``--steps-scale`` scales its ``steps``), then judged on held-out data::

    python benchmarks/patterns.py [--only NAME ...] [--steps-scale S] [--out DIR] [--img DIR]

prints one table: pattern, data, figure, value, the steps run out of the
example's, and the seconds of the pattern's training run (lowering, compiling
and every step; judges and evaluation not counted).  MNIST is read where every
run reads it: ``taskdsl data fetch mnist`` once, or ``$TASKDSL_DATA`` naming a
folder that holds ``mnist/``.

Held-out figures are the pattern's own equations evaluated on the test split
(``held_out``): the same diagrams, the same divergences, on data the run never
saw.  What each figure means, and the conventions (the VAE's decoder, the
judges), are in docs/patterns.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

import taskdsl
from taskdsl.backends.jax import data
from taskdsl.backends.jax.evaluation import pictures
from taskdsl.backends.jax.lowering.lower import Lowered
from taskdsl.backends.jax.training import feed as feeding
from taskdsl.backends.jax.training.runs import lower_loading
from taskdsl.backends.jax.training.settings import resolve
from taskdsl.backends.jax.training.train import RunResult, train
from taskdsl.ir import Call, Program

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EVAL_BATCH = 250
PROGRESS = sys.stderr.isatty()


@dataclass(frozen=True)
class Row:
    pattern: str
    data: str
    figure: str
    value: str
    steps: str
    seconds: float


@dataclass(frozen=True)
class Trained:
    """A pattern's example after its training run."""

    program: Program
    result: RunResult
    steps: str  # "run/asked", e.g. "200/2000"

    def apply(self, learner: str, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
        """``learner``'s raw outputs (logits for classes) in chunks, as numpy."""
        size = len(arrays[0])
        chunks = [self.result.lowered.apply(learner, self.result.params,
                                            *(a[i:i + EVAL_BATCH] for a in arrays))
                  for i in range(0, size, EVAL_BATCH)]
        return tuple(np.concatenate([np.asarray(c[k]) for c in chunks])
                     for k in range(len(chunks[0])))

    def rows(self, pattern: str, dataset: str, figures: Sequence[tuple[str, str]]) -> list[Row]:
        return [Row(pattern, dataset, f, v, self.steps, self.result.seconds) for f, v in figures]


def run(example: str, scale: float, out: Path, overrides: Sequence[str] = ()) -> Trained:
    """Train ``examples/EXAMPLE.task`` at ``scale`` times its steps (and with ``--set``
    ``overrides``) into a new folder of ``out``."""
    program = taskdsl.load(EXAMPLES / f"{example}.task")
    name = program.objective(None).name
    asked = resolve(program, name).steps
    steps = max(1, round(asked * scale))
    folder = Path(tempfile.mkdtemp(prefix=f"{example}-", dir=out))
    result = train(program, name, [f"steps={steps}", f"checkpoint_every={steps}", *overrides],
                   folder, progress=PROGRESS)
    return Trained(program, result, f"{steps}/{asked}")


def test_split(binding: object) -> Call:
    """A training data binding with ``split = "test"``: the held-out data of the same set."""
    assert isinstance(binding, Call), binding
    return Call(binding.name, (), {**binding.kwargs, "split": "test"})


def held_out(trained: Trained, objective: str | None = None) -> dict[str, float]:
    """Each equation of ``objective`` (default: the trained one) on the test split.

    Every draw walks the test split once, in batches of ``EVAL_BATCH``; random
    boxes draw from a key per batch.  Returns each task's mean value.
    """
    result = trained.result
    name = objective or result.objective
    low: Lowered = (result.lowered if name == result.objective
                    else lower_loading(trained.program, name, impls=result.settings.impls))
    bindings = {s: test_split(b) for s, b in result.settings.data.items()}
    sources = feeding.bind(low.data_requests(), bindings, name)
    feed = feeding.Feed(low.data_requests(), sources, EVAL_BATCH, seed=0)
    loss = jax.jit(low.loss, static_argnums=3)
    batches = min(len(s) for s in sources.values()) // EVAL_BATCH
    values = [loss(result.params, feed.batch(i), jax.random.key(i), EVAL_BATCH)[1]
              for i in range(batches)]
    return {k: float(np.mean([v[k] for v in values])) for k in values[0]}


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def judge(task_text: str, folder: Path) -> Trained:
    """An independent classifier, trained by ``train()`` from its own ``.task`` text."""
    path = folder / "judge.task"
    path.write_text(task_text, encoding="utf-8")
    program = taskdsl.load(path)
    result = train(program, "classify", (), folder / "run", progress=PROGRESS)
    return Trained(program, result, str(result.step))


def save_samples(images: np.ndarray, path: Path, columns: int = 8) -> str:
    """A grid of ``images``, ``columns`` a row; the path as the table shows it."""
    rows = [list(images[i:i + columns]) for i in range(0, len(images), columns)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pictures.grid(rows).save(path)
    return str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


# -- the patterns -----------------------------------------------------------------------


def classification(scale: float, out: Path, img: Path) -> list[Row]:
    trained = run("mnist_classifier", scale, out)
    test = data.load("mnist", split="test")
    (logits,) = trained.apply("classifier", test.fields["image"])
    return trained.rows("classification", "MNIST", [
        ("test accuracy", f"{accuracy(logits, test.fields['label']):.4f}")])


def regression(scale: float, out: Path, img: Path) -> list[Row]:
    """Sprite centre from the image, against least squares on the same pixels."""
    trained = run("sprites_regression", scale, out)
    train_set = data.load("sprites", split="train")
    test_set = data.load("sprites", split="test")

    def design(images: np.ndarray) -> np.ndarray:
        flat = images.reshape(len(images), -1).astype(np.float64)
        return np.hstack([flat, np.ones((len(flat), 1))])

    weights, *_ = np.linalg.lstsq(design(train_set.fields["image"]),
                                  train_set.fields["position"], rcond=None)
    baseline = np.mean(np.square(design(test_set.fields["image"]) @ weights
                                 - test_set.fields["position"]))
    constant = np.mean(np.square(train_set.fields["position"].mean(axis=0)
                                 - test_set.fields["position"]))
    return trained.rows("regression", "sprites (centre x, y)", [
        ("test MSE", f"{held_out(trained)['regress']:.5f}"),
        ("least-squares baseline test MSE", f"{baseline:.5f}"),
        ("predict-the-mean test MSE", f"{constant:.5f}"),
    ])


def autoencoder(scale: float, out: Path, img: Path) -> list[Row]:
    trained = run("mnist_autoencoder", scale, out)
    return trained.rows("autoencoder", "MNIST", [
        ("test reconstruction MSE, 32-d code", f"{held_out(trained)['reconstruct']:.5f}")])


def gaussian_negative_elbo(trained: Trained, pixels: int) -> tuple[float, float]:
    """Test -ELBO (nats per image) of the Gaussian decoder the objective's weights imply.

    With ``reconstruct + beta * regularise``, the decoder is N(dec(z), s2 I) with
    s2 = beta * D / 2, and -ELBO = D * reconstruct / (2 s2) + (D / 2) log(2 pi s2) + KL.
    """
    weights = {t.equation.name: t.weight for t in trained.result.lowered.objective.terms}
    s2 = weights["regularise"] * pixels / 2
    values = held_out(trained)
    nelbo = (pixels * values["reconstruct"] / (2 * s2) + pixels / 2 * math.log(2 * math.pi * s2)
             + values["regularise"])
    return nelbo, s2


def bernoulli_negative_elbo(trained: Trained, images: np.ndarray, seed: int = 0) -> float:
    """Test -ELBO (nats per image) reading the decoder's mean as Bernoulli pixel probabilities.

    The grey levels are the targets of the cross-entropy, as in most MNIST VAE code;
    one posterior sample per image.
    """
    (posterior,) = trained.apply("enc", images)
    mean, logvar = posterior[:, 0], posterior[:, 1]
    eps = np.random.default_rng(seed).standard_normal(mean.shape).astype(np.float32)
    (decoded,) = trained.apply("dec", mean + np.exp(0.5 * logvar) * eps)
    p = np.clip(decoded, 1e-6, 1 - 1e-6).reshape(len(images), -1)
    x = images.reshape(len(images), -1)
    cross_entropy = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1)
    kl = 0.5 * np.sum(np.exp(logvar) + np.square(mean) - 1 - logvar, axis=1)
    return float(np.mean(cross_entropy + kl))


def vae(scale: float, out: Path, img: Path) -> list[Row]:
    trained = run("mnist_vae", scale, out)
    test = data.load("mnist", split="test")
    nelbo, s2 = gaussian_negative_elbo(trained, 28 * 28)
    latent = trained.program.declarations["dec"].signature.inputs[0].value_shape
    z = np.random.default_rng(0).standard_normal((64, *latent)).astype(np.float32)
    (samples,) = trained.apply("dec", z)
    picture = save_samples(samples, img / "vae_samples.png")
    return trained.rows("VAE", "MNIST", [
        (f"test -ELBO, Gaussian decoder (s2 = {s2:.3f}), nats/image", f"{nelbo:.1f}"),
        ("test -ELBO, Bernoulli reading of the decoder mean, nats/image",
         f"{bernoulli_negative_elbo(trained, test.fields['image']):.1f}"),
        ("samples", picture),
    ])


DIGITS_JUDGE = """\
import classification from stdlib
data labelled : -> Real[8, 8, 1], Class[10]
learner judge : Real[8, 8, 1] -> Class[10]
use classification(classifier = judge, data = labelled)
impl judge = nets.cnn(width = 16)
train classify:
    data labelled = datasets.digits(split = "train")
    batch 64
    steps 1500
    seed 1
"""


def gan(scale: float, out: Path, img: Path) -> list[Row]:
    """Samples, and their labels by a digits classifier the GAN never saw (a CNN, seed 1)."""
    return judged_gan("GAN", run("digits_gan", scale, out), out, img / "gan_samples.png")


def gan_alternate(scale: float, out: Path, img: Path) -> list[Row]:
    """The same GAN with alternating updates, one step each (no picture)."""
    trained = run("digits_gan", scale, out, ["schedule=alternate(disc=1, gen=1)"])
    return judged_gan("GAN, schedule alternate(disc: 1, gen: 1)", trained, out, None)


def judged_gan(pattern: str, trained: Trained, out: Path, picture: Path | None) -> list[Row]:
    """Mode coverage of 1,000 samples by the digits judge, and 64 of them to ``picture``."""
    noise = trained.program.declarations["z"].signature.outputs[0].value_shape
    z = np.random.default_rng(0).standard_normal((1000, *noise)).astype(np.float32)
    (samples,) = trained.apply("gen", z)
    reader = judge(DIGITS_JUDGE, Path(tempfile.mkdtemp(prefix="digits_judge-", dir=out)))
    test = data.load("digits", split="test")
    (test_logits,) = reader.apply("judge", test.fields["image"])
    (logits,) = reader.apply("judge", samples)
    shares = np.bincount(np.argmax(logits, axis=-1), minlength=10) / len(samples)
    figures = [
        ("classes among 1,000 samples (goal: 10)", str(int(np.count_nonzero(shares)))),
        ("largest class share (goal: <= 0.25)", f"{shares.max():.3f}"),
        ("judge's test accuracy on real digits",
         f"{accuracy(test_logits, test.fields['label']):.3f}"),
    ]
    if picture is not None:
        figures.append(("samples", save_samples(samples[:64], picture)))
    return trained.rows(pattern, "digits (8x8)", figures)


SPRITES_JUDGE = """\
data labelled : -> Real[32, 32, 3], Class[4], Class[6]
learner judge : Real[32, 32, 3] -> Class[4], Class[6]
task classify:
    x, shape, colour <- labelled
    judge(x) = shape, colour
impl judge = nets.cnn(width = 16)
train classify:
    data labelled = datasets.sprites(split = "train", seed = 3, \
fields = ["image", "shape", "colour"])
    batch 64
    steps 800
    optimizer adam(lr = 2e-3)
    seed 1
"""


def cyclegan(scale: float, out: Path, img: Path) -> list[Row]:
    """Red <-> blue sprites: is a translation the same sprite in the other colour?"""
    trained = run("sprites_cyclegan", scale, out)
    red = data.load("sprites", split="test", colour="red", seed=1)
    blue = data.load("sprites", split="test", colour="blue", seed=1)  # the same sprites
    reader = judge(SPRITES_JUDGE, Path(tempfile.mkdtemp(prefix="sprites_judge-", dir=out)))

    def success(images: np.ndarray, target: data.Dataset) -> float:
        shape, colour = reader.apply("judge", images)
        return float(np.mean((np.argmax(shape, -1) == target.fields["shape"])
                             & (np.argmax(colour, -1) == target.fields["colour"])))

    def mse(images: np.ndarray, target: data.Dataset) -> str:
        return f"{np.mean(np.square(images - target.fields['image'])):.5f}"

    (to_blue,) = trained.apply("to_blue", red.fields["image"])
    (to_red,) = trained.apply("to_red", blue.fields["image"])
    picture = save_samples(np.concatenate([red.fields["image"][:8], to_blue[:8],
                                           blue.fields["image"][8:16], to_red[8:16]]),
                           img / "cyclegan_samples.png")
    cycles = held_out(trained)
    return trained.rows("CycleGAN", "sprites red <-> blue", [
        ("red -> blue: judge reads blue and the true shape",
         f"{success(to_blue, blue):.3f} (real blue: {success(blue.fields['image'], blue):.3f})"),
        ("blue -> red: judge reads red and the true shape",
         f"{success(to_red, red):.3f} (real red: {success(red.fields['image'], red):.3f})"),
        ("red -> blue MSE against the true blue sprite",
         f"{mse(to_blue, blue)} (unchanged: {mse(red.fields['image'], blue)})"),
        ("blue -> red MSE against the true red sprite",
         f"{mse(to_red, red)} (unchanged: {mse(blue.fields['image'], red)})"),
        ("cycle error (L1) red -> blue -> red", f"{cycles['cycle_a']:.4f}"),
        ("cycle error (L1) blue -> red -> blue", f"{cycles['cycle_b']:.4f}"),
        ("samples: red, to blue; blue, to red (rows)", picture),
    ])


LAWS = ("put_get", "get_put", "put_put", "undo")


def lens(scale: float, out: Path, img: Path) -> list[Row]:
    """Each law's residual on test sprites, by the law's own equation (undo is not trained)."""
    trained = run("sprites_lens", scale, out)
    test = data.load("sprites", split="test")
    (logits,) = trained.apply("colour_of", test.fields["image"])
    residuals = {law: held_out(trained, f"lens.{law}")[f"lens.{law}"] for law in LAWS}
    units = {"put_get": "cross-entropy, nats"}
    return trained.rows("lens laws", "sprites (colour)", [
        ("colour_of test accuracy", f"{accuracy(logits, test.fields['colour']):.4f}"),
        *((f"{law} residual ({units.get(law, 'MSE')})", f"{value:.4f}")
          for law, value in residuals.items()),
    ])


def cvae(scale: float, out: Path, img: Path) -> list[Row]:
    trained = run("mnist_cvae", scale, out)
    nelbo, s2 = gaussian_negative_elbo(trained, 28 * 28)
    return trained.rows("conditional VAE", "MNIST", [
        (f"test -ELBO given the label, Gaussian decoder (s2 = {s2:.3f}), nats/image",
         f"{nelbo:.1f}")])


PATTERNS: dict[str, Callable[[float, Path, Path], list[Row]]] = {
    "classification": classification,
    "regression": regression,
    "autoencoder": autoencoder,
    "vae": vae,
    "gan": gan,
    "gan_alternate": gan_alternate,
    "cyclegan": cyclegan,
    "lens": lens,
    "cvae": cvae,
}


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table."""
    lines = ["| pattern | data | figure | value | steps | seconds |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r.pattern} | {r.data} | {r.figure} | {r.value} | {r.steps} | {r.seconds:.0f} |"
              for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(PATTERNS), default=list(PATTERNS),
                        metavar="NAME", help=f"patterns to run: {', '.join(PATTERNS)}")
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="train each example for this share of its steps (default 1)")
    parser.add_argument("--out", type=Path, help="run folders (default: a new temporary one)")
    parser.add_argument("--img", type=Path, default=ROOT / "docs" / "img",
                        help="where the sample pictures go (default docs/img)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="patterns-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows: list[Row] = []
    for name in args.only:
        found = PATTERNS[name](args.steps_scale, out, args.img)
        print(*table(found).splitlines()[2:], sep="\n", file=sys.stderr, flush=True)
        rows += found
    print(f"steps scale {args.steps_scale:g}; runs in {out}; "
          f"{time.perf_counter() - started:.0f} s in all")
    print(table(rows))


if __name__ == "__main__":
    main()
