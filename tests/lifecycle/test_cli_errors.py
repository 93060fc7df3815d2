"""CLI failure paths end with one `Error:` line and a non-zero exit, never a traceback."""

from __future__ import annotations

from tests.factories import synthetic_rows, write_csv
from tests.lifecycle.conftest import REGION, assert_one_line_error, run_kosprice
from tests.servers import ROOT


def test_recover_with_an_unreadable_journal_is_one_line(settings):
    (settings.models_dir / f".pending-{REGION}.json").write_text("{not json")
    assert_one_line_error(run_kosprice(settings, "recover"), "unreadable", "by hand")


def test_a_journal_for_an_unknown_region_is_neither_pending_nor_recovered(settings, lifecycle):
    (settings.models_dir / ".pending-atlantis.json").write_text("{}")
    assert lifecycle.pending() == []
    result = run_kosprice(settings, "recover")
    assert result.returncode == 0 and "nothing to recover" in result.stderr
    listing = run_kosprice(settings, "versions")
    assert "interrupted" not in listing.stderr


def test_a_semicolon_separated_csv_gets_a_delimiter_hint(settings, tmp_path):
    path = write_csv(tmp_path / "plain.csv", synthetic_rows(n=40))
    path.write_text(path.read_text().replace(",", ";"))
    assert_one_line_error(run_kosprice(settings, "train", "--region", REGION, "--data", str(path)),
                          "missing column", "';'", "comma-separated")


def test_each_lifecycle_command_refuses_in_one_line(settings, tmp_path):
    cases = [
        (["compare", "--region", REGION, "--candidate", "v9.9.9"], "no candidate"),
        (["promote", "--region", REGION, "--version", "v9.9.9", "--approved-by", "A",
          "--reason", "r"], "no candidate"),
        (["rollback", "--region", REGION, "--approved-by", "A", "--reason", "r"],
         "only version"),
        (["retire", "--region", REGION, "--version", "v9.9.9", "--approved-by", "A",
          "--reason", "r"], "not in production"),
        (["evaluation-set", "--region", REGION, "--data", str(write_csv(
            tmp_path / "other.csv", synthetic_rows(n=40, seed=5))), "--approved-by", "A",
          "--reason", "r"], "is not the data"),
        (["train", "--region", REGION, "--data", str(tmp_path / "missing.csv")], "missing.csv"),
    ]
    for args, expected in cases:
        assert_one_line_error(run_kosprice(settings, *args), expected)


def test_the_force_hint_names_the_make_variable_when_make_ran_it(cli, tmp_path):
    version = cli.train(write_csv(tmp_path / "other.csv", synthetic_rows(n=300, seed=11,
                                                                        base=3_000_000)),
                        "--bump", "minor", "--reason", "wrong data")
    args = ["promote", "--region", REGION, "--version", version, "--approved-by", "A",
            "--reason", "r"]
    assert "use --force" in cli(*args, ok=False).output
    cli.env["CALLED_FROM_MAKE"] = "1"
    refused = cli(*args, ok=False).output
    assert "use FORCE=1 with a REASON=…" in refused and "--force" not in refused
    makefile = (ROOT / "Makefile").read_text()
    assert "CALLED_FROM_MAKE=1 $(BIN)/kosprice promote" in makefile


def test_make_train_says_where_it_looked_for_data(tmp_path):
    import subprocess
    import sys

    result = subprocess.run(["make", "-s", "-o", "install", "train", "REGION=yogyakarta",
                             f"DATA={tmp_path}", f"VENV={sys.prefix}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"no listings at {tmp_path}/yogyakarta.csv" in result.stderr
    assert "default folder: ../shared/data/kos" in result.stderr
