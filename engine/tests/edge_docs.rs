//! README's "Embedding in a rustls server" code is the code that `docs/rustls.md` compiles as a
//! doctest (under the `rustls` feature): the two must stay identical.

use std::path::Path;

/// The first fenced block after `heading` whose info string starts with `rust`.
fn rust_block_after(text: &str, heading: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("heading {heading:?} not found"));
    let rest = &text[start..];
    let open = rest.find("```rust").expect("a rust code block");
    let body_start = open + rest[open..].find('\n').expect("fence line ends") + 1;
    let body_len = rest[body_start..].find("```").expect("closing fence");
    rest[body_start..body_start + body_len].to_owned()
}

#[test]
fn readme_rustls_snippet_is_the_compiled_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let guide = std::fs::read_to_string(root.join("docs/rustls.md")).unwrap();
    let shown = rust_block_after(&readme, "## Embedding in a rustls server");
    let compiled = rust_block_after(&guide, "# Embedding tessera in a rustls server");
    assert_eq!(shown, compiled);
    assert!(compiled.contains("TesseraTicketer::from_rotator"));
    // "in under 15 lines"
    assert!(
        shown.lines().count() < 15,
        "{} lines",
        shown.lines().count()
    );
}
