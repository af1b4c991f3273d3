//! `cleanup-image /AnalyzeComponentStore`: the component store's size as Explorer would count it and
//! with hard links counted once, what it shares with Windows (files projected out of WinSxS), backups,
//! cache and temporary data, reclaimable packages, the last ResetBase, and whether a cleanup is
//! recommended — DISM's report, read from one walk of the image's tree and its SOFTWARE hive.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use cbs::rules::PackageState;

use super::error::{Error, Result};
use super::scratch::Scratch;
use super::session::Servicing;
use super::state::CBS_KEY;
use super::target::Target;
use crate::progress::Control;
use crate::wim::LockWait;

/// DISM's component store report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AnalyzeReport {
    /// The target, as messages name it (JSON: the fields of `image`).
    #[serde(skip)]
    pub target: String,
    /// The target in the shared JSON vocabulary (`wim`, `index`, `name`, `edition` or `dir`).
    #[serde(flatten)]
    pub image: super::TargetName,
    /// "Windows Explorer Reported Size of Component Store": every file name under WinSxS counted.
    pub explorer_size: u64,
    /// "Actual Size of Component Store": hard-linked files counted once.
    pub actual_size: u64,
    /// "Shared with Windows": WinSxS files also linked from outside WinSxS.
    pub shared_with_windows: u64,
    /// "Backups and Disabled Features": the rest of the store, outside cache and temporary data.
    pub backups_and_disabled_features: u64,
    /// "Cache and Temporary Data": `WinSxS\Temp` and `WinSxS\ManifestCache`.
    pub cache_and_temporary_data: u64,
    /// "Date of Last Cleanup": the last ResetBase recorded in the image.
    pub last_cleanup: Option<String>,
    /// "Number of Reclaimable Packages": packages in the Superseded state.
    pub reclaimable_packages: usize,
    /// Component versions a newer version supersedes.
    pub superseded_components: usize,
    /// "Component Store Cleanup Recommended".
    pub cleanup_recommended: bool,
}

/// Analyzes the component store of `target` (read-only).
pub fn analyze_component_store(
    target: &Target,
    scratch_dir: Option<PathBuf>,
    control: Control<'_>,
) -> Result<AnalyzeReport> {
    let (scratch, _warning) = Scratch::create(scratch_dir.as_deref())?;
    let svc = Servicing::open(target, true, LockWait::NoWait, scratch.path().to_path_buf(), control)?;
    let entries = svc.session.walk("/")?.unwrap_or_default();
    let sxs = "/windows/winsxs/";
    let mut outside_groups: HashSet<u64> = HashSet::new();
    for e in entries.iter().filter(|e| !e.is_dir && e.group != 0) {
        if !e.path.to_ascii_lowercase().starts_with(sxs) {
            outside_groups.insert(e.group);
        }
    }
    let mut explorer = 0u64;
    let mut counted: HashMap<u64, u64> = HashMap::new();
    let mut actual = 0u64;
    let mut shared = 0u64;
    let mut cache = 0u64;
    for e in entries.iter().filter(|e| !e.is_dir) {
        let lower = e.path.to_ascii_lowercase();
        let Some(rel) = lower.strip_prefix(sxs) else { continue };
        explorer += e.size;
        let first = e.group == 0 || counted.insert(e.group, e.size).is_none();
        if !first {
            continue;
        }
        actual += e.size;
        if e.group != 0 && outside_groups.contains(&e.group) {
            shared += e.size;
        } else if rel.starts_with("temp/") || rel.starts_with("manifestcache/") {
            cache += e.size;
        }
    }
    let last_cleanup = svc
        .software
        .lookup(CBS_KEY)
        .map_err(Error::hive(&svc.software_path))?
        .map(|node| svc.software.value(node, "LastResetBase_UTC"))
        .transpose()
        .map_err(Error::hive(&svc.software_path))?
        .flatten()
        .and_then(|v| v.as_str().map(str::to_owned));
    let reclaimable_packages = svc.state.packages.iter().filter(|p| p.state == PackageState::Superseded).count();
    let superseded_components = svc.state.inventory.superseded().len();
    Ok(AnalyzeReport {
        target: svc.label.clone(),
        image: svc.session.target_name(),
        explorer_size: explorer,
        actual_size: actual,
        shared_with_windows: shared,
        backups_and_disabled_features: actual.saturating_sub(shared + cache),
        cache_and_temporary_data: cache,
        last_cleanup,
        reclaimable_packages,
        superseded_components,
        cleanup_recommended: reclaimable_packages > 0 || superseded_components > 0,
    })
}
