//! The Kubernetes manifests in deploy/: each validated against the Kubernetes schemas
//! (`kubernetes-validate` from PyPI, pinned, strict), the kustomization complete, what the
//! README promises of them checked (tests/deploy/validate.py), and the ConfigMap's config and
//! spec loaded by the gateway's own code.

use std::path::{Path, PathBuf};
use std::process::Command;

const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";

/// A Python with `kubernetes-validate`: `$K8S_VALIDATE_PYTHON`, else a virtualenv in `target/`
/// made (once) with pip.
fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("K8S_VALIDATE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/k8s-venv");
    let py = venv.join("bin/python");
    let ok = |py: &Path| {
        Command::new(py)
            .args(["-c", "import kubernetes_validate, yaml"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&py) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 is needed (apt-get install python3 python3-venv)");
        assert!(
            made.success(),
            "python3 -m venv failed (apt-get install python3-venv)"
        );
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "-q", KUBERNETES_VALIDATE])
            .status()
            .unwrap();
        assert!(pip.success(), "pip install {KUBERNETES_VALIDATE} failed");
    }
    py
}

#[test]
fn the_manifests_are_valid_kubernetes_and_keep_their_promises() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let extracted = tempfile::tempdir().unwrap();
    let out = Command::new(python())
        .arg(root.join("tests/deploy/validate.py"))
        .arg(root.join("deploy"))
        .arg("--extract")
        .arg(extracted.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains(": 0 problems"), "{text}");

    // The ConfigMap's config is one the gateway loads, with the shared store from the Secret's
    // environment variable, and the spec it names reads.
    let cfg = rest2mcp::config::Config::load(&extracted.path().join("rest2mcp.yaml")).unwrap();
    let pg = cfg.store.postgres.as_ref().expect("the shared store");
    assert_eq!(format!("{:?}", pg.url), "Secret(env REST2MCP_DATABASE_URL)");
    assert!(cfg.admin.is_some());
    for api in &cfg.apis {
        let bytes = std::fs::read(&api.spec).unwrap();
        let spec = rest2mcp::ingest::parse(&bytes).unwrap();
        assert!(!spec.operations.is_empty(), "{}", api.name);
    }
}
