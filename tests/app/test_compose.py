"""docker-compose.yml parses, and names services, images, commands and settings that exist.

(Docker itself is not available here; this checks what can be checked without it.)
"""

from __future__ import annotations

import re

import pytest
import yaml

from app.cli import app as cli_app
from app.config import Settings
from tests.conftest_service import ROOT

LONG_RUNNING = {"postgres", "redis", "minio", "api", "worker-gpu", "worker-cpu"}
ONE_SHOT = {"minio-init", "migrate"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            pairs[name] = value
    return pairs


def _cli_commands() -> set[str]:
    return {command.name or command.callback.__name__ for command in cli_app.registered_commands}


def test_the_services_and_their_health_checks(compose):
    services = compose["services"]
    assert set(services) == LONG_RUNNING | ONE_SHOT
    for name in LONG_RUNNING:
        assert "test" in services[name]["healthcheck"], name
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["minio-init"]["depends_on"]["minio"]["condition"] == "service_healthy"
    assert "mc mb --ignore-existing" in " ".join(services["minio-init"]["command"])


def test_gpu_and_cpu_workers(compose):
    gpu, cpu = compose["services"]["worker-gpu"], compose["services"]["worker-cpu"]
    assert gpu["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert gpu["environment"]["IDC_DEVICE"] == "cuda" and cpu["environment"]["IDC_DEVICE"] == "cpu"
    assert cpu["build"]["args"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    for worker in (gpu, cpu):
        assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "worker.celery_app" in worker["healthcheck"]["test"][1]


def test_commands_and_images_exist_in_the_code(compose):
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M))
    for name, service in compose["services"].items():
        if "build" in service:
            assert (ROOT / service["build"]["dockerfile"]).is_file(), name
            assert service["build"]["target"] in targets, name
        command = service.get("command")
        if isinstance(command, list) and command[0] == "idc-service":
            assert command[1] in _cli_commands(), (name, command)
    assert {"api", "worker"} <= targets
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (ROOT / copied).exists(), copied
    assert "idc-service" in dockerfile and '"--no-migrate"' in dockerfile


def test_every_setting_is_in_env_example_and_every_variable_is_defined(compose, env_example):
    settings = {f"IDC_{name.upper()}" for name in Settings.model_fields}
    assert settings <= set(env_example), settings - set(env_example)
    assert not {k for k in env_example if k.startswith("IDC_")} - settings
    used = set(re.findall(r"\$\{(\w+)\}", (ROOT / "docker-compose.yml").read_text()))
    assert used <= set(env_example), used - set(env_example)
    for name, service in compose["services"].items():
        if name in {"migrate", "api", "worker-gpu", "worker-cpu"}:
            assert service["env_file"] == [".env"], name
    Settings(_env_file=ROOT / ".env.example")  # the example itself is valid settings
