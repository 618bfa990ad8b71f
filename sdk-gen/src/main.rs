//! `apinfer-sdk-gen --spec openapi.yaml --out sdks [--check]`: writes (or, with `--check`,
//! verifies) the Python, TypeScript and Rust SDKs.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

const USAGE: &str = "usage: apinfer-sdk-gen [--spec openapi.yaml] [--out sdks] [--check]";

fn run() -> Result<ExitCode> {
    let mut spec = PathBuf::from("openapi.yaml");
    let mut out = PathBuf::from("sdks");
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--spec" => spec = args.next().context(USAGE)?.into(),
            "--out" => out = args.next().context(USAGE)?.into(),
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let text = std::fs::read_to_string(&spec).with_context(|| format!("reading {}", spec.display()))?;
    let files = apinfer_sdk_gen::generate(&text).with_context(|| format!("generating from {}", spec.display()))?;
    if check {
        let diffs = apinfer_sdk_gen::differences(&files, &out)?;
        if diffs.is_empty() {
            println!("{} is up to date ({} files)", out.display(), files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for d in &diffs {
            eprintln!("{d}");
        }
        eprintln!("{} is stale: run `{}`", out.display(), apinfer_sdk_gen::REGENERATE_COMMAND);
        return Ok(ExitCode::FAILURE);
    }
    apinfer_sdk_gen::write(&files, &out)?;
    println!("wrote {} files under {}", files.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
