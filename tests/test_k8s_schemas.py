"""deploy/k8s against Kubernetes' own OpenAPI schemas, and the kustomization rendered.

kubernetes-validate carries the JSON schemas of each Kubernetes release (no cluster, no network);
strict mode also refuses fields the API does not know (a misspelt `replica:` or `livenessProbe`
at the wrong level would otherwise be dropped silently by the API server). The kustomization is
rendered here the way `kubectl apply -k` does for the transformers it uses (resources in order,
`namespace`, `images`), since no kustomize binary can be installed; the rendered objects are
validated again and their references checked.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
# the oldest release still served by the big providers, and the newest the package knows
VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
CLUSTER_SCOPED = {"Namespace"}


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_for_kubernetes(path, version):
    for doc in documents(path):
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize(
    ("mistake", "field"),
    [
        (lambda d: d["spec"].__setitem__("replica", 2), "replica"),  # a misspelt field
        (lambda d: d["spec"].__setitem__("replicas", "two"), "two"),  # a wrong type
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0]["ports"][0].update(containerPort="web"),
            "web",
        ),
        (
            lambda d: d["spec"]["template"]["spec"]["containers"][0].__setitem__("livenesProbe", {}),
            "livenesProbe",
        ),
    ],
)
def test_the_validator_catches_a_broken_deployment(mistake, field):
    (deployment,) = [d for d in documents(K8S / "web-deployment.yaml") if d["kind"] == "Deployment"]
    broken = copy.deepcopy(deployment)
    mistake(broken)
    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)
    assert field in str(caught.value)


# --- the kustomization, rendered ---------------------------------------------------------------


def render() -> list[dict[str, Any]]:
    """`kubectl kustomize deploy/k8s` for the transformers this kustomization uses."""
    known = {"apiVersion", "kind", "namespace", "resources", "images"}
    assert set(KUSTOMIZATION) <= known, f"render() does not implement {set(KUSTOMIZATION) - known}"
    images = {image["name"]: image for image in KUSTOMIZATION.get("images", [])}
    rendered = []
    for resource in KUSTOMIZATION["resources"]:
        for doc in documents(K8S / resource):
            doc = copy.deepcopy(doc)
            if KUSTOMIZATION.get("namespace") and doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = KUSTOMIZATION["namespace"]
            for container in containers(doc):
                name, _, tag = container["image"].partition(":")
                if name in images:
                    new = images[name]
                    container["image"] = f"{new.get('newName', name)}:{new.get('newTag', tag or 'latest')}"
            rendered.append(doc)
    return rendered


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "Job"):
        pod = spec["template"]["spec"]
        return pod.get("initContainers", []) + pod["containers"]
    return []


def find(rendered: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next((d for d in rendered if d["kind"] == kind and d["metadata"]["name"] == name), None)


def test_the_rendered_kustomization_is_valid():
    rendered = render()
    assert rendered
    for doc in rendered:
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


def test_the_rendered_objects_are_in_the_namespace_and_use_the_pushed_image():
    rendered = render()
    namespace = KUSTOMIZATION["namespace"]
    assert find(rendered, "Namespace", namespace), "the kustomization creates its namespace"
    for doc in rendered:
        if doc["kind"] not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]
    (image,) = KUSTOMIZATION["images"]
    app_images = {c["image"] for doc in rendered for c in containers(doc)}
    assert app_images == {f"{image['newName']}:{image['newTag']}"}


def test_the_rendered_references_resolve():
    rendered = render()
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    secret = documents(K8S / "secret.example.yaml")[0]["metadata"]["name"]
    for doc in rendered:
        for container in containers(doc):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    assert ("ConfigMap", source["configMapRef"]["name"]) in names
                if "secretRef" in source:
                    assert source["secretRef"]["name"] == secret  # created by hand from the example
        if doc["kind"] == "HorizontalPodAutoscaler":
            target = doc["spec"]["scaleTargetRef"]
            assert (target["kind"], target["name"]) in names
        if doc["kind"] in ("Service", "PodDisruptionBudget"):
            selector = doc["spec"]["selector"]
            selector = selector.get("matchLabels", selector)
            matching = [
                d
                for d in rendered
                if d["kind"] == "Deployment"
                and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            ]
            assert matching, f"{doc['kind']} {doc['metadata']['name']} selects no pods"
            if doc["kind"] == "Service":
                ports = {
                    p.get("name") for d in matching for c in containers(d) for p in c.get("ports", [])
                } | {p["containerPort"] for d in matching for c in containers(d) for p in c.get("ports", [])}
                for port in doc["spec"]["ports"]:
                    assert port.get("targetPort", port["port"]) in ports, port
