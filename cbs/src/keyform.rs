//! WinSxS key-form names (`arch_name_pkt_version_culture_hash16`) and their 64-bit pseudo-key.
//!
//! Written from the prose description in `cbs-format.md` §3.2. The key form names the payload folder
//! `WinSxS\<key form>\`, the manifest `WinSxS\Manifests\<key form>.manifest` and the
//! `DerivedData\Components` key in the COMPONENTS hive, so it has to match Windows bit for bit.

use crate::identity::AssemblyIdentity;

/// Multiplier shared by the per-attribute step and the attribute-name weighting.
const ATTR_MULTIPLIER: u64 = 0x1_FFFF_FFF7;
/// Per-character multiplier of each 32-bit accumulator.
const CHAR_MULTIPLIER: u32 = 0x1003F;
/// Weights that fold the four accumulators into one 64-bit value (g0, g1, g2; g3 has weight 1).
const FOLD_WEIGHTS: [u64; 3] = [0x1E5_FFFF_FD27, 0xFFFF_FFDC_0000_0051, 0x1_FFFF_FFF7];

/// Longest name kept whole in the long key forms; longer ones keep 19 + `..` + 19 characters.
const LONG_NAME_LIMIT: usize = 40;
/// Longest name kept whole in the deployment short form; longer ones keep 11 + `..` + 11.
const SHORT_NAME_LIMIT: usize = 24;
/// Longest culture kept whole; longer ones keep 3 + `..` + 3 (`sr-..-rs`).
const CULTURE_LIMIT: usize = 8;

/// The string hash H(s) of the key-form algorithm.
///
/// The string is lower-cased first. Character codes are UTF-16 code units because Windows hashes its
/// native wide strings; for the ASCII identities seen in practice this is the same as the bytes.
pub fn string_hash(s: &str) -> u64 {
    let mut acc = [0u32; 4];
    for (i, unit) in s.to_lowercase().encode_utf16().enumerate() {
        let g = &mut acc[i % 4];
        *g = g.wrapping_mul(CHAR_MULTIPLIER).wrapping_add(u32::from(unit));
    }
    u64::from(acc[0])
        .wrapping_mul(FOLD_WEIGHTS[0])
        .wrapping_add(u64::from(acc[1]).wrapping_mul(FOLD_WEIGHTS[1]))
        .wrapping_add(u64::from(acc[2]).wrapping_mul(FOLD_WEIGHTS[2]))
        .wrapping_add(u64::from(acc[3]))
}

/// The 64-bit pseudo-key of an identity, printed as the last field of the key form.
///
/// Attributes are folded in a fixed order; an absent attribute, or one whose value is `none`
/// (a neutral culture becomes `none`), contributes nothing. `include_version = false` gives the
/// hash of the version-less ("winners") form.
pub fn identity_hash(id: &AssemblyIdentity, include_version: bool) -> u64 {
    let culture = id.culture();
    let version = id.version.map(|v| v.to_string()).filter(|_| include_version);
    let attributes: [(&str, Option<&str>); 7] = [
        ("name", Some(id.name.as_str())),
        ("culture", Some(culture.as_str())),
        ("type", id.type_name.as_deref()),
        ("version", version.as_deref()),
        ("publicKeyToken", id.public_key_token.as_deref()),
        ("processorArchitecture", id.processor_architecture.as_deref()),
        ("versionScope", id.version_scope.as_deref()),
    ];
    let mut key = 0u64;
    for (attribute, value) in attributes {
        let Some(value) = value.filter(|v| !v.is_empty() && !v.eq_ignore_ascii_case("none")) else {
            continue;
        };
        let term = string_hash(value).wrapping_add(ATTR_MULTIPLIER.wrapping_mul(string_hash(attribute)));
        key = key.wrapping_mul(ATTR_MULTIPLIER).wrapping_add(term);
    }
    key
}

/// The full key form: `<arch>_<name>_<publicKeyToken>_<version>_<culture>_<hash16>`, e.g.
/// `amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.19041.1_none_bf506ecc66a800df`.
pub fn key_form(id: &AssemblyIdentity) -> String {
    format!(
        "{}_{}_{}_{}_{}_{:016x}",
        field(id.processor_architecture.as_deref()),
        display_name(&id.name, LONG_NAME_LIMIT),
        field(id.public_key_token.as_deref()),
        id.version.map(|v| v.to_string()).unwrap_or_else(|| "none".to_owned()),
        display_culture(id),
        identity_hash(id, true),
    )
}

/// The version-less ("winners") form: the version is dropped from both the name and the hash, e.g.
/// `amd64_microsoft-windows-servicingstack_31bf3856ad364e35_none_4a207b402ad93a1c`.
pub fn versionless_key_form(id: &AssemblyIdentity) -> String {
    format!(
        "{}_{}_{}_{}_{:016x}",
        field(id.processor_architecture.as_deref()),
        display_name(&id.name, LONG_NAME_LIMIT),
        field(id.public_key_token.as_deref()),
        display_culture(id),
        identity_hash(id, false),
    )
}

/// The deployment short form used for `CanonicalData\Deployments` key names: no architecture, no
/// culture, the name cut to 24 characters, e.g.
/// `microsoft-w..-deployment_31bf3856ad364e35_10.0.20348.2849_f8f9ef63a3376fad`.
/// The hash is the full identity hash, same as in [`key_form`].
pub fn short_key_form(id: &AssemblyIdentity) -> String {
    format!(
        "{}_{}_{}_{:016x}",
        display_name(&id.name, SHORT_NAME_LIMIT),
        field(id.public_key_token.as_deref()),
        id.version.map(|v| v.to_string()).unwrap_or_else(|| "none".to_owned()),
        identity_hash(id, true),
    )
}

/// A plain field of the name: lower case, `none` when absent.
fn field(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_lowercase(),
        _ => "none".to_owned(),
    }
}

/// The name as shown in a key form: lower case, spaces and parentheses removed, then shortened to
/// `limit` characters by keeping both ends around `..`.
fn display_name(name: &str, limit: usize) -> String {
    let cleaned: String = name.to_lowercase().chars().filter(|c| !matches!(c, ' ' | '(' | ')')).collect();
    // The kept ends are (limit - 2) / 2 characters each: 19 for 40, 11 for 24.
    abbreviate(&cleaned, limit, (limit - 2) / 2)
}

/// The culture as shown in a key form: `none`, or the lower-case language cut to 3 + `..` + 3.
fn display_culture(id: &AssemblyIdentity) -> String {
    abbreviate(&id.culture(), CULTURE_LIMIT, 3)
}

/// Keeps `s` when it has at most `limit` characters, else its first and last `keep` characters
/// joined by `..`.
fn abbreviate(s: &str, limit: usize, keep: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= limit {
        return s.to_owned();
    }
    let head: String = chars[..keep].iter().collect();
    let tail: String = chars[chars.len() - keep..].iter().collect();
    format!("{head}..{tail}")
}
