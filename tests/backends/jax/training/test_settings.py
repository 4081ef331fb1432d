"""Settings: defaults, a train block, `--set` overrides, and the errors a typo gets."""

from __future__ import annotations

import pytest

import taskdsl
from taskdsl.backends.jax.training.errors import PROGRAM, USAGE, TrainError
from taskdsl.backends.jax.training.settings import (
    DEFAULT_OPTIMIZER,
    Settings,
    from_json,
    parse_value,
    resolve,
    show,
)
from taskdsl.ir import Call, Name, Program

SOURCE = """
type Img = Real[4]
data pairs : -> Img, Class[3]
learner get : Img -> Class[3]
task classify:
    x, y <- pairs
    get(x) = y
task other:
    x, y <- pairs
    get(x) = y
impl get = nets.mlp(width = 8)
train classify:
    data pairs = datasets.sprites(n = 10)
    batch 16
    steps 30
    optimizer sgd(lr = 0.1)
"""


def program(text: str = SOURCE) -> Program:
    result = taskdsl.check_text(text)
    assert result.ok, result.render()
    return result.program


def test_defaults_when_there_is_no_train_block() -> None:
    settings = resolve(program(), "other")
    assert (settings.batch, settings.steps, settings.seed) == (64, 1000, 0)
    assert (settings.log_every, settings.checkpoint_every, settings.keep) == (50, "auto", 3)
    assert settings.optimizer == DEFAULT_OPTIMIZER
    assert settings.data == {}
    assert settings.impls == {"get": Call("nets.mlp", (), {"width": 8})}


def test_the_train_block_then_overrides_later_ones_winning() -> None:
    settings = resolve(program(), "classify", ["steps=5", "seed=7", "steps=9",
                                               "optimizer=adam(lr = 1e-4, b1=0.8)"])
    assert (settings.batch, settings.steps, settings.seed) == (16, 9, 7)
    assert settings.optimizer == Call("adam", (), {"lr": 1e-4, "b1": 0.8})
    assert settings.data == {"pairs": Call("datasets.sprites", (), {"n": 10})}


def test_impl_and_data_overrides_replace_one_binding() -> None:
    settings = resolve(program(), "classify", [
        "impl.get=nets.cnn(width=4)",
        'data.pairs=datasets.digits(split="test", fields=["image", "label"])',
    ])
    assert settings.impls == {"get": Call("nets.cnn", (), {"width": 4})}
    assert settings.data == {"pairs": Call("datasets.digits", (),
                                           {"split": "test", "fields": ("image", "label")})}


@pytest.mark.parametrize(("text", "value"), [
    ("500", 500), ("1e-3", 1e-3), ("-2", -2), ('"train"', "train"), ("true", True),
    ("adam", Name("adam")), ("nets.mlp", Name("nets.mlp")), ("[1, 2]", (1, 2)),
    ("sgd(0.1, momentum = 0.9)", Call("sgd", (0.1,), {"momentum": 0.9})),
])
def test_values_are_read_as_a_train_block_holds_them(text: str, value: object) -> None:
    assert parse_value(text) == value


def test_show_spells_values_as_the_file_does() -> None:
    value = Call("datasets.sprites", (), {"split": "test", "fields": ("image",), "flip": False})
    assert show(value) == 'datasets.sprites(split = "test", fields = ["image"], flip = false)'
    assert parse_value(show(value)) == value


def test_to_json_keeps_numbers_and_spells_calls() -> None:
    plain = Settings(impls={"get": Name("nets.cnn")}).to_json()
    assert plain["batch"] == 64
    assert plain["optimizer"] == "adam(lr = 0.001)"
    assert plain["impls"] == {"get": "nets.cnn"}


def usage_error(overrides: list[str], text: str = SOURCE) -> str:
    with pytest.raises(TrainError) as caught:
        resolve(program(text), "classify", overrides)
    assert caught.value.exit_code == USAGE
    return str(caught.value)


@pytest.mark.parametrize(("override", "value"), [
    ("checkpoint_every=auto", "auto"), ('checkpoint_every="auto"', "auto"),
    ("checkpoint_every=40", 40),
])
def test_checkpoint_every_is_auto_or_a_whole_number(override: str, value: object) -> None:
    settings = resolve(program(), "classify", [override])
    assert settings.checkpoint_every == value
    assert Settings(checkpoint_every=value).to_json()["checkpoint_every"] == value


@pytest.mark.parametrize("override", ["checkpoint_every=0", "checkpoint_every=autos",
                                      "checkpoint_every=2.5"])
def test_checkpoint_every_refuses_anything_else(override: str) -> None:
    assert "must be `auto` or a whole number >= 1" in usage_error([override])


def test_an_unknown_key_lists_the_valid_ones() -> None:
    message = usage_error(["stpes=3"])
    assert "unknown setting `stpes`" in message
    assert "did you mean `steps`?" in message
    for key in ("batch", "steps", "optimizer", "seed", "log_every", "checkpoint_every", "keep"):
        assert f"`{key}`" in message


def test_an_unknown_key_in_the_train_block_is_located_and_a_program_error() -> None:
    with pytest.raises(TrainError) as caught:
        resolve(program(SOURCE.replace("batch 16", "bacth 16")), "classify")
    assert caught.value.exit_code == PROGRAM  # the file is wrong, not the command line
    assert str(caught.value).startswith("<input>:14:5: unknown setting `bacth`")
    assert "did you mean `batch`?" in str(caught.value)


@pytest.mark.parametrize(("override", "expected"), [
    ("steps=0", "setting `steps` in `--set steps=0` must be a whole number >= 1, not 0"),
    ("batch=1.5", "must be a whole number >= 1, not 1.5"),
    ("seed=-1", "`seed` in `--set seed=-1` must be a whole number >= 0"),
    ("steps=true", "not true"),
    ("optimizer=3", "must be an optimizer such as `adam(lr = 1e-3)`"),
    ("steps", "has no `=`"),
    ("steps=(1", "cannot read the value in `--set steps=(1`"),
    ("steps=1 + 2", "cannot read the value in `--set steps=1 + 2`: expected "),
    ("steps=1 + 2", "the end of the line, found `+`"),
    # What Python's parser took and a file does not: now refused alike.
    ("steps=1_000", "cannot read the value in `--set steps=1_000`"),
    ("data.pairs=datasets.digits(split='test')", "cannot read the value"),
    ("steps=True", "must be a whole number >= 1, not True"),  # a name, as in a file
    ("impl.gte=nets.mlp()", "the program has no learner `gte`"),
    ("impl.gte=nets.mlp()", "did you mean `get`?"),
    ("data.pair=datasets.digits()", "the program has no data source `pair`"),
    ("data.pair=datasets.digits()", "did you mean `pairs`?"),
])
def test_bad_overrides_say_what_was_expected(override: str, expected: str) -> None:
    assert expected in usage_error([override])


def test_recorded_settings_read_back_as_resolved() -> None:
    """What config.json records is enough to rebuild the settings, overrides included."""
    settings = resolve(program(), "classify", ["steps=9", "schedule=simultaneous",
                                               'data.pairs=datasets.digits(split = "test")'])
    assert from_json(program(), "classify", settings.to_json()) == settings


# ---------------------------------------------------------------- watching a run


def test_the_watch_settings_default_to_tensorboard_only() -> None:
    settings = resolve(program(), "classify")
    assert settings.tensorboard is True
    assert (settings.eval_every, settings.keep_best, settings.keep_best_mode,
            settings.patience) == (0, None, "min", 0)


def test_watch_settings_read_from_the_block_and_back_from_config_json() -> None:
    text = SOURCE.replace("    batch 16\n", '    batch 16\n    eval_every 10\n'
                          '    keep_best "eval/classify"\n    keep_best_mode max\n    patience 3\n'
                          "    tensorboard false\n")
    settings = resolve(program(text), "classify")
    assert (settings.eval_every, settings.keep_best, settings.keep_best_mode,
            settings.patience, settings.tensorboard) == (10, "eval/classify", "max", 3, False)
    assert from_json(program(text), "classify", settings.to_json()) == settings


@pytest.mark.parametrize(("override", "expected"), [
    ("tensorboard=1", "`tensorboard` in `--set tensorboard=1` must be `true` or `false`"),
    ("eval_every=-1", "`eval_every` in `--set eval_every=-1` must be a whole number >= 0"),
    ("keep_best_mode=mean", 'must be `"min"` (lower is better) or `"max"`, not mean'),
    ("keep_best=3", "must be a metric in quotes"),
    ('keep_best="eval/total"', "`keep_best` in `--set keep_best=\"eval/total\"` needs "
                               "`eval_every`"),
    ("patience=2", "`patience` in `--set patience=2` needs `eval_every`"),
])
def test_bad_watch_overrides_are_usage_errors(override: str, expected: str) -> None:
    assert expected in usage_error([override])


def test_keep_best_must_name_a_metric_an_evaluation_logs() -> None:
    message = usage_error(["eval_every=5", 'keep_best="eval/clasify"'])
    assert 'not "eval/clasify"' in message
    # Every objective's metric is offered: the total and each of its tasks (only one here).
    assert "`eval/total`, `eval/classify`" in message
    assert resolve(program(), "classify", ["eval_every=5", 'keep_best="eval/classify"']
                   ).keep_best == "eval/classify"


def test_patience_without_eval_every_in_the_block_is_located_there() -> None:
    text = SOURCE.replace("    batch 16\n", "    batch 16\n    patience 2\n")
    with pytest.raises(TrainError) as caught:
        resolve(program(text), "classify")
    assert caught.value.exit_code == PROGRAM
    assert caught.value.code == "watch-needs-eval"
    assert str(caught.value).startswith("<input>:15:5: `patience` needs `eval_every`")
    # A `--set` that supplies it makes the block's setting valid.
    assert resolve(program(text), "classify", ["eval_every=4"]).patience == 2
