//! The committed SDKs under `sdks/` must be exactly what the generator makes of the committed
//! `openapi.yaml`: a spec change without regenerating (or a hand edit of a generated file) fails
//! here. Fix with `cargo run -p apinfer-sdk-gen -- --spec openapi.yaml --out sdks`.

use std::path::Path;

#[test]
fn committed_sdks_match_the_committed_spec() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root");
    let spec = std::fs::read_to_string(root.join("openapi.yaml")).expect("openapi.yaml");
    let files = apinfer_sdk_gen::generate(&spec).expect("the committed spec generates");
    // Regenerate into a temp dir too, so the comparison covers what a fresh run writes.
    let fresh = tempfile::tempdir().expect("a temp dir");
    apinfer_sdk_gen::write(&files, fresh.path()).expect("writing");
    assert!(apinfer_sdk_gen::differences(&files, fresh.path()).expect("comparing").is_empty());
    let diffs = apinfer_sdk_gen::differences(&files, &root.join("sdks")).expect("comparing with sdks/");
    assert!(
        diffs.is_empty(),
        "sdks/ is stale:\n{}\nRegenerate: {}",
        diffs.join("\n"),
        apinfer_sdk_gen::REGENERATE_COMMAND
    );
}
