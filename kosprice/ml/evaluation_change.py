"""Changing a region's evaluation set: an audited lifecycle action."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from kosprice.errors import LifecycleError
from kosprice.ml import evaluation
from kosprice.ml.actions import ActionResult, approval, utc_now
from kosprice.ml.audit import append_audit

if TYPE_CHECKING:
    from kosprice.ml.lifecycle import Lifecycle


def build_evaluation_set(lifecycle: Lifecycle, region: str, data: Path, approved_by: str,
                         reason: str) -> ActionResult:
    """Make (or replace) the region's evaluation set: production's held-out rows; audited.

    `data` must be in the listings directory: the manifest records it by name and sha256,
    with the rows' ids and checksum, and scoring reads the rows from there.
    """
    approved_by, reason = approval(approved_by, reason, "changing an evaluation set")
    with lifecycle.journal.locked() as recovered:
        baseline = lifecycle.baseline(region)
        if baseline.model is None:
            raise LifecycleError(f"{region} has no loadable production model "
                                 f"({baseline.problem or 'no version'}): an evaluation set "
                                 "is the held-out rows of the serving version's data")
        try:  # its row ids, even when its listings are gone: the new set keeps them out
            previous = evaluation.reference(lifecycle.models_dir, region)
        except LifecycleError:
            previous = None
        built = evaluation.build(region, data, baseline.model, lifecycle.data_dir, previous)
        if previous is not None and built.sha256 == previous.sha256:
            raise LifecycleError(f"{previous.describe()} already holds exactly these rows")
        entry = built.entry
        record = {
            "id": uuid.uuid4().hex, "at": utc_now(), "action": "evaluation-set",
            "region": region, "from_version": previous and previous.sha256[:12],
            "to_version": built.sha256[:12], "approved_by": approved_by, "reason": reason,
            "forced": False, "evaluation_set": {
                "sha256": built.sha256, "rows": entry["rows"], "source": entry["source"],
                "held_out_of": entry["held_out_of"]},
            "model_sha256": baseline.model.metadata["model_sha256"]}
        lifecycle.journal.reserve(record)
        evaluation.store(lifecycle.models_dir, built)
        append_audit(lifecycle.audit_log, record)
        return ActionResult(record, recovered)
