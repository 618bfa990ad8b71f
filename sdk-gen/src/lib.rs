//! `apinfer-sdk-gen`: reads apinfer's committed OpenAPI 3.1 document and writes the Python,
//! TypeScript and Rust SDKs under `sdks/`.
//!
//! The pipeline is: [`spec::parse`] turns the document into [`spec::Api`] (failing loudly on any
//! construct it does not understand), each language module turns that into a view of names and
//! type strings, and minijinja templates (`templates/<language>/`) render the files. Output is
//! deterministic: the same spec always gives the same bytes, so a test can compare the committed
//! SDKs with a fresh generation.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub mod naming;
mod python;
mod render;
mod rust_sdk;
pub mod spec;
mod typescript;

/// The command that regenerates the committed SDKs; every generated file names it.
pub const REGENERATE_COMMAND: &str = "cargo run -p apinfer-sdk-gen -- --spec openapi.yaml --out sdks";

/// The languages generated, as the names of their directories under the output directory.
pub const LANGUAGES: &[&str] = &["python", "typescript", "rust"];

/// Names that builds and installs leave inside an SDK directory, which are not generated and
/// which neither the writer nor the drift check touch.
pub const IGNORED_NAMES: &[&str] =
    &["node_modules", "dist", "target", "Cargo.lock", "__pycache__", "build", ".venv", "package-lock.json"];

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory (`python/pyproject.toml`).
    pub path: PathBuf,
    /// The file's contents.
    pub contents: String,
}

/// Generates every SDK file from the text of an OpenAPI document.
pub fn generate(spec_text: &str) -> Result<Vec<GeneratedFile>> {
    let api = spec::parse(spec_text)?;
    let mut files = Vec::new();
    files.extend(python::generate(&api).context("generating the Python SDK")?);
    files.extend(typescript::generate(&api).context("generating the TypeScript SDK")?);
    files.extend(rust_sdk::generate(&api).context("generating the Rust SDK")?);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

fn is_ignored(relative: &Path) -> bool {
    relative.components().any(|c| {
        let name = c.as_os_str().to_string_lossy();
        IGNORED_NAMES.contains(&name.as_ref()) || name.ends_with(".egg-info")
    })
}

/// Every file under `out/<language>/`, relative to `out`, leaving out [`IGNORED_NAMES`].
pub fn existing_files(out: &Path) -> Result<BTreeSet<PathBuf>> {
    fn walk(root: &Path, dir: &Path, acc: &mut BTreeSet<PathBuf>) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let relative = path.strip_prefix(root).expect("walked paths are under the root").to_path_buf();
            if is_ignored(&relative) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, acc)?;
            } else {
                acc.insert(relative);
            }
        }
        Ok(())
    }
    let mut acc = BTreeSet::new();
    for lang in LANGUAGES {
        let dir = out.join(lang);
        if dir.is_dir() {
            walk(out, &dir, &mut acc)?;
        }
    }
    Ok(acc)
}

/// Writes `files` under `out`, and deletes files there that are no longer generated.
pub fn write(files: &[GeneratedFile], out: &Path) -> Result<()> {
    let wanted: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    for stale in existing_files(out)?.difference(&wanted) {
        fs::remove_file(out.join(stale)).with_context(|| format!("removing stale {}", stale.display()))?;
    }
    for f in files {
        let path = out.join(&f.path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        if fs::read_to_string(&path).ok().as_deref() != Some(f.contents.as_str()) {
            fs::write(&path, &f.contents).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}

/// How the files under `out` differ from `files`: one line per changed, missing or extra file.
pub fn differences(files: &[GeneratedFile], out: &Path) -> Result<Vec<String>> {
    let mut diffs = Vec::new();
    let wanted: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    for f in files {
        match fs::read_to_string(out.join(&f.path)) {
            Ok(existing) if existing == f.contents => {}
            Ok(_) => diffs.push(format!("changed: {}", f.path.display())),
            Err(_) => diffs.push(format!("missing: {}", f.path.display())),
        }
    }
    for extra in existing_files(out)?.difference(&wanted) {
        diffs.push(format!("not generated: {}", extra.display()));
    }
    Ok(diffs)
}
