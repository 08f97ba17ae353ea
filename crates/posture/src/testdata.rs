//! Reads captured command outputs from `testdata/`, checking each names its source.

/// The file's content after its `# source:` header line.
pub fn fixture(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (first, rest) = text.split_once('\n').unwrap_or((&text, ""));
    assert!(
        first.starts_with("# source: ") && first.len() > 20,
        "{rel}: the first line must say where the output came from"
    );
    rest.to_owned()
}
