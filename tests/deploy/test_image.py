"""deploy/Dockerfile carries the extras the documented configurations need, and the docs and the Kubernetes
manifests agree on how the image is built, pushed and referenced.

Docker itself is not run here (no engine in CI): the Dockerfile's extras are resolved against pyproject.toml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import yaml

from tests.deploy.conftest import DEPLOY

ROOT = DEPLOY.parent
DOCKERFILE = DEPLOY / "Dockerfile"
SCALE_OUT = ROOT / "docs" / "scale-out.md"


def _extras() -> dict[str, list[str]]:
    extras: dict[str, list[str]] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    return extras


def _resolve(names: set[str], extras: dict[str, list[str]]) -> set[str]:
    """The extras `names` pulls in, following claudewire[...] self-references."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in extras[name]:
            own = re.match(r"claudewire\[([^\]]+)\]", requirement)
            if own:
                todo.extend(e.strip() for e in own.group(1).split(","))
    return seen


def _default_extras() -> set[str]:
    text = DOCKERFILE.read_text()
    arg = re.search(r"^ARG EXTRAS=(\S+)$", text, re.MULTILINE)
    assert arg, "the Dockerfile has no ARG EXTRAS=<default>"
    assert re.search(r"pip install [^\n]*\.\[\$\{EXTRAS\}\]", text), "pip install does not use ${EXTRAS}"
    return {e.strip() for e in arg.group(1).split(",")}


def test_the_default_image_carries_every_extra_but_the_tests() -> None:
    """Built without arguments, the image installs every extra (OTLP http and gRPC, Bedrock, Vertex, Redis, uvloop,
    pyOpenSSL) except the test tools, so each documented configuration starts in it."""
    extras = _extras()
    installed = _resolve(_default_extras(), extras)
    assert set(extras) - {"test"} <= installed
    assert "test" not in installed
    assert {"otel", "otel-grpc", "bedrock", "vertex", "redis"} <= installed


def test_every_extra_a_start_up_error_asks_for_is_in_the_image() -> None:
    """Each `pip install 'claudewire[X]'` the code prints when a feature lacks its dependency names an extra the
    default image has (the vertex/bedrock one is written with a variable: both are checked)."""
    asked: set[str] = set()
    for path in (ROOT / "src" / "claudewire").rglob("*.py"):
        for extra in re.findall(r"claudewire\[([a-z-]+)\]", path.read_text()):
            asked.add(extra)
    asked |= {"bedrock", "vertex"}
    assert {"otel", "redis"} <= asked  # the scan found the hints it is meant to find
    assert asked <= _resolve(_default_extras(), _extras())


def test_the_docs_build_push_and_reference_the_image_the_manifests_run() -> None:
    """docs/scale-out.md builds deploy/Dockerfile, pushes the same tag and says to set the kustomization's images;
    the rendered Deployment runs that kustomization's image, not a bare local name."""
    docs = SCALE_OUT.read_text()
    assert 'docker build -f deploy/Dockerfile -t "$IMAGE" .' in docs
    assert 'docker push "$IMAGE"' in docs
    assert "deploy/k8s/kustomization.yaml" in docs and "newName" in docs and "newTag" in docs
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    deployment = yaml.safe_load((DEPLOY / "k8s" / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image["name"]  # the name the kustomization rewrites
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed (it comes with the machine image)"
    done = subprocess.run([kubectl, "kustomize", str(DEPLOY / "k8s")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d and d["kind"] == "Deployment"]
    images = {c["image"] for d in rendered for c in d["spec"]["template"]["spec"]["containers"]}
    assert f"{image['newName']}:{image['newTag']}" in images


def test_the_compose_file_builds_the_same_dockerfile() -> None:
    """docker compose builds deploy/Dockerfile from the repository root, so it gets the same default extras."""
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    build = compose["x-gateway"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE.resolve()
    assert not build.get("args", {}).get("EXTRAS")  # no override: the default, all


def test_paths_exist() -> None:
    """The files the image is built from are where the Dockerfile copies them from."""
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
