//! Payload files stored through an index rather than as cab members of their own name: which
//! index (`_manifest_.cix.xml` or `express.psf.cix.xml`), how it stores them, and the index's
//! report before expansion.

use std::collections::BTreeMap;

use super::report::DeltaReport;
use crate::cix::{CixFile, ContainerIndex};

/// Which index stores a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Stored {
    /// `_manifest_.cix.xml`: cab members (PA30 deltas, copies).
    Cix,
    /// `express.psf.cix.xml`: ranges of the `.psf`.
    Psf,
}

/// A payload file named by a manifest and stored through an index.
#[derive(Debug, Clone)]
pub(crate) struct Indexed {
    /// The index.
    pub(crate) stored: Stored,
    /// Its `id` there.
    pub(crate) id: u32,
    /// `<key form>/<file>`, as the manifest names it.
    pub(crate) target: String,
    /// The manifest naming it.
    pub(crate) manifest: String,
    /// SHA-256 from the manifest; `None` when it gives none.
    pub(crate) sha256: Option<[u8; 32]>,
}

/// How an index stores a file: its source type (`PA30`, `RAW` …), or `copy of file N`.
pub(crate) fn stored_as(f: &CixFile) -> Option<String> {
    let d = f.delta.as_ref()?;
    match &d.source {
        Some(s) => Some(s.source_type.as_str().to_string()),
        None => d.copy_of().map(|id| format!("copy of file {id}")),
    }
}

/// The report of an index, before expansion: counts of the files `counted` selects, by format.
pub(crate) fn index_report(index_name: String, index: &ContainerIndex, counted: fn(&CixFile) -> bool) -> DeltaReport {
    let mut by_format = BTreeMap::new();
    let mut with_basis = 0;
    for f in index.files.iter().filter(|f| counted(f)) {
        let Some(d) = &f.delta else { continue };
        if !d.basis.is_empty() {
            with_basis += 1;
        }
        let format = match &d.source {
            Some(s) if s.source_type.is_delta() || s.offset.is_some() => s.source_type.as_str().to_string(),
            Some(_) => continue,
            None if d.copy_of().is_some() => "copy".to_string(),
            None => continue,
        };
        *by_format.entry(format).or_insert(0) += 1;
    }
    DeltaReport {
        index: index_name,
        files: index.files.len(),
        by_format,
        with_basis,
        expansion: "not expanded".into(),
        verified: 0,
        unsupported: 0,
        failed: 0,
        not_expanded: 0,
        psf: None,
        psf_found: None,
    }
}
