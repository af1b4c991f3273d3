//! The container layer: reading update packages as they are shipped — CBS cabs, MSUs (classic,
//! combined SSU+LCU, WIM-format) — as untrusted input.
//!
//! - [`Cabinet`] reads a Microsoft cabinet from any `Read + Seek`: members with name, size, folder
//!   and compression; one member streamed ([`Cabinet::open_member`]) or read whole; every member in
//!   one pass ([`Cabinet::for_each_member`]); a nested cab ([`Cabinet::open_nested`]).
//! - [`detect`] / [`detect_path`] tell a package's [`ContainerKind`] from its magic and members.
//! - [`Msu`] gives an MSU's inner cabs (SSU first), its `pkgProperties` and its unattend text.
//! - [`PackageSource`] is how the rest of `cbs` reads a package's files, implemented by
//!   [`Cabinet`], [`DirectorySource`] (an extracted folder) and [`WimSource`] (over the engine's
//!   [`WimContent`]).
//!
//! Safety: every name is checked ([`normalize_member_name`]); every size, count, ratio and nesting
//! depth is bounded by [`Limits`], before decoding where the cabinet declares it and again on the
//! bytes decoded; a corrupt or hostile file gives an [`Error`] naming the package and member,
//! never a panic. The cabinet format is in `shared/reference/cbs-format.md` §1 and MS-CAB.

mod cab;
mod directory;
mod error;
mod kind;
mod limits;
mod member_name;
mod msu;
mod source;
mod text;

pub use cab::{Cabinet, Compression, FolderInfo, MemberInfo, MemberReader, Spooled, SPOOL_IN_MEMORY_MAX};
pub use error::{Error, LimitKind, Result};
pub use kind::{
    classify_cabinet, classify_wim, detect, detect_path, sniff, ContainerKind, Magic, DEFENDER_REASON, HOTPATCH_REASON,
    NO_UPDATE_MUM_REASON,
};
pub use limits::{Limits, RATIO_SLACK_BYTES};
pub use member_name::{member_key, normalize_member_name, NameError};
pub use msu::{msu_member, Msu, MsuMember, PkgProperties, TEXT_MEMBER_MAX};
pub use source::{parse_each, DirectorySource, PackageSource, SourceEntry, WimContent, WimSource};
pub use text::decode_text;
