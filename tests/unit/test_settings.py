"""Settings: one object from KOSPRICE_* variables, every invalid value reported at once."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from kosprice.errors import ConfigurationError
from kosprice.settings import PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_from_an_empty_environment():
    settings = Settings.from_env({})
    assert settings.models_dir == Path("models")
    assert settings.log_dir == Path("logs")
    assert settings.log_level == "INFO"
    assert settings.workers == 0
    assert settings.max_content_length == 16 * 1024
    assert settings.redis_url is None
    assert settings.price_limits == {}


def test_every_variable_is_parsed_to_its_type():
    settings = Settings.from_env({
        "KOSPRICE_MODELS_DIR": "/srv/models", "KOSPRICE_LOG_DIR": "var/log",
        "KOSPRICE_LOG_LEVEL": "debug", "KOSPRICE_WORKERS": "3",
        "KOSPRICE_MAX_CONTENT_LENGTH": " 2048 ", "KOSPRICE_REDIS_URL": "redis://cache:6379/1",
        "KOSPRICE_STORE_TIMEOUT": "0.25", "KOSPRICE_WINDOW_SIZE": "500",
        "KOSPRICE_PRICE_LIMITS": '{"yogyakarta": [200000, 9000000]}',
    })
    assert settings.models_dir == Path("/srv/models")
    assert settings.log_dir == Path("var/log")
    assert settings.log_level == "DEBUG"
    assert settings.workers == 3
    assert settings.max_content_length == 2048
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.store_timeout == 0.25
    assert settings.window_size == 500
    assert settings.price_limits == {"yogyakarta": (200000.0, 9000000.0)}


def test_variables_without_the_prefix_are_ignored():
    assert Settings.from_env({"MODELS_DIR": "elsewhere", "PATH": "/bin"}) == Settings.from_env({})


def test_overrides_win_over_the_environment():
    settings = Settings.from_env({"KOSPRICE_WORKERS": "3"}, workers=5)
    assert settings.workers == 5


def test_every_invalid_value_is_reported_at_once():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({
            "KOSPRICE_WORKERS": "two", "KOSPRICE_MAX_CONTENT_LENGTH": "0",
            "KOSPRICE_LOG_LEVEL": "LOUD", "KOSPRICE_REDIS_URL": "http://cache:6379",
            "KOSPRICE_STORE_TIMEOUT": "-1", "KOSPRICE_PRICE_LIMITS": "[1, 2]",
        })
    message = caught.value.message
    for variable in ("KOSPRICE_WORKERS='two'", "KOSPRICE_MAX_CONTENT_LENGTH='0'",
                     "KOSPRICE_LOG_LEVEL='LOUD'", "KOSPRICE_REDIS_URL='http://cache:6379'",
                     "KOSPRICE_STORE_TIMEOUT='-1'", "KOSPRICE_PRICE_LIMITS='[1, 2]'"):
        assert variable in message
    assert "must be a positive integer" in message
    assert "must be one of DEBUG" in message


def test_an_unknown_kosprice_variable_is_refused():
    with pytest.raises(ConfigurationError, match="KOSPRICE_MODEL_DIR: unknown setting"):
        Settings.from_env({"KOSPRICE_MODEL_DIR": "models"})  # a typo of MODELS_DIR


def test_unknown_and_invalid_variables_are_reported_together():
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"KOSPRICE_WORKERS": "-2", "KOSPRICE_NOPE": "1"})
    assert "KOSPRICE_WORKERS='-2'" in caught.value.message
    assert "KOSPRICE_NOPE: unknown setting" in caught.value.message


@pytest.mark.parametrize("raw", ["-1", "1.5", "many"])
def test_workers_must_be_zero_or_a_positive_integer(raw):
    with pytest.raises(ConfigurationError, match="KOSPRICE_WORKERS"):
        Settings.from_env({"KOSPRICE_WORKERS": raw})


@pytest.mark.parametrize("variable", ["KOSPRICE_MODELS_DIR", "KOSPRICE_LOG_DIR"])
def test_an_empty_directory_is_refused_rather_than_meaning_the_current_one(variable):
    with pytest.raises(ConfigurationError, match=f"{variable}='': must not be empty"):
        Settings.from_env({variable: ""})


def test_an_empty_redis_url_means_unset():
    assert Settings.from_env({"KOSPRICE_REDIS_URL": ""}).redis_url is None


def test_price_limits_for_several_regions():
    settings = Settings.from_env({"KOSPRICE_PRICE_LIMITS":
                                  '{"jakarta_pusat": [0, 20000000], "yogyakarta": [1.5e5, 9e6]}'})
    assert settings.price_limits == {"jakarta_pusat": (0.0, 20000000.0),
                                     "yogyakarta": (150000.0, 9000000.0)}


@pytest.mark.parametrize(("raw", "reason"), [
    ("{yogyakarta: [1, 2]}", "Expecting property name"),
    ('[["yogyakarta", 1, 2]]', "must be a JSON object"),
    ('{"bali": [1, 2]}', "unknown region 'bali'"),
    ('{"yogyakarta": [2, 1]}', "floor < ceiling"),
    ('{"yogyakarta": [5, 5]}', "floor < ceiling"),
    ('{"yogyakarta": [-1, 5]}', "floor < ceiling"),
    ('{"yogyakarta": [1, 2, 3]}', "floor < ceiling"),
    ('{"yogyakarta": ["1", "2"]}', "floor < ceiling"),
    ('{"yogyakarta": [false, true]}', "floor < ceiling"),
    ('{"yogyakarta": [0, Infinity]}', "floor < ceiling"),
    ('{"yogyakarta": {"floor": 1, "ceiling": 2}}', "floor < ceiling"),
])
def test_invalid_price_limits_name_the_problem(raw, reason):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"KOSPRICE_PRICE_LIMITS": raw})
    assert "KOSPRICE_PRICE_LIMITS" in caught.value.message
    assert reason in caught.value.message


@pytest.mark.parametrize(("variable", "default", "meaning"), Settings.documentation(),
                         ids=lambda value: value if value.startswith(PREFIX) else "")
def test_each_documented_default_is_the_real_default(variable, default, meaning):
    """Setting a variable to its documented default changes nothing: the docs tell the truth."""
    assert meaning
    assert Settings.from_env({variable: default}) == Settings.from_env({})


def documented_in(path: Path) -> list[tuple[str, str, str]]:
    """(variable, default, meaning) of `.env.example`: `# meaning` above `# VARIABLE=default`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    rows = []
    for above, line in itertools.pairwise(lines):
        if match := re.fullmatch(r"# (KOSPRICE_\w+)=(.*)", line):
            rows.append((match[1], match[2], above.removeprefix("# ")))
    return rows


def test_env_example_lists_every_setting_as_documented():
    assert documented_in(ROOT / ".env.example") == Settings.documentation()


def test_the_readme_table_lists_every_setting_in_order():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(KOSPRICE_\w+)` \|", text, flags=re.MULTILINE)
    assert listed == [variable for variable, _, _ in Settings.documentation()]


def test_the_serving_manifest_is_in_the_state_directory_unless_configured():
    assert Settings.from_env({"KOSPRICE_STATE_DIR": "/run/k"}).serving_manifest_path == Path(
        "/run/k/serving.json")
    configured = Settings.from_env({"KOSPRICE_STATE_DIR": "/run/k",
                                    "KOSPRICE_SERVING_MANIFEST": "/etc/k/pins.json"})
    assert configured.serving_manifest_path == Path("/etc/k/pins.json")


def test_redis_cluster_and_sentinel_settings():
    cluster = Settings.from_env({"KOSPRICE_REDIS_MODE": "Cluster",
                                 "KOSPRICE_REDIS_NODES": "10.0.0.1:7000, [::1]:7001,"})
    assert cluster.redis_mode == "cluster" and cluster.uses_redis
    assert cluster.redis_nodes == (("10.0.0.1", 7000), ("::1", 7001))
    sentinel = Settings.from_env({"KOSPRICE_REDIS_MODE": "sentinel",
                                  "KOSPRICE_REDIS_NODES": "s1:26379,s2:26379",
                                  "KOSPRICE_REDIS_MASTER": "kosprice",
                                  "KOSPRICE_REDIS_PASSWORD": "secret"})
    assert (sentinel.redis_master, sentinel.redis_password) == ("kosprice", "secret")
    assert not Settings.from_env({}).uses_redis
    assert Settings.from_env({"KOSPRICE_REDIS_URL": "redis://cache:6379/0"}).uses_redis


@pytest.mark.parametrize(("environ", "problem"), [
    ({"KOSPRICE_REDIS_MODE": "proxy"}, "must be one of single, cluster, sentinel"),
    ({"KOSPRICE_REDIS_MODE": "cluster"}, "needs the cluster nodes"),
    ({"KOSPRICE_REDIS_MODE": "sentinel", "KOSPRICE_REDIS_NODES": "s1:26379"},
     "KOSPRICE_REDIS_MASTER: KOSPRICE_REDIS_MODE=sentinel needs the primary's name"),
    ({"KOSPRICE_REDIS_MODE": "cluster", "KOSPRICE_REDIS_NODES": "n1:7000",
      "KOSPRICE_REDIS_URL": "redis://n1:7000/0"}, "KOSPRICE_REDIS_URL: only for"),
    ({"KOSPRICE_REDIS_NODES": "n1:7000"}, "KOSPRICE_REDIS_NODES: only for"),
    ({"KOSPRICE_REDIS_MODE": "cluster", "KOSPRICE_REDIS_NODES": "n1:7000",
      "KOSPRICE_REDIS_MASTER": "m"}, "KOSPRICE_REDIS_MASTER: only for"),
    ({"KOSPRICE_REDIS_MODE": "cluster", "KOSPRICE_REDIS_NODES": "n1"}, "'n1' is not host:port"),
    ({"KOSPRICE_REDIS_MODE": "cluster", "KOSPRICE_REDIS_NODES": "n1:99999"}, "not host:port"),
])
def test_incomplete_or_contradictory_redis_settings_are_refused(environ, problem):
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env(environ)
    assert problem in caught.value.message


def test_the_ops_token_is_a_secret():
    token = "a-long-enough-ops-token"
    settings = Settings.from_env({"KOSPRICE_OPS_TOKEN": token})
    assert settings.ops_token == token
    assert token not in repr(settings)
    assert Settings.from_env({"KOSPRICE_OPS_TOKEN": ""}).ops_token is None
    with pytest.raises(ConfigurationError) as caught:
        Settings.from_env({"KOSPRICE_OPS_TOKEN": "short-secret"})
    assert "16 characters" in caught.value.message
    assert "short-secret" not in caught.value.message
