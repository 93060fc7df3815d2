"""The audit trail: append-only JSON Lines that survive a torn line."""

from __future__ import annotations

import json

from kosprice.ml.audit import append_audit, last_audit_record, promotion_history, read_audit


def test_a_torn_line_is_skipped_and_the_next_record_starts_a_fresh_line(tmp_path):
    log = tmp_path / "audit.jsonl"
    append_audit(log, {"id": "a", "region": "yogyakarta", "action": "promote"})
    with open(log, "a", encoding="utf-8") as handle:  # a power cut in the middle of a write
        handle.write('{"id": "b", "region": "yogya')
    assert last_audit_record(log) is None
    assert [r["id"] for r in read_audit(log)] == ["a"]

    append_audit(log, {"id": "c", "region": "yogyakarta", "action": "rollback"})
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[1] == '{"id": "b", "region": "yogya' and json.loads(lines[2])["id"] == "c"
    assert [r["id"] for r in read_audit(log)] == ["a", "c"]
    assert last_audit_record(log)["id"] == "c"


def test_reading_by_region_and_the_public_history(tmp_path):
    log = tmp_path / "audit.jsonl"
    assert read_audit(log) == [] and last_audit_record(log) is None
    for number, region in enumerate(["yogyakarta", "jakarta_pusat", "yogyakarta"]):
        append_audit(log, {"id": str(number), "region": region, "action": "promote",
                           "to_version": f"v1.{number}.0", "approved_by": "Ana"})
    assert [r["id"] for r in read_audit(log, "yogyakarta")] == ["0", "2"]
    history = promotion_history(log, "yogyakarta")
    assert [h["to_version"] for h in history] == ["v1.2.0", "v1.0.0"]  # newest first
    assert "id" not in history[0]


def test_the_last_record_is_found_past_a_long_one(tmp_path):
    log = tmp_path / "audit.jsonl"
    append_audit(log, {"id": "long", "reason": "x" * 10_000})
    append_audit(log, {"id": "last", "reason": "y" * 5_000})
    assert last_audit_record(log)["id"] == "last"
