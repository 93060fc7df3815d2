"""The drift part of the store contract, on every real store: slot counts over a sliding
window of each region's latest predictions, by model version."""

from __future__ import annotations

from collections import Counter

import pytest

from kosprice.monitoring.store import DriftWindow, Observation
from tests.monitoring.conftest import make_store


def prediction(i: int, slots: str | None, version: str = "v1.0.0",
               region: str = "yogyakarta") -> Observation:
    return Observation.single(region=region, request_id=f"req-{i}",
                              timestamp=1_700_000_000.0 + i, status=200, latency_ms=1.0,
                              model_version=version, price=1e6, drift=slots)


def expected(entries: list[tuple[str, str]]) -> DriftWindow:
    """What the store should hold for these (version, slots) entries."""
    window = DriftWindow()
    for version, slots in entries:
        window.predictions[version] = window.predictions.get(version, 0) + 1
        counts = window.counts.setdefault(version, Counter())
        for index, slot in enumerate(slots.split(",")):
            if slot != "-":
                counts[(index, int(slot))] += 1
    window.counts = {v: dict(c) for v, c in window.counts.items()}
    return window


@pytest.fixture
def store(store_kind, request, tmp_path):
    store = make_store(store_kind, request, tmp_path)
    store.drift_window = 4
    return store


def test_an_unused_region_has_no_drift_counts(store):
    assert store.read_drift("jakarta_utara") == DriftWindow()


def test_slots_are_counted_per_feature_and_version(store):
    entries = [("v1.0.0", "1,0,-"), ("v1.0.0", "2,0,1"), ("v1.1.0", "1,1,1")]
    for i, (version, slots) in enumerate(entries):
        store.record(prediction(i, slots, version))
    assert store.read_drift("yogyakarta") == expected(entries)
    assert store.read_drift("jakarta_pusat") == DriftWindow()


def test_the_window_slides_the_oldest_prediction_out_of_the_counts(store):
    entries = [("v1.0.0" if i < 5 else "v1.1.0", f"{i % 3},{i % 2}") for i in range(11)]
    for i, (version, slots) in enumerate(entries):
        store.record(prediction(i, slots, version))
        assert store.read_drift("yogyakarta") == expected(entries[max(0, i - 3):i + 1])
    # v1.0.0 left the window entirely: nothing of it remains, not even zero counts.
    assert set(store.read_drift("yogyakarta").predictions) == {"v1.1.0"}


def test_predictions_without_slots_and_failed_requests_do_not_count(store):
    store.record(prediction(0, None))
    store.record(Observation(region="yogyakarta", request_id="bad", timestamp=1.0, status=422,
                             latency_ms=1.0, model_version="v1.0.0"))
    store.record(prediction(1, "3"))
    assert store.read_drift("yogyakarta") == expected([("v1.0.0", "3")])
    assert store.read("yogyakarta").predictions == 2


def test_a_smaller_window_configured_later_evicts_down_to_it(store):
    entries = [("v1.0.0", str(i)) for i in range(6)]
    for i, (version, slots) in enumerate(entries):
        store.record(prediction(i, slots, version))
    store.drift_window = 2  # as if restarted with a smaller KOSPRICE_DRIFT_WINDOW
    store.record(prediction(6, "6"))
    assert store.read_drift("yogyakarta") == expected([("v1.0.0", "5"), ("v1.0.0", "6")])


def batch(slots: list[str | None], version: str = "v1.0.0") -> Observation:
    return Observation(region="yogyakarta", request_id="batch", timestamp=1.0, status=200,
                       latency_ms=5.0, model_version=version, prices=(1e6,) * len(slots),
                       anomalies=((),) * len(slots), drift=tuple(slots), batch=True)


def test_a_batch_counts_like_its_predictions_one_by_one(store):
    store.record(prediction(0, "0,0"))
    store.record(batch(["1,0", None, "2,1"], version="v1.1.0"))
    assert store.read_drift("yogyakarta") == expected(
        [("v1.0.0", "0,0"), ("v1.1.0", "1,0"), ("v1.1.0", "2,1")])
    # A batch larger than the window keeps only its latest predictions.
    entries = [f"{i % 3},{i % 2}" for i in range(7)]
    store.record(batch(entries))
    assert store.read_drift("yogyakarta") == expected([("v1.0.0", e) for e in entries[-4:]])
