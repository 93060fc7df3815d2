"""Signed artifacts: `kosprice sign`, promote signing, and startup refusing what is not signed."""

from __future__ import annotations

import dataclasses
import json
import signal

import pytest
import requests

from kosprice.app import create_app
from kosprice.errors import ConfigurationError, IntegrityError, LifecycleError
from kosprice.ml.artifact import MODEL_FILE, sha256_file
from kosprice.ml.lifecycle import Lifecycle
from kosprice.ml.repository import validate
from kosprice.ml.signing import SIGNATURE_FILE, Signer
from kosprice.settings import Settings
from tests.factories import LISTING, copy_version, edit_metadata
from tests.lifecycle.conftest import REGION, Cli, better_data
from tests.servers import Gunicorn, gunicorn, wait_until

KEY = "k" * 40
OTHER_KEY = "o" * 40
VERSION_DIR = f"{REGION}/v1.0.0"


@pytest.fixture
def signed_settings(settings) -> Settings:
    return dataclasses.replace(settings, signing_key=KEY)


@pytest.fixture
def signed_cli(signed_settings) -> Cli:
    cli = Cli(signed_settings)
    cli.env["KOSPRICE_SIGNING_KEY"] = KEY
    return cli


def sign_everything(cli: Cli) -> None:
    cli("sign", "--approved-by", "Ana", "--reason", "signing is now required")


def problems_of(models_dir, key: str = KEY) -> list[str]:
    return [f"{p.path.relative_to(models_dir)}: {p.reason}"
            for p in validate(models_dir, signer=Signer(key.encode()))[0]]


def test_a_signature_covers_both_files_and_names_its_key(models_dir):
    signer, folder = Signer(KEY.encode()), models_dir / VERSION_DIR
    assert "unsigned" in signer.problem(folder, REGION)
    signer.sign(folder, REGION)
    assert signer.problem(folder, REGION) is None
    assert "another key" in Signer(OTHER_KEY.encode()).problem(folder, REGION)
    assert KEY not in (folder / SIGNATURE_FILE).read_text() and KEY not in repr(signer)

    # Replacing the pickle and its recorded checksum together passes the checksum check,
    # but not the signature.
    (folder / MODEL_FILE).write_bytes((folder / MODEL_FILE).read_bytes() + b"\0")
    edit_metadata(folder, model_sha256=sha256_file(folder / MODEL_FILE))
    assert "changed after signing" in signer.problem(folder, REGION)
    # A signature copied onto another version does not carry over.
    copy = copy_version(models_dir, "jakarta_pusat", "v1.1.0")
    (copy / SIGNATURE_FILE).write_text((folder / SIGNATURE_FILE).read_text())
    assert "changed after signing" in signer.problem(copy, "jakarta_pusat")


def test_keys_too_short_or_given_twice_are_refused(settings, tmp_path):
    with pytest.raises(ConfigurationError, match="at least 32"):
        Signer(b"short")
    with pytest.raises(ConfigurationError, match="32 characters"):
        Settings.from_env({"KOSPRICE_SIGNING_KEY": "short"})
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    from_file = Settings.from_env({"KOSPRICE_SIGNING_KEY_FILE": str(key_file)})
    assert Signer.from_settings(from_file).key == KEY.encode()  # the newline is not the key
    with pytest.raises(ConfigurationError, match="not both"):
        Signer.from_settings(dataclasses.replace(from_file, signing_key=KEY))
    assert Signer.from_settings(settings) is None
    assert KEY not in repr(dataclasses.replace(settings, signing_key=KEY))


def test_with_a_key_every_unsigned_version_is_named_until_signed(signed_settings, signed_cli,
                                                                 models_dir):
    with pytest.raises(IntegrityError) as refused:
        create_app(signed_settings)
    assert len(refused.value.problems) == 4 and "unsigned" in str(refused.value)
    failed = signed_cli("validate", ok=False)
    assert failed.exit_code == 1 and f"{VERSION_DIR}/{SIGNATURE_FILE}" in failed.output

    sign_everything(signed_cli)
    assert problems_of(models_dir) == []
    create_app(signed_settings).test_client().post(f"/predict/{REGION}", json=LISTING)
    record = json.loads(signed_settings.audit_log.read_text().splitlines()[-1])
    assert (record["action"], record["signed"], record["key_id"]) == (
        "sign", ["v1.0.0"], Signer(KEY.encode()).key_id)
    assert problems_of(models_dir, OTHER_KEY) != []


def test_sign_refuses_a_changed_artifact_and_works_only_with_a_key(signed_cli, cli,
                                                                   models_dir, settings):
    refused = cli("sign", "--approved-by", "Ana", "--reason", "r", ok=False)
    assert refused.exit_code == 1 and "no signing key" in refused.output
    edit_metadata(models_dir / VERSION_DIR, model_sha256="0" * 64)
    refused = signed_cli("sign", "--region", REGION, "--approved-by", "Ana", "--reason", "r",
                         ok=False)
    assert refused.exit_code == 1 and "integrity checks" in refused.output
    assert not (models_dir / VERSION_DIR / SIGNATURE_FILE).exists()
    assert not settings.audit_log.exists()


def test_promote_signs_and_rollback_refuses_an_unsigned_target(signed_settings, signed_cli,
                                                               models_dir, tmp_path):
    sign_everything(signed_cli)
    version = signed_cli.train(better_data(tmp_path))
    lifecycle = Lifecycle.from_settings(signed_settings)
    lifecycle.promote(REGION, version, approved_by="Ana", reason="better")
    assert problems_of(models_dir) == []

    (models_dir / VERSION_DIR / SIGNATURE_FILE).unlink()
    with pytest.raises(LifecycleError, match="unsigned"):
        lifecycle.rollback(REGION, approved_by="Ana", reason="undo")
    assert str(lifecycle.production.serving_version(REGION)) == version


@pytest.mark.gunicorn
def test_gunicorn_refuses_unsigned_versions_at_start_and_reload(signed_cli, models_dir,
                                                                tmp_path):
    env = {"KOSPRICE_MODELS_DIR": str(models_dir), "KOSPRICE_SIGNING_KEY": KEY}
    refused = Gunicorn(tmp_path, env)
    try:
        with pytest.raises(RuntimeError, match="exited with 1") as exited:
            refused.start()
        assert exited.value.args[0].count("unsigned (a signing key") == 4
    finally:
        refused.stop()

    sign_everything(signed_cli)
    with gunicorn(tmp_path, env) as server:
        # A signed version copied under a new number: its signature was for v1.0.0.
        copy_version(models_dir, REGION, "v1.1.0")
        server.signal(signal.SIGHUP)
        wait_until(lambda: "reload: 1 model integrity problem" in server.output(), timeout=60,
                   what="the refused reload")
        assert "changed after signing" in server.output()
        answer = requests.post(f"{server.url}/predict/{REGION}", json=LISTING, timeout=10)
        assert answer.json()["model_version"] == "v1.0.0"


@pytest.mark.parametrize("path", [
    "/models/yogyakarta/v1.0.0/model.pkl", "/models/yogyakarta/v1.0.0/metadata.json",
    "/models/../models/audit.jsonl", "/static/model.pkl", "/candidates/yogyakarta",
    "/logs/kosprice.log", "/..%2fmodels%2fyogyakarta%2fv1.0.0%2fmodel.pkl",
    "/docs/../../models/yogyakarta/v1.0.0/model.pkl", "/models/yogyakarta/..%2F..%2Fwsgi.py",
])
def test_no_route_serves_a_file(client, models_dir, path):
    pickle = (models_dir / VERSION_DIR / MODEL_FILE).read_bytes()
    response = client.get(path)
    assert response.status_code in (401, 404, 405)
    assert response.is_json and pickle[:64] not in response.data
