//! Comparing what a revision renders: with another revision, or with what is live on each
//! host (read through the agent), shown with secrets masked.

use super::render::{HostFiles, RenderedRevision};
use super::*;
use steward_frontend::contract::FileStatus;

impl Configs {
    /// Compares two revisions of an instance, host by host (secrets masked).
    pub async fn compare(&self, instance_id: i64, from: i64, to: i64) -> Result<Vec<HostDiff>, Error> {
        let old = self.render_all(&self.revision_of(instance_id, Some(from)).await?).await?;
        let new = self.render_all(&self.revision_of(instance_id, Some(to)).await?).await?;
        let old_by_host: HashMap<i64, &Result<HostFiles, String>> =
            old.hosts.iter().map(|(id, _, files)| (*id, files)).collect();
        let none = Ok(HostFiles::default());
        Ok(new
            .hosts
            .iter()
            .map(|(id, name, files)| match (old_by_host.get(id).copied().unwrap_or(&none), files) {
                (Ok(before), Ok(after)) => {
                    let previous = |path: &str| {
                        let (real, shown) = before.pair(path)?;
                        Some(Before::Rendered { real: &real.content, shown, secrets: &old.secrets })
                    };
                    let paths = before.real.iter().map(|f| f.path.clone()).collect();
                    host_diff(*id, name.clone(), after, &new.secrets, previous, paths)
                }
                (Err(err), _) | (_, Err(err)) => {
                    HostDiff { host_id: *id, host_name: name.clone(), files: vec![], error: Some(err.clone()) }
                }
            })
            .collect())
    }

    /// Compares a revision (default: the latest) with what is live on each host, read through
    /// the agent (secrets masked). Hosts are read in parallel.
    pub async fn preview(&self, instance_id: i64, revision_id: Option<i64>) -> Result<Vec<HostDiff>, Error> {
        let revision = self.revision_of(instance_id, revision_id).await?;
        let rendered = self.render_all(&revision).await?;
        // A live file may still hold what an earlier push wrote: lines of the revision each
        // host has are shown as that revision's render shows them.
        let pushed: HashMap<i64, i64> = self
            .inner
            .store
            .host_configs(instance_id)
            .await?
            .into_iter()
            .filter_map(|row| Some((row.host_id, row.revision_id?)))
            .filter(|(_, id)| *id != revision.id)
            .collect();
        let mut earlier: HashMap<i64, RenderedRevision> = HashMap::new();
        for id in pushed.values() {
            if !earlier.contains_key(id)
                && let Ok(row) = self.inner.store.revision(*id).await
            {
                earlier.insert(*id, self.render_all(&row).await?);
            }
        }
        let ssh = &self.inner.ssh;
        let (rendered, earlier, pushed) = (&rendered, &earlier, &pushed);
        let diffs = rendered.hosts.iter().map(|(id, name, files)| async move {
            let (id, name) = (*id, name.clone());
            let files = match files {
                Ok(files) => files,
                Err(err) => return HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err.clone()) },
            };
            let live = async {
                let mut agent = ssh.agent(id).await?;
                let mut live = HashMap::new();
                for file in &files.real {
                    if let Some((bytes, _)) = agent.read_file(&file.path).await? {
                        live.insert(file.path.clone(), String::from_utf8_lossy(&bytes).into_owned());
                    }
                }
                Ok::<_, crate::services::ssh::SshFailure>(live)
            }
            .await;
            let live = match live {
                Ok(live) => live,
                Err(err) => {
                    return HostDiff { host_id: id, host_name: name, files: vec![], error: Some(err.to_string()) };
                }
            };
            let mut known = LineMap::default();
            let mut masker = rendered.secrets.masker(files.pairs());
            files.learn(&mut known, &rendered.secrets);
            if let Some(Ok(before)) = pushed.get(&id).and_then(|rev| earlier.get(rev)).and_then(|r| r.host(id)) {
                let secrets = &earlier[&pushed[&id]].secrets;
                before.learn(&mut known, secrets);
                masker = masker.merge(secrets.masker(before.pairs()));
            }
            let previous =
                |path: &str| live.get(path).map(|text| Before::Live { text, known: &known, masker: &masker });
            host_diff(id, name, files, &rendered.secrets, previous, vec![])
        });
        Ok(futures_util::future::join_all(diffs).await)
    }
}

/// What a file was before: another revision's render, or the live file.
pub(super) enum Before<'a> {
    Rendered { real: &'a str, shown: &'a str, secrets: &'a Secrets },
    Live { text: &'a str, known: &'a LineMap, masker: &'a Masker },
}

impl Before<'_> {
    pub(super) fn real(&self) -> &str {
        match self {
            Self::Rendered { real, .. } => real,
            Self::Live { text, .. } => text,
        }
    }

    pub(super) fn side(&self) -> Option<Side<'_>> {
        match self {
            Self::Rendered { real, shown, secrets } => Side::rendered(secrets, real, shown),
            Self::Live { text, known, masker } => Some(Side::live(text, known, masker)),
        }
    }
}

/// Shown instead of a diff whose secret lines cannot be told apart from the others.
pub(super) const HIDDEN_DIFF: &str =
    "(the changes are not shown: this file's secret settings cannot be told apart from the rest of it)\n";

/// Diffs one host's new files against what they were (`before`: live or an older revision);
/// files only in `previous_paths` were removed from the stack's output.
pub(super) fn host_diff<'a>(
    host_id: i64,
    host_name: String,
    after: &'a HostFiles,
    secrets: &'a Secrets,
    before: impl Fn(&str) -> Option<Before<'a>>,
    previous_paths: Vec<String>,
) -> HostDiff {
    let mut diffs: Vec<FileDiff> = after
        .real
        .iter()
        .map(|file| {
            let old = before(&file.path);
            let status = match &old {
                None => FileStatus::Added,
                Some(old) if old.real() == file.content => FileStatus::Unchanged,
                Some(_) => FileStatus::Changed,
            };
            let diff = if status == FileStatus::Unchanged {
                String::new()
            } else {
                let new =
                    after.pair(&file.path).and_then(|(real, shown)| Side::rendered(secrets, &real.content, shown));
                let old = match &old {
                    None => Some(Side::empty()),
                    Some(old) => old.side(),
                };
                match (old, new) {
                    (Some(old), Some(new)) => unified_diff(&file.path, &old, &new),
                    _ => HIDDEN_DIFF.to_owned(),
                }
            };
            FileDiff { path: file.path.clone(), status, diff }
        })
        .collect();
    for path in previous_paths {
        if !after.real.iter().any(|f| f.path == path) {
            diffs.push(FileDiff { path, status: FileStatus::Removed, diff: String::new() });
        }
    }
    HostDiff { host_id, host_name, files: diffs, error: None }
}
