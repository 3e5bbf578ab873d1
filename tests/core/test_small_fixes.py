"""Issue 9, item 11: small things that were wrong."""

from __future__ import annotations

import autolog


def test_log_input_tags_are_stored():
    """Issue 9, item 11: log_input(tags=...) was accepted and dropped."""
    import numpy as np

    with autolog.start_run() as run:
        autolog.log_input(np.zeros((4, 2)), context="eval", tags={"split": "holdout", "n": 4})
    [dataset] = autolog.get_run(run.info.run_id).inputs
    assert dict(dataset.tags) == {"split": "holdout", "n": "4"} and dataset.context == "eval"


def test_readme_says_how_to_get_the_cpu_build_of_the_pinned_torch():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pin = next(line for line in (root / "constraints.txt").read_text().splitlines()
               if line.startswith("torch=="))
    readme = (root / "README.md").read_text()
    assert "constraints.txt` pins the CPU build" not in readme  # it never did by itself
    assert f"--index-url https://download.pytorch.org/whl/cpu {pin}" in readme
