//! Embeds the browser bundle (`site/pkg`, written by wasm-bindgen), the stylesheet and the
//! static `steward-agent` in the binary, so `steward` runs from any directory with nothing
//! beside it.
//!
//! The agent is looked for in `$STEWARD_AGENT_BIN`, else where cargo puts its musl release
//! build. Without it Steward builds, but cannot talk to hosts beyond checking the connection.
//!
//! The bundle is looked for in `$STEWARD_SITE_DIR`, else `$CARGO_TARGET_DIR/site`, else
//! `target/site`. Without it the server still builds and serves working pages, only without
//! hydration; `scripts/build.sh` always builds it first.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let workspace = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    let target = env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| workspace.join("target"));
    let site = env::var("STEWARD_SITE_DIR").map(PathBuf::from).unwrap_or_else(|_| target.join("site"));
    println!("cargo:rerun-if-env-changed=STEWARD_SITE_DIR");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_DIR");
    embed_agent(&target);

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let css = workspace.join("frontend").join("style").join("steward.css");
    println!("cargo:rerun-if-changed={}", css.display());
    files.push(("assets/steward.css".into(), css));

    let pkg = site.join("pkg");
    println!("cargo:rerun-if-changed={}", pkg.display());
    let mut bundle: Vec<(String, PathBuf)> = fs::read_dir(&pkg)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("js" | "wasm")))
                .filter_map(|path| Some((format!("pkg/{}", path.file_name()?.to_str()?), path)))
                .collect()
        })
        .unwrap_or_default();
    bundle.sort();
    let hydrates = bundle.iter().any(|(name, _)| name.ends_with(".wasm"));
    if !hydrates {
        println!("cargo:warning=no browser bundle in {}: pages will not hydrate (run scripts/build.sh)", pkg.display());
    }
    files.extend(bundle);

    let mut code = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (name, path) in &files {
        let bytes = fs::read(path).unwrap_or_default();
        let mut hasher = DefaultHasher::new();
        bytes.hash(&mut hasher);
        let content_type = match path.extension().and_then(|e| e.to_str()) {
            Some("css") => "text/css; charset=utf-8",
            Some("js") => "text/javascript; charset=utf-8",
            Some("wasm") => "application/wasm",
            _ => "application/octet-stream",
        };
        code.push_str(&format!(
            "    Asset {{ path: {name:?}, content_type: {content_type:?}, etag: \"\\\"{:016x}\\\"\", body: include_bytes!({:?}) }},\n",
            hasher.finish(),
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    code.push_str(&format!("pub const HYDRATES: bool = {hydrates};\n"));
    write_out("assets.rs", &code);
}

fn write_out(name: &str, code: &str) {
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_default()).join(name);
    if let Err(err) = fs::write(&out, code) {
        println!("cargo:warning=cannot write {}: {err}", out.display());
    }
}

fn embed_agent(target: &Path) {
    // The embedded migrations: a new file there must rebuild the server.
    println!("cargo:rerun-if-changed=../migrations");
    println!("cargo:rerun-if-env-changed=STEWARD_AGENT_BIN");
    let agent = env::var("STEWARD_AGENT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| target.join("x86_64-unknown-linux-musl").join("release").join("steward-agent"));
    println!("cargo:rerun-if-changed={}", agent.display());
    let code = if agent.is_file() {
        format!("pub static AGENT_X86_64: Option<&[u8]> = Some(include_bytes!({:?}));\n", agent.display().to_string())
    } else {
        println!(
            "cargo:warning=no steward-agent at {}: Steward will not collect facts (run scripts/build.sh)",
            agent.display()
        );
        "pub static AGENT_X86_64: Option<&[u8]> = None;\n".to_owned()
    };
    write_out("agent.rs", &code);
}
