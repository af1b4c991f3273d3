//! Compressed WinSxS manifests (`modern-lcu.md` §6): `DCM\x01` (a PA30 delta against a base
//! manifest from the servicing stack's `wcp.dll`), `DCN\x01` (PA30 with no source), `DCD\x01`,
//! `DCS\x01`, `DCH\x01` and `DCX\x01`.
//!
//! A manifest is decoded wherever one is read ([`ComponentManifest::parse_with_base`](crate::manifest::ComponentManifest::parse_with_base));
//! plain XML passes through. The base is never embedded in the project: it comes from a file the
//! caller names or from a `wcp.dll` ([`base_from_wcp_dll`]). Manifest deltas carry no target hash,
//! so a decode is checked by its caller parsing the XML (a wrong base gives garbage or an error).
//!
//! `DCS` (LZMS blocks, [`crate::dcs`]) is decoded through the process's registered LZMS decoder
//! ([`crate::codecs`]; none registered: [`DcmError::Unsupported`] naming LZMS).
//!
//! `DCD` (a 12-byte header, then a PA30 against a source file the manifest does not name) is
//! decoded only against a source the caller names ([`decode_dcd`]; `manifest decode --base FILE`);
//! where a manifest is read without one it is [`DcmError::Unsupported`] by name, as are `DCH` (a
//! header without content) and `DCX` (undocumented).

use std::borrow::Cow;

use thiserror::Error;

use crate::codecs::LzmsError;
use crate::delta::{apply_pa30, DeltaError, DeltaLimits};
use crate::pe_resource::{find_resource, PeResourceError};

/// Resource type of the DCM base in `wcp.dll`.
pub const WCP_BASE_RESOURCE_TYPE: u32 = 0x266;
/// Resource id of the DCM base in `wcp.dll`.
pub const WCP_BASE_RESOURCE_ID: u32 = 1;

/// The compressed-manifest variants (first four bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcmKind {
    /// `DCM\x01`: PA30 against the base manifest.
    Dcm,
    /// `DCN\x01`: PA30 with no source.
    Dcn,
    /// `DCD\x01`: 12-byte header, then PA30 against a source file.
    Dcd,
    /// `DCS\x01`: LZMS blocks.
    Dcs,
    /// `DCH\x01`: header only.
    Dch,
    /// `DCX\x01`: unknown.
    Dcx,
}

impl DcmKind {
    /// The variant of `bytes`, or `None` for anything else (plain XML).
    pub fn detect(bytes: &[u8]) -> Option<DcmKind> {
        Some(match bytes.get(..4)? {
            b"DCM\x01" => DcmKind::Dcm,
            b"DCN\x01" => DcmKind::Dcn,
            b"DCD\x01" => DcmKind::Dcd,
            b"DCS\x01" => DcmKind::Dcs,
            b"DCH\x01" => DcmKind::Dch,
            b"DCX\x01" => DcmKind::Dcx,
            _ => return None,
        })
    }

    /// The magic as text (`DCM`, …).
    pub fn name(self) -> &'static str {
        match self {
            DcmKind::Dcm => "DCM",
            DcmKind::Dcn => "DCN",
            DcmKind::Dcd => "DCD",
            DcmKind::Dcs => "DCS",
            DcmKind::Dch => "DCH",
            DcmKind::Dcx => "DCX",
        }
    }
}

/// Why a compressed manifest could not be decoded. Every variant names the file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DcmError {
    /// A `DCM` manifest and no base to apply it to.
    #[error(
        "{file}: DCM-compressed manifest needs the base manifest (from the image's servicing-stack wcp.dll or a file)"
    )]
    NeedsBase {
        /// The manifest.
        file: String,
    },
    /// The delta inside could not be applied (a wrong base is usually caught later, by the XML).
    #[error("{file}: {kind} manifest: {source}")]
    Delta {
        /// The manifest.
        file: String,
        /// The variant.
        kind: &'static str,
        /// The delta error.
        #[source]
        source: DeltaError,
    },
    /// A variant this crate does not decode.
    #[error("{file}: {what} is not supported")]
    Unsupported {
        /// The manifest.
        file: String,
        /// What is not supported.
        what: String,
    },
    /// The LZMS blocks of a `DCS` manifest could not be decoded.
    #[error("{file}: DCS manifest: {source}")]
    Lzms {
        /// The manifest.
        file: String,
        /// What is wrong.
        #[source]
        source: LzmsError,
    },
    /// The base could not be read from `wcp.dll`.
    #[error(transparent)]
    Base(#[from] PeResourceError),
}

/// Manifests are small; a decoded one larger than this is refused.
const MAX_MANIFEST_BYTES: u64 = 64 << 20;

/// The limits of a manifest decode.
fn limits() -> DeltaLimits {
    DeltaLimits { max_target_bytes: MAX_MANIFEST_BYTES, max_work: 1 << 30, ..DeltaLimits::DEFAULT }
}

/// The manifest text of `bytes`: decoded when it is a compressed manifest, as is otherwise.
/// `base` is the base manifest for `DCM`; `file` names the manifest in errors.
pub fn decode_manifest<'a>(bytes: &'a [u8], base: Option<&[u8]>, file: &str) -> Result<Cow<'a, [u8]>, DcmError> {
    let Some(kind) = DcmKind::detect(bytes) else {
        return Ok(Cow::Borrowed(bytes));
    };
    let delta_err = |source| DcmError::Delta { file: file.to_owned(), kind: kind.name(), source };
    let unsupported = |what: &str| DcmError::Unsupported { file: file.to_owned(), what: what.to_owned() };
    match kind {
        DcmKind::Dcm => {
            let base = base.ok_or_else(|| DcmError::NeedsBase { file: file.to_owned() })?;
            apply_pa30(base, &bytes[4..], &limits()).map(Cow::Owned).map_err(delta_err)
        }
        DcmKind::Dcn => apply_pa30(&[], &bytes[4..], &limits()).map(Cow::Owned).map_err(delta_err),
        DcmKind::Dcd => Err(unsupported(
            "a DCD manifest (a delta against a source file it does not name; `wimpatch manifest decode --base \
             SOURCE` decodes it against a file you name)",
        )),
        DcmKind::Dcs => match crate::dcs::decode(bytes, MAX_MANIFEST_BYTES) {
            Ok(xml) => Ok(Cow::Owned(xml)),
            Err(LzmsError::NoDecoder) => {
                Err(unsupported("a DCS manifest (LZMS blocks) without an LZMS decoder registered in this process"))
            }
            Err(source) => Err(DcmError::Lzms { file: file.to_owned(), source }),
        },
        DcmKind::Dch => Err(unsupported("a DCH manifest (a header without content)")),
        DcmKind::Dcx => Err(unsupported("a DCX manifest (undocumented variant)")),
    }
}

/// Bytes of a `DCD` manifest's header: the magic and two DWORDs whose meaning is not public.
pub const DCD_HEADER_BYTES: usize = 12;

/// Decodes the `DCD\x01` manifest `bytes` against `source`, the file its PA30 was made from (which
/// the manifest does not name, so the caller must). Like every manifest delta it has no target
/// hash: the caller checks the result by parsing it.
pub fn decode_dcd(bytes: &[u8], source: &[u8], file: &str) -> Result<Vec<u8>, DcmError> {
    if DcmKind::detect(bytes) != Some(DcmKind::Dcd) {
        return Err(DcmError::Unsupported { file: file.to_owned(), what: "a file that is not a DCD manifest".into() });
    }
    let delta = bytes.get(DCD_HEADER_BYTES..).ok_or_else(|| DcmError::Delta {
        file: file.to_owned(),
        kind: "DCD",
        source: DeltaError::malformed(format!(
            "{} bytes, shorter than the {DCD_HEADER_BYTES}-byte header",
            bytes.len()
        )),
    })?;
    apply_pa30(source, delta, &limits()).map_err(|source| DcmError::Delta {
        file: file.to_owned(),
        kind: "DCD",
        source,
    })
}

/// The DCM base manifest held by a servicing-stack `wcp.dll` (resource type 0x266, id 1).
pub fn base_from_wcp_dll<'a>(wcp_dll: &'a [u8], file: &str) -> Result<&'a [u8], DcmError> {
    Ok(find_resource(wcp_dll, WCP_BASE_RESOURCE_TYPE, WCP_BASE_RESOURCE_ID, file)?)
}
