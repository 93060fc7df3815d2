"""Candidates on disk: list them, and prune old ones (audited, under the lifecycle lock)."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from typing import Any

from kosprice.errors import LifecycleError
from kosprice.features import REGIONS
from kosprice.ml.actions import approval, utc_now
from kosprice.ml.artifact import METADATA_FILE
from kosprice.ml.audit import append_audit
from kosprice.ml.lifecycle import Lifecycle
from kosprice.ml.report import REPORT_DIR
from kosprice.ml.versions import Version

DEFAULT_KEEP = 3


@dataclass(frozen=True)
class CandidateSummary:
    """What `kosprice candidates` shows of one candidate folder."""

    region: str
    version: Version
    model_type: str | None
    trained_at: str | None
    mae: float | None
    reported: bool


def summarize(lc: Lifecycle, region: str) -> list[CandidateSummary]:
    """The region's candidates, oldest first; an unreadable metadata file shows as unknowns."""
    summaries = []
    for version in lc.candidates.versions(region):
        folder = lc.candidates.version_dir(region, version)
        try:
            metadata: dict[str, Any] = json.loads(
                (folder / METADATA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            metadata = {}
        mae = (metadata.get("metrics") or {}).get("mae")
        summaries.append(CandidateSummary(
            region, version, metadata.get("model_type"), metadata.get("trained_at"),
            mae if isinstance(mae, (int, float)) else None,
            (folder / REPORT_DIR).is_dir()))
    return summaries


def prune(lc: Lifecycle, approved_by: str, reason: str, keep: int = DEFAULT_KEEP,
          regions: list[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Delete all but the newest `keep` candidates of each region; one audit record per
    region that lost any (reserved first: a full disk refuses cleanly); return the records
    and what recovering interrupted actions did."""
    if keep < 0:
        raise LifecycleError(f"--keep must be 0 or more, not {keep}")
    approved_by, reason = approval(approved_by, reason, "pruning candidates")
    records = []
    with lc.journal.locked() as recovered:
        for region in regions or REGIONS:
            versions = lc.candidates.versions(region)
            old = versions[:max(len(versions) - keep, 0)]
            if not old:
                continue
            record = {
                "id": uuid.uuid4().hex, "at": utc_now(), "action": "prune", "region": region,
                "from_version": None, "to_version": None,
                "approved_by": approved_by, "reason": reason,
                "removed": [str(v) for v in old],
                "kept": [str(v) for v in versions[len(old):]]}
            lc.journal.reserve(record)
            for version in old:
                shutil.rmtree(lc.candidates.version_dir(region, version))
            append_audit(lc.audit_log, record)
            records.append(record)
    return records, recovered
