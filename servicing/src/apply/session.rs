//! A servicing session on one target: the image's state read once (hives copied to the scratch area
//! and opened for writing, the component inventory, the installed packages), changes gathered from
//! several operations (packages staged, paths to delete, hive edits), and one commit at the end —
//! append in place, or a rewrite into a fresh file (what `service --remove-superseded` ends with).

use std::path::PathBuf;

use super::error::{Error, Result};
use super::inventory::Inventory;
use super::registry_values::ExtraHives;
use super::state::{self, ImageState, COMPONENTS_HIVE, MANIFESTS_DIR, SOFTWARE_HIVE};
use super::target::{Session, Target};
use crate::hive::{Hive, Mode, Value};
use crate::progress::Control;
use crate::wim::{Compression, LockWait};

/// The SOFTWARE key holding the OS version (`CurrentBuild`, `UBR`).
const CURRENT_VERSION: &str = r"Microsoft\Windows NT\CurrentVersion";

/// How a session's changes reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Append to the WIM (or change the directory in place): cost follows the change.
    Append,
    /// Write the whole WIM anew and rename it over the original (reclaims every hole); optionally
    /// in another compression. WIM targets only.
    Rewrite {
        /// Output compression (`None`: keep the WIM's).
        compression: Option<Compression>,
    },
}

/// An open servicing session.
pub(crate) struct Servicing {
    pub session: Session,
    pub label: String,
    pub work: PathBuf,
    pub software: Hive,
    pub software_path: PathBuf,
    pub components: Option<(Hive, PathBuf)>,
    pub state: ImageState,
    /// Trees to add at the image root, in order.
    pub stages: Vec<PathBuf>,
    /// Image paths to delete.
    pub deletes: Vec<String>,
    /// Whether the hives were changed.
    pub hives_changed: bool,
    /// SYSTEM and the user hives, opened when component registry data needs them.
    pub registry: ExtraHives,
    /// The update build revision (UBR) a cumulative update of this run brings, recorded at commit in
    /// the SOFTWARE hive (`CurrentVersion\UBR`) and in the WIM XML (`SPBUILD`), where DISM and
    /// ConfigMgr read an image's version from.
    pub new_ubr: Option<u16>,
}

impl Servicing {
    /// Opens `target` (read-write unless `read_only`) and reads its state into `work`.
    pub fn open(target: &Target, read_only: bool, wait: LockWait, work: PathBuf, control: Control<'_>) -> Result<Self> {
        let mut session = Session::open(target, !read_only, wait)?;
        let label = session.label().to_owned();
        let fetched = session.fetch(&[SOFTWARE_HIVE, COMPONENTS_HIVE], &work.join("hives"), control)?;
        let software_path = fetched[0].clone().ok_or_else(|| Error::NotWindows {
            target: label.clone(),
            missing: r"Windows\System32\config\SOFTWARE".into(),
        })?;
        let manifest_names = session
            .children(MANIFESTS_DIR)?
            .ok_or_else(|| Error::NotWindows { target: label.clone(), missing: r"Windows\WinSxS\Manifests".into() })?;
        let mode = if read_only { Mode::ReadOnly } else { Mode::Write };
        if !read_only {
            // Working copies about to be edited: split flat subkey lists first, or every component
            // recorded copies a whole list (see `hive::split_long_subkey_lists`).
            for path in fetched.iter().flatten() {
                crate::hive::split_long_subkey_lists(path).map_err(Error::hive(path))?;
            }
        }
        const SOFTWARE: &str = r"Windows\System32\config\SOFTWARE";
        let software = Hive::open_as(&software_path, mode, &Error::image_hive_name(&label, SOFTWARE))
            .map_err(Error::hive(&software_path))
            .map_err(Error::in_image(&label, SOFTWARE))?;
        let packages =
            state::read_packages_from(&software, &software_path).map_err(Error::in_image(&label, SOFTWARE))?;
        let arch = session
            .image_info()
            .and_then(|i| i.arch)
            .map(|a| a.name().to_owned())
            .or_else(|| ImageState::majority_arch(&packages))
            .ok_or_else(|| Error::NotWindows {
                target: label.clone(),
                missing: "an architecture (no WIM XML ARCH, no packages)".into(),
            })?;
        let components = match fetched[1].clone() {
            Some(p) => Some((
                Hive::open_as(&p, mode, &Error::image_hive_name(&label, r"Windows\System32\config\COMPONENTS"))
                    .map_err(Error::hive(&p))
                    .map_err(Error::in_image(&label, r"Windows\System32\config\COMPONENTS"))?,
                p,
            )),
            None => None,
        };
        let state = ImageState {
            inventory: Inventory::from_manifest_names(manifest_names.iter().map(String::as_str)),
            packages,
            arch,
        };
        Ok(Servicing {
            session,
            label,
            work,
            software,
            software_path,
            components,
            state,
            stages: Vec::new(),
            deletes: Vec::new(),
            hives_changed: false,
            registry: ExtraHives::default(),
            new_ubr: None,
        })
    }

    /// Whether anything is waiting to be committed.
    pub fn has_changes(&self) -> bool {
        !self.stages.is_empty() || !self.deletes.is_empty() || self.hives_changed
    }

    /// Commits every gathered change in one go.
    pub fn finish(self, how: Finish, control: Control<'_>) -> Result<()> {
        if control.cancelled() {
            return Err(Error::Cancelled { target: self.label });
        }
        let Servicing {
            mut session,
            mut software,
            software_path,
            components,
            stages,
            deletes,
            mut hives_changed,
            registry,
            new_ubr,
            ..
        } = self;
        if let Some(ubr) = new_ubr {
            if let Some(node) = software.lookup(CURRENT_VERSION).map_err(Error::hive(&software_path))? {
                software.set_value(node, "UBR", &Value::Dword(u32::from(ubr))).map_err(Error::hive(&software_path))?;
                hives_changed = true;
            }
            if let Session::Image { wim, index, .. } = &mut session {
                wim.set_property(*index, "WINDOWS/VERSION/SPBUILD", Some(&ubr.to_string()))?;
            }
        }
        let mut files = Vec::new();
        if hives_changed {
            software.commit().map_err(Error::hive(&software_path))?;
            files.push((software_path.clone(), SOFTWARE_HIVE.to_owned()));
            if let Some((mut hive, path)) = components {
                hive.commit().map_err(Error::hive(&path))?;
                files.push((path, COMPONENTS_HIVE.to_owned()));
            }
        }
        for (which, mut hive, path) in registry.into_changed() {
            hive.commit().map_err(Error::hive(&path))?;
            files.push((path, which.image_path().to_owned()));
        }
        drop(software);
        super::commit::commit(session, &stages, &files, &deletes, how, control)
    }
}
