//! Template rendering shared by the language modules.

use anyhow::{anyhow, Result};
use minijinja::Environment;
use serde::Serialize;

use crate::GeneratedFile;

/// A template: its name and source (embedded at compile time).
pub type Template = (&'static str, &'static str);

/// An environment holding `templates`, with block trimming so templates can be indented for reading.
pub fn environment(templates: &[Template]) -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(true);
    // Templates are named after their outputs (`package.json`); nothing is HTML or JSON-escaped.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    for (name, source) in templates {
        env.add_template(name, source).map_err(|e| anyhow!("template {name}: {e:#}"))?;
    }
    Ok(env)
}

/// Renders template `name` with `ctx` into the file `path`.
pub fn render(env: &Environment<'_>, name: &str, path: &str, ctx: &impl Serialize) -> Result<GeneratedFile> {
    let template = env.get_template(name).map_err(|e| anyhow!("template {name}: {e:#}"))?;
    let mut contents = template.render(ctx).map_err(|e| anyhow!("rendering {name}: {e:#}"))?;
    // Templates may leave runs of blank lines where optional sections were skipped.
    while contents.contains("\n\n\n\n") {
        contents = contents.replace("\n\n\n\n", "\n\n\n");
    }
    if !contents.ends_with('\n') {
        contents.push('\n');
    }
    Ok(GeneratedFile { path: path.into(), contents })
}

/// Splits a description into lines with trailing spaces removed (for doc comments).
pub fn doc_lines(text: Option<&str>) -> Vec<String> {
    text.map(|t| t.trim().lines().map(|l| l.trim_end().to_owned()).collect()).unwrap_or_default()
}
