//! Where stacks come from: the folders shipped in the binary, then an operator's folders in
//! `<data_dir>/stacks/`, which win over a shipped one of the same name.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use include_dir::{Dir, include_dir};
use steward_frontend::contract::StackSummary;

use super::Stack;

static SHIPPED: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/stacks");

/// Every stack Steward knows, by name.
#[derive(Debug, Clone, Default)]
pub struct Stacks {
    stacks: Arc<BTreeMap<String, Arc<Stack>>>,
    /// Folders that could not be loaded, with the reason (shown to admins).
    pub broken: Arc<Vec<(String, String)>>,
}

/// Reads a folder from disk into relative path → text.
pub fn read_folder(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                walk(base, &path, out)?;
            } else if let Ok(relative) = path.strip_prefix(base) {
                out.insert(relative.to_string_lossy().into_owned(), std::fs::read_to_string(&path)?);
            }
        }
        Ok(())
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files).map_err(|err| format!("{}: {err}", dir.display()))?;
    Ok(files)
}

fn shipped_files(dir: &Dir<'_>) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Dir<'_>, out: &mut BTreeMap<String, String>) {
        for file in dir.files() {
            if let (Ok(relative), Some(text)) = (file.path().strip_prefix(base), file.contents_utf8()) {
                out.insert(relative.to_string_lossy().into_owned(), text.to_owned());
            }
        }
        for sub in dir.dirs() {
            walk(base, sub, out);
        }
    }
    let mut files = BTreeMap::new();
    walk(dir.path(), dir, &mut files);
    files
}

impl Stacks {
    /// The shipped stacks, then `<data_dir>/stacks/*` over them.
    pub fn load(data_dir: &Path) -> Self {
        let mut stacks = BTreeMap::new();
        let mut broken = Vec::new();
        for dir in SHIPPED.dirs() {
            let name = dir.path().to_string_lossy().into_owned();
            match Stack::load(&name, shipped_files(dir), "shipped") {
                Ok(stack) => {
                    stacks.insert(name, Arc::new(stack));
                }
                Err(err) => broken.push((name, err)),
            }
        }
        let local = data_dir.join("stacks");
        if let Ok(entries) = std::fs::read_dir(&local) {
            let mut dirs: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
            dirs.sort();
            for dir in dirs {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                match read_folder(&dir).and_then(|files| Stack::load(&name, files, &dir.display().to_string())) {
                    Ok(stack) => {
                        if stacks.contains_key(&name) {
                            tracing::info!(stack = %name, folder = %dir.display(), "a local stack folder replaces the shipped one");
                        }
                        stacks.insert(name, Arc::new(stack));
                    }
                    Err(err) => {
                        tracing::error!(stack = %name, folder = %dir.display(), error = %err, "a stack folder could not be loaded");
                        broken.push((name, err));
                    }
                }
            }
        }
        Self { stacks: Arc::new(stacks), broken: Arc::new(broken) }
    }

    pub fn get(&self, name: &str) -> Option<Arc<Stack>> {
        self.stacks.get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.stacks.keys().cloned().collect()
    }

    /// Every stack; where an operator's folder lives on the server is told to admins only.
    pub fn summaries(&self, admin: bool) -> Vec<StackSummary> {
        self.stacks.values().map(|s| s.summary_for(admin)).collect()
    }
}
