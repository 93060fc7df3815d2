"""deploy/k8s: valid against the Kubernetes schemas (kubernetes-validate, bundled schemas,
offline), rendered by a real kustomize (`kustomize build` or `kubectl kustomize`), and saying
what the service needs: probes, workers = CPU limit, graceful stop, read-only models,
secrets from Secrets. (The memory limit is checked against the RSS measured on a live
instance in tests/e2e/test_two_hosts.py, which runs the shipped models already.)"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from kosprice.settings import Settings
from tests.promql import ROOT
from tests.servers import require_binary

K8S = ROOT / "deploy" / "k8s"
BASE, OVERLAY = K8S / "base", K8S / "overlays" / "example"
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
GUNICORN_CONF = (ROOT / "deploy" / "gunicorn.conf.py").read_text()
def load_all(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def resource_files(directory) -> list:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return [directory / name for name in kustomization["resources"]
            if (directory / name).is_file()]


@pytest.fixture(scope="module")
def kustomize() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return [require_binary("kubectl", "kubectl (its `kustomize` subcommand)"), "kustomize"]


def render(kustomize: list[str], directory) -> dict[str, dict]:
    out = subprocess.run([*kustomize, str(directory)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in load_all(out.stdout)}


@pytest.fixture(scope="module")
def base(kustomize):
    return render(kustomize, BASE)


@pytest.fixture(scope="module")
def overlay(kustomize):
    return render(kustomize, OVERLAY)


def deployment_of(resources: dict[str, dict]) -> dict:
    return resources["Deployment/kosprice"]


def container_of(resources: dict[str, dict]) -> dict:
    (container,) = deployment_of(resources)["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container["env"]}


def quantity(raw: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "m": 1e-3, "": 1}
    number, unit = re.fullmatch(r"([\d.]+)([A-Za-z]*)", str(raw)).groups()
    return float(number) * units[unit]


@pytest.mark.parametrize("version", VERSIONS)
def test_every_file_of_the_base_and_the_overlay_is_valid_in_strict_mode(version):
    files = resource_files(BASE) + resource_files(OVERLAY)
    assert len(files) >= 6
    for path in files:
        for doc in load_all(path.read_text()):
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_refuses_a_misspelt_field():
    (deployment,) = load_all((BASE / "deployment.yaml").read_text())
    broken = copy.deepcopy(deployment)
    container = broken["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_rendered_base_and_overlay_are_valid(base, overlay, version):
    for doc in [*base.values(), *overlay.values()]:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_overlay_pins_the_image_renames_the_settings_and_owns_a_namespace(overlay):
    container = container_of(overlay)
    assert re.fullmatch(r"[\w.-]+(/[\w.-]+)+:(\d+\.\d+\.\d+)", container["image"]), \
        container["image"]
    (settings_ref,) = container["envFrom"]
    name = settings_ref["configMapRef"]["name"]
    config = overlay[f"ConfigMap/{name}"]
    assert re.fullmatch(r"kosprice-settings-[a-z0-9]{10}", name)  # a change rolls the pods
    assert config["data"]["KOSPRICE_REDIS_MODE"] == "cluster"
    Settings.from_env(config["data"])  # the overlay's settings are complete and valid
    assert "Namespace/kosprice" in overlay
    assert {doc["metadata"].get("namespace") for key, doc in overlay.items()
            if not key.startswith("Namespace/")} == {"kosprice"}
    assert overlay["HorizontalPodAutoscaler/kosprice"]["spec"]["minReplicas"] == 3
    assert overlay["PersistentVolumeClaim/kosprice-models"]["spec"]["storageClassName"]


def test_probes_ready_and_health_and_the_prometheus_annotations(base):
    container = container_of(base)
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    annotations = deployment_of(base)["spec"]["template"]["metadata"]["annotations"]
    (port,) = container["ports"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics"
    assert env_of(container)["PORT"]["value"] == str(port["containerPort"])


def test_workers_match_the_cpu_limit_and_the_stop_outlasts_gunicorns_graceful_timeout(base):
    container = container_of(base)
    limits, requests_ = container["resources"]["limits"], container["resources"]["requests"]
    workers = int(env_of(container)["KOSPRICE_WORKERS"]["value"])
    assert workers == quantity(limits["cpu"]) == quantity(requests_["cpu"])
    graceful = int(re.search(r"^graceful_timeout = (\d+)", GUNICORN_CONF, re.M).group(1))
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = deployment_of(base)["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > graceful + int(pre_stop[1])


def test_models_are_mounted_read_only_and_secrets_come_from_secrets(base):
    pod = deployment_of(base)["spec"]["template"]["spec"]
    container = container_of(base)
    (models,) = [m for m in container["volumeMounts"] if m["name"] == "models"]
    assert models["readOnly"] is True and models["mountPath"] == "/app/models"
    assert env_of(container)["KOSPRICE_MODELS_DIR"]["value"] == "/app/models"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
    assert volume["persistentVolumeClaim"]["readOnly"] is True
    env = env_of(container)
    for name in ("KOSPRICE_OPS_TOKEN", "KOSPRICE_SIGNING_KEY", "KOSPRICE_REDIS_PASSWORD",
                 "KOSPRICE_CLIENT_HASH_KEY"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "kosprice-secrets", name
        assert "value" not in env[name]
    assert not [doc for doc in base.values() if doc["kind"] == "Secret"]
    known = {variable for variable, _, _ in Settings.documentation()}
    config = next(doc for key, doc in base.items() if key.startswith("ConfigMap/"))
    assert {n for n in [*env, *config["data"]] if n.startswith("KOSPRICE_")} <= known


def test_the_pod_runs_as_the_images_user_on_a_read_only_root(base):
    pod = deployment_of(base)["spec"]["template"]["spec"]
    user = re.search(r"^USER (\d+):(\d+)$", (ROOT / "deploy" / "Dockerfile").read_text(), re.M)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert (str(pod["securityContext"]["runAsUser"]),
            str(pod["securityContext"]["runAsGroup"])) == user.groups()
    security = container_of(base)["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    mounts = {m["mountPath"] for m in container_of(base)["volumeMounts"]}
    assert {"/tmp", "/var/lib/kosprice/logs", "/var/lib/kosprice/state"} <= mounts


def test_service_pdb_and_autoscaler_point_at_the_deployment(base):
    labels = deployment_of(base)["spec"]["template"]["metadata"]["labels"]
    selector = deployment_of(base)["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = base["Service/kosprice"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == container_of(base)["ports"][0]["name"]
    assert base["PodDisruptionBudget/kosprice"]["spec"]["selector"]["matchLabels"] == selector
    hpa = base["HorizontalPodAutoscaler/kosprice"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": "kosprice"}
    assert hpa["minReplicas"] > base["PodDisruptionBudget/kosprice"]["spec"]["minAvailable"]
    assert "replicas" not in deployment_of(base)["spec"]  # the autoscaler owns the count
