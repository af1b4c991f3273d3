//! `get-packages`: the packages of an image's CBS store with their state, release type, KB and
//! install time, like DISM `/Get-Packages`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cbs::manifest::ComponentManifest;
use cbs::mum::PackageManifest;

use super::error::{Error, Result};
use super::image_manifests::ImageManifests;
use super::scratch::Scratch;
use super::state::{read_packages, PACKAGES_DIR, SOFTWARE_HIVE};
use super::target::{Session, Target};
use crate::log::civil_from_unix;
use crate::progress::Control;
use crate::wim::LockWait;

/// Largest .mum read for its release type and KB.
const MUM_LIMIT: u64 = 16 << 20;

/// Options of `get-packages`.
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    /// Also list hidden packages (`Visibility` 2: the sub-packages of updates, as DISM hides them).
    pub all: bool,
    /// Scratch directory (as for `add-package`).
    pub scratch_dir: Option<PathBuf>,
    /// Also list each package's components with the number of registry values their manifests
    /// carry (reads the component manifests from `WinSxS\Manifests`).
    pub components: bool,
}

/// A component of a listed package (`get-packages --components`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ComponentRow {
    /// Key form (names the manifest in `WinSxS\Manifests`).
    pub key_form: String,
    /// Registry values its manifest carries; `None` when the manifest is absent from the image or
    /// cannot be read (a DCM-compressed one is decoded with the base of the image's servicing stack).
    pub registry_values: Option<usize>,
}

/// One package, as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PackageRow {
    /// `Name~pkt~arch~culture~version`.
    pub identity: String,
    /// `Installed`, `Superseded`, `Staged` …
    #[serde(serialize_with = "cbs::json_word::snake_case")]
    pub state: String,
    /// `CurrentState` as stored.
    pub current_state: u32,
    /// `releaseType` from the package's .mum (`Security Update`, `Update`, `Feature Pack` …).
    pub release_type: Option<String>,
    /// KB article (the .mum's `identifier`).
    pub kb: Option<String>,
    /// Install time, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub install_time: Option<String>,
    /// `Visibility`.
    pub visibility: Option<u32>,
    /// Whether it is permanent (cannot be uninstalled).
    pub permanent: bool,
    /// Its components (those its updates name, deployments followed), with `--components`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<ComponentRow>>,
}

/// FILETIME → ISO 8601 UTC.
pub(crate) fn filetime_iso(ft: u64) -> Option<String> {
    let millis = ft.checked_sub(116_444_736_000_000_000)? / 10_000;
    let c = civil_from_unix(millis);
    Some(format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", c.year, c.month, c.day, c.hour, c.minute, c.second))
}

/// Lists the packages of `target`, sorted by identity.
pub fn get_packages(target: &Target, opts: &GetOptions, control: Control<'_>) -> Result<Vec<PackageRow>> {
    let (scratch, _warning) = Scratch::create(opts.scratch_dir.as_deref())?;
    let mut session = Session::open(target, false, LockWait::NoWait)?;
    let label = session.label().to_owned();
    let work = scratch.path().join("get");
    let hive = session.fetch(&[SOFTWARE_HIVE], &work, control)?.remove(0).ok_or_else(|| Error::NotWindows {
        target: label.clone(),
        missing: r"Windows\System32\config\SOFTWARE".into(),
    })?;
    const SOFTWARE: &str = r"Windows\System32\config\SOFTWARE";
    let mut packages =
        read_packages(&hive, &Error::image_hive_name(&label, SOFTWARE)).map_err(Error::in_image(&label, SOFTWARE))?;
    packages.retain(|p| opts.all || p.visibility != Some(2));
    packages.sort_by_key(|p| p.identity.to_string().to_lowercase());

    let mum_paths: Vec<String> = packages.iter().map(|p| format!("{PACKAGES_DIR}/{}.mum", p.identity)).collect();
    let refs: Vec<&str> = mum_paths.iter().map(String::as_str).collect();
    let mums = session.fetch(&refs, &work, control)?;
    let mut rows = Vec::with_capacity(packages.len());
    for (p, mum) in packages.into_iter().zip(mums) {
        let manifest = mum.and_then(|path| {
            let bytes = std::fs::read(&path).ok().filter(|b| b.len() as u64 <= MUM_LIMIT)?;
            match PackageManifest::parse(&bytes, &path.display().to_string()) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(package = %p.identity, error = %e, "cannot read the package's .mum");
                    None
                }
            }
        });
        let permanent = p.state == cbs::rules::PackageState::Permanent
            || manifest
                .as_ref()
                .and_then(|m| m.package.permanence.as_deref())
                .is_some_and(|v| v.eq_ignore_ascii_case("permanent"));
        rows.push(PackageRow {
            identity: p.identity.to_string(),
            state: p.state.to_string(),
            current_state: p.state.as_u32(),
            release_type: manifest.as_ref().and_then(|m| m.package.release_type.clone()),
            kb: manifest.as_ref().and_then(|m| m.kb().map(str::to_owned)),
            install_time: p.install_time.and_then(filetime_iso),
            visibility: p.visibility,
            permanent,
            components: opts.components.then(|| named_components(manifest.as_ref())),
        });
    }
    if opts.components {
        count_registry_values(&mut session, &mut rows, &work, control)?;
    }
    Ok(rows)
}

/// Reads the manifests of `key_forms` not read yet into `parsed` (`None`: absent or unreadable),
/// DCM-compressed ones decoded with the image's own base.
fn fetch_manifests(
    session: &mut Session,
    manifests: &mut ImageManifests,
    parsed: &mut HashMap<String, Option<ComponentManifest>>,
    key_forms: Vec<String>,
    work: &Path,
    control: Control<'_>,
) -> Result<()> {
    let mut wanted: Vec<String> = key_forms.into_iter().filter(|k| !parsed.contains_key(k)).collect();
    wanted.sort();
    wanted.dedup();
    let read = manifests.read(session, &wanted, work, control)?;
    parsed.extend(wanted.into_iter().zip(read));
    Ok(())
}

/// Key forms of the components a package's updates name.
fn named_components(manifest: Option<&PackageManifest>) -> Vec<ComponentRow> {
    let mut out: Vec<ComponentRow> = Vec::new();
    for update in manifest.iter().flat_map(|m| &m.package.updates) {
        for id in &update.components {
            let key_form = cbs::key_form(id);
            if !out.iter().any(|c| c.key_form == key_form) {
                out.push(ComponentRow { key_form, registry_values: None });
            }
        }
    }
    out
}

/// Reads the manifests of every row's components (a deployment is replaced by the components it
/// installs) and fills in their registry value counts.
fn count_registry_values(
    session: &mut Session,
    rows: &mut [PackageRow],
    work: &Path,
    control: Control<'_>,
) -> Result<()> {
    let mut parsed: HashMap<String, Option<ComponentManifest>> = HashMap::new();
    let mut manifests = ImageManifests::new();
    let first: Vec<String> =
        rows.iter().flat_map(|r| r.components.iter().flatten().map(|c| c.key_form.clone())).collect();
    fetch_manifests(session, &mut manifests, &mut parsed, first.clone(), work, control)?;
    let installs = |parsed: &HashMap<String, Option<ComponentManifest>>, kf: &str| -> Option<Vec<String>> {
        let m = parsed.get(kf)?.as_ref()?;
        m.is_deployment().then(|| m.install_dependencies().map(|d| cbs::key_form(&d.identity)).collect())
    };
    let second: Vec<String> = first.iter().filter_map(|kf| installs(&parsed, kf)).flatten().collect();
    fetch_manifests(session, &mut manifests, &mut parsed, second, work, control)?;
    for row in rows.iter_mut() {
        let Some(list) = row.components.take() else { continue };
        let mut out: Vec<ComponentRow> = Vec::new();
        for c in list {
            let expanded = installs(&parsed, &c.key_form).unwrap_or_else(|| vec![c.key_form.clone()]);
            for kf in expanded {
                if out.iter().any(|o| o.key_form == kf) {
                    continue;
                }
                let registry_values = parsed.get(&kf).and_then(|m| m.as_ref()).map(|m| m.registry_value_count());
                out.push(ComponentRow { key_form: kf, registry_values });
            }
        }
        row.components = Some(out);
    }
    Ok(())
}
