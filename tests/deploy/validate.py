"""Validate deploy/: every manifest against the Kubernetes schemas (kubernetes-validate, strict:
unknown fields are errors) for each Kubernetes version given, every file listed in
kustomization.yaml and every listed file present (what `kubectl kustomize` would read), and
what the README promises of the manifests (replicas, probes, resources, non-root, read-only
root filesystem, PodDisruptionBudget, CPU autoscaler, Secret keys). With --extract DIR, the
ConfigMap's files are written to DIR (tests/deploy.rs loads the gateway config from there).

usage: validate.py DEPLOY_DIR [--k8s 1.30.0,1.37.0] [--extract DIR]
"""

import argparse
import os
import sys

import kubernetes_validate
import yaml

problems = []


def need(cond, message):
    if not cond:
        problems.append(message)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("deploy")
    ap.add_argument("--k8s", default="1.30.0,1.37.0")
    ap.add_argument("--extract")
    args = ap.parse_args()
    versions = args.k8s.split(",")

    with open(os.path.join(args.deploy, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    need(kust.get("kind") == "Kustomization", "kustomization.yaml: not a Kustomization")
    listed = kust.get("resources", [])
    files = sorted(
        n
        for n in os.listdir(args.deploy)
        if n.endswith((".yaml", ".yml")) and n != "kustomization.yaml"
    )
    for n in files:
        need(n in listed, f"{n} is not listed in kustomization.yaml")
    for n in listed:
        need(os.path.exists(os.path.join(args.deploy, n)), f"kustomization.yaml lists {n}, which is missing")

    docs = {}
    count = 0
    for n in listed:
        path = os.path.join(args.deploy, n)
        if not os.path.exists(path):
            continue
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                count += 1
                for v in versions:
                    try:
                        kubernetes_validate.validate(doc, v, strict=True)
                    except kubernetes_validate.ValidationError as e:
                        problems.append(f"{n} ({doc.get('kind')}), Kubernetes {v}: {e.message} at {list(e.path)}")
                    except Exception as e:  # unknown kind or version
                        problems.append(f"{n} ({doc.get('kind')}), Kubernetes {v}: {e}")
                docs[(doc["kind"], doc["metadata"]["name"])] = doc

    check(docs)
    if args.extract:
        cm = docs.get(("ConfigMap", "rest2mcp"), {})
        for key, text in cm.get("data", {}).items():
            with open(os.path.join(args.extract, key), "w") as f:
                f.write(text)

    for p in problems:
        print("problem:", p)
    print(f"{count} manifests checked against Kubernetes {', '.join(versions)}: {len(problems)} problems")
    sys.exit(1 if problems else 0)


def check(docs):
    dep = docs.get(("Deployment", "rest2mcp"))
    need(dep is not None, "no Deployment rest2mcp")
    if dep is None:
        return
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    need(spec.get("replicas", 1) >= 2, "the Deployment runs fewer than 2 replicas")
    need(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pod: runAsNonRoot is not set")
    mounts = {}
    for c in pod["containers"]:
        name = c["name"]
        need(c.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", f"{name}: readiness is not /readyz")
        need(c.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", f"{name}: liveness is not /healthz")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                need(r in res.get(kind, {}), f"{name}: no {r} in resources.{kind}")
        sc = c.get("securityContext", {})
        need(sc.get("readOnlyRootFilesystem") is True, f"{name}: the root filesystem is writable")
        need(sc.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation is allowed")
        need("ALL" in sc.get("capabilities", {}).get("drop", []), f"{name}: capabilities are not dropped")
        for m in c.get("volumeMounts", []):
            mounts[m["name"]] = m
            need("subPath" not in m, f"{name}: {m['name']} is mounted with subPath (no hot reload)")
        for e in c.get("env", []):
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                secret = docs.get(("Secret", ref["name"]), {})
                keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
                need(ref["key"] in keys, f"{name}: env {e['name']} reads {ref['name']}/{ref['key']}, which is missing")
        need("/tmp" in [m["mountPath"] for m in c.get("volumeMounts", [])], f"{name}: /tmp is not a volume")
    for v in pod.get("volumes", []):
        if "configMap" in v:
            need(("ConfigMap", v["configMap"]["name"]) in docs, f"volume {v['name']}: no such ConfigMap")
            need(v["name"] in mounts, f"volume {v['name']} is not mounted")

    def selects(selector):
        return all(labels.get(k) == v for k, v in selector.items())

    svc = docs.get(("Service", "rest2mcp"))
    need(svc is not None and selects(svc["spec"]["selector"]), "no Service selecting the pods")
    pdb = [d for (k, _), d in docs.items() if k == "PodDisruptionBudget"]
    need(any(selects(d["spec"]["selector"]["matchLabels"]) for d in pdb), "no PodDisruptionBudget for the pods")
    hpa = [d for (k, _), d in docs.items() if k == "HorizontalPodAutoscaler"]
    need(
        any(
            d["spec"]["scaleTargetRef"]["name"] == dep["metadata"]["name"]
            and any(m.get("resource", {}).get("name") == "cpu" for m in d["spec"].get("metrics", []))
            and d["spec"].get("minReplicas", 1) >= 2
            for d in hpa
        ),
        "no CPU autoscaler (of at least 2 replicas) for the Deployment",
    )


if __name__ == "__main__":
    main()
