"""`kosprice report`: the table against the published errors, and its plots."""

from __future__ import annotations

from click.testing import CliRunner

from kosprice.cli import main
from kosprice.ml import quality


def test_the_report_compares_every_region_with_its_published_mae(models_dir, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["report", "--models-dir", str(models_dir),
                                       "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = quality.summary_rows(quality.collect(models_dir))
    assert [r["region"] for r in rows] == sorted(quality.PUBLISHED)
    for row in rows:
        assert row["published_mae"] == quality.PUBLISHED[row["region"]]["mae"]
        assert row["beats_published"] == (row["mae"] <= row["published_mae"])
        assert set(row["coverage"]) == {"0.5", "0.8", "0.9", "0.95"}
        assert f"| {row['region']} | v1.0.0 | Ridge |" in result.output
    text = (out / "quality.md").read_text()
    assert "| all regions |" in text and "![coverage](coverage.png)" in text
    for plot in ("mae_vs_published.png", "coverage.png"):
        assert (out / plot).read_bytes().startswith(b"\x89PNG")


def test_an_empty_models_directory_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["report", "--models-dir", str(tmp_path)])
    assert result.exit_code == 1 and "no model versions" in result.output
