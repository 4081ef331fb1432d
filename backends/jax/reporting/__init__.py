"""``taskdsl report``: one self-contained HTML page for a training run folder.

The page is built from the files alone (``config.json``, ``metrics.jsonl``,
``eval.json``, pictures), so nothing here imports JAX: :mod:`.folder` reads the
folder, :mod:`.curves` draws the metrics as inline SVG, :mod:`.page` puts the
page together and writes it.
"""
