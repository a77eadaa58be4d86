"""Paths of the parse-stage test data (the development set, the RFI sample, fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEV_SET = REPO.parent / "shared" / "data" / "article-extraction"
RFI_SAMPLE = REPO / "examples" / "articles" / "rfi-2023-02-28-blinken-kazakhstan.txt"
DATA = REPO / "tests" / "data" / "parsing"


def dev_set_ids() -> list[str]:
    """Page ids of the development set, or [] when it is not there."""
    truth = DEV_SET / "ground-truth.json"
    if not truth.is_file():
        return []
    return sorted(json.loads(truth.read_text("utf-8")))
