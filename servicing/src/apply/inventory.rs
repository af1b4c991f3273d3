//! The component inventory of an image: which versions of which component families sit in
//! `Windows\WinSxS\Manifests`, read from the manifest file names (key forms) alone, so nothing but a
//! directory listing is needed.

use std::collections::BTreeMap;

use cbs::{AssemblyIdentity, Version};

/// A component family as a key form shows it: architecture, display name, public key token and
/// culture (all lower case, the name shortened as the key form shortens it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentFamily {
    /// `amd64`, `x86`, `wow64`, `msil` …
    pub arch: String,
    /// The display name (`microsoft-windows-ndis-tdi-bindingengine`, or shortened with `..`).
    pub name: String,
    /// Public key token, or `none`.
    pub public_key_token: String,
    /// Culture, `none` when neutral.
    pub culture: String,
}

/// A parsed key form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyForm {
    /// The family.
    pub family: ComponentFamily,
    /// The version.
    pub version: Version,
    /// The whole key form, lower case.
    pub text: String,
}

/// Parses `<arch>_<name>_<pkt>_<version>_<culture>_<hash16>` (the name may itself hold `_`).
pub fn parse_key_form(text: &str) -> Option<KeyForm> {
    let lower = text.to_ascii_lowercase();
    let mut right = lower.rsplitn(5, '_');
    let hash = right.next()?;
    let culture = right.next()?;
    let version = right.next()?;
    let pkt = right.next()?;
    let rest = right.next()?;
    let (arch, name) = rest.split_once('_')?;
    if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
        return None;
    }
    let version = Version::parse(version).ok()?;
    Some(KeyForm {
        family: ComponentFamily {
            arch: arch.to_owned(),
            name: name.to_owned(),
            public_key_token: pkt.to_owned(),
            culture: culture.to_owned(),
        },
        version,
        text: lower,
    })
}

/// The family of a component identity, as its key form would show it.
pub fn family_of(id: &AssemblyIdentity) -> Option<ComponentFamily> {
    parse_key_form(&cbs::key_form(id)).map(|k| k.family)
}

/// Versions present per family.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    families: BTreeMap<ComponentFamily, BTreeMap<Version, String>>,
}

impl Inventory {
    /// Builds the inventory from the names in `WinSxS\Manifests` (`<key-form>.manifest`); other names
    /// are ignored.
    pub fn from_manifest_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Inventory {
        let mut inv = Inventory::default();
        for name in names {
            let lower = name.to_ascii_lowercase();
            let Some(stem) = lower.strip_suffix(".manifest") else { continue };
            if let Some(k) = parse_key_form(stem) {
                inv.insert(k);
            }
        }
        inv
    }

    /// Records a key form as present.
    pub fn insert(&mut self, k: KeyForm) {
        self.families.entry(k.family).or_default().insert(k.version, k.text);
    }

    /// Whether this exact key form is present.
    pub fn contains(&self, key_form: &str) -> bool {
        parse_key_form(key_form).is_some_and(|k| {
            self.families.get(&k.family).is_some_and(|v| v.get(&k.version).is_some_and(|t| *t == k.text))
        })
    }

    /// The versions of a family present, lowest first.
    pub fn versions(&self, family: &ComponentFamily) -> Vec<Version> {
        self.families.get(family).map(|v| v.keys().copied().collect()).unwrap_or_default()
    }

    /// The highest version of a family present.
    pub fn highest(&self, family: &ComponentFamily) -> Option<Version> {
        self.families.get(family).and_then(|v| v.keys().next_back().copied())
    }

    /// The key form of the highest version of `family` below `version`: the installed version an
    /// update of the family replaces.
    pub fn below(&self, family: &ComponentFamily, version: Version) -> Option<String> {
        self.families.get(family).and_then(|v| v.range(..version).next_back().map(|(_, text)| text.clone()))
    }

    /// Removes a key form.
    pub fn remove(&mut self, key_form: &str) {
        if let Some(k) = parse_key_form(key_form) {
            if let Some(v) = self.families.get_mut(&k.family) {
                v.remove(&k.version);
                if v.is_empty() {
                    self.families.remove(&k.family);
                }
            }
        }
    }

    /// Key forms of every version that is not the newest of its family: what component cleanup
    /// removes.
    pub fn superseded(&self) -> Vec<String> {
        let mut out = Vec::new();
        for versions in self.families.values() {
            let n = versions.len();
            out.extend(versions.values().take(n.saturating_sub(1)).cloned());
        }
        out
    }

    /// Number of component versions.
    pub fn len(&self) -> usize {
        self.families.values().map(BTreeMap::len).sum()
    }

    /// Whether the inventory is empty.
    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }
}
