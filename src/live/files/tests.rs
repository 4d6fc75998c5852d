//! The file store's pruning: what it keeps, and that it removes nothing when it cannot read
//! every version (a version it cannot read might be the one that uses a spec).

use std::path::Path;

use super::*;
use crate::live::store::Change;

fn write(store: &Arc<FileStore>, spec: &str) -> u64 {
    let w = Write {
        name: "t".into(),
        change: Change::Spec,
        spec: Some(SpecDoc {
            bytes: bytes::Bytes::from(spec.to_string()),
            format: "yaml",
        }),
        mapping: Mapping::default(),
        tools: 1,
        from: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(store.write(w)).unwrap().version
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn prune_keeps_the_newest_and_their_specs_and_nothing_when_a_version_is_unreadable() {
    let data = tempfile::tempdir().unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let store = FileStore::open(data.path(), 2, &cancel).unwrap();
    let api = data.path().join("apis/t");
    assert_eq!(write(&store, "a: 1\n"), 1);
    assert_eq!(write(&store, "a: 2\n"), 2);
    // Version 3 shares version 1's spec: it must outlive version 1's file.
    assert_eq!(write(&store, "a: 1\n"), 3);
    assert_eq!(
        names(&api.join("versions")),
        ["00000002.yaml", "00000003.yaml"]
    );
    assert_eq!(names(&api.join("specs")).len(), 2);
    assert_eq!(write(&store, "a: 4\n"), 4);
    assert_eq!(
        names(&api.join("versions")),
        ["00000003.yaml", "00000004.yaml"]
    );
    assert_eq!(names(&api.join("specs")).len(), 2, "version 2's spec goes");

    // A version file that cannot be read: the next writes remove nothing.
    std::fs::write(api.join("versions/00000003.yaml"), "{not: [a version").unwrap();
    let specs_before = names(&api.join("specs"));
    assert_eq!(write(&store, "a: 5\n"), 5);
    assert_eq!(write(&store, "a: 6\n"), 6);
    assert_eq!(
        names(&api.join("versions")),
        [
            "00000003.yaml",
            "00000004.yaml",
            "00000005.yaml",
            "00000006.yaml"
        ]
    );
    for s in &specs_before {
        assert!(api.join("specs").join(s).exists(), "{s} was removed");
    }
    // Once it reads again, pruning resumes.
    std::fs::remove_file(api.join("versions/00000003.yaml")).unwrap();
    assert_eq!(write(&store, "a: 7\n"), 7);
    assert_eq!(
        names(&api.join("versions")),
        ["00000006.yaml", "00000007.yaml"]
    );
    assert_eq!(names(&api.join("specs")).len(), 2);
}
