//! Component registry data (`<registryKeys>`, `modern-lcu.md` §7–§8): where each key of a manifest
//! lands in an offline image's hives, and the exact data each value stores.
//!
//! Root mapping (documented choices where public material is silent):
//!
//! | manifest key | hive file | below |
//! |---|---|---|
//! | `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\…` | `config\SYSTEM` | the control set `Select\Current` names |
//! | `HKEY_LOCAL_MACHINE\SYSTEM\…` | `config\SYSTEM` | the root |
//! | `HKEY_LOCAL_MACHINE\SOFTWARE\…` | `config\SOFTWARE` | the root (`WOW6432Node\…` for wow64) |
//! | `HKEY_CLASSES_ROOT\…` | `config\SOFTWARE` | `Classes\…` (Microsoft: HKCR writes land in HKLM\Software\Classes) |
//! | `HKEY_CURRENT_USER\…` | `Users\Default\NTUSER.DAT` | the root |
//! | `HKEY_USERS\.DEFAULT\…` | `config\DEFAULT` | the root |
//!
//! `HKEY_CURRENT_USER` goes to the default user profile's hive because that is the hive every user
//! created on the deployed system starts from (Windows copies `Users\Default` into each new profile);
//! `config\DEFAULT` is the hive `HKEY_USERS\.DEFAULT` is, the profile of LocalSystem and the logon
//! screen, which no interactive user gets. Every other root (`SAM`, `SECURITY`, `HARDWARE`, other
//! `HKEY_USERS` SIDs, `HKEY_CURRENT_CONFIG`) is refused: it does not exist offline or is rebuilt at boot.
//!
//! Wow64 components (x86 on amd64) write through the 32-bit view, as Wine does and as the WOW64
//! registry redirector of Windows 7 and later lays it out: `SOFTWARE\…` goes to `SOFTWARE\WOW6432Node\…`
//! except for the keys Microsoft lists as shared, and below `Classes` only `CLSID`, `DirectShow`,
//! `Interface`, `Media Type` and `MediaFoundation` are redirected (to `Classes\WOW6432Node\…`).

use std::fmt;

use crate::manifest::RegistryValue;
use crate::runtime;

/// The hive files component registry data is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetHive {
    /// `Windows\System32\config\SYSTEM`.
    System,
    /// `Windows\System32\config\SOFTWARE`.
    Software,
    /// `Users\Default\NTUSER.DAT`, the default user profile (`HKEY_CURRENT_USER`).
    DefaultUser,
    /// `Windows\System32\config\DEFAULT` (`HKEY_USERS\.DEFAULT`).
    Default,
}

impl TargetHive {
    /// Every hive, in the order they are opened and committed.
    pub const ALL: [TargetHive; 4] =
        [TargetHive::System, TargetHive::Software, TargetHive::DefaultUser, TargetHive::Default];

    /// The hive's file in the image, `/`-separated from the image root.
    pub fn image_path(self) -> &'static str {
        match self {
            TargetHive::System => "/Windows/System32/config/SYSTEM",
            TargetHive::Software => "/Windows/System32/config/SOFTWARE",
            TargetHive::DefaultUser => "/Users/Default/NTUSER.DAT",
            TargetHive::Default => "/Windows/System32/config/DEFAULT",
        }
    }

    /// How the hive is named in listings and logs.
    pub fn label(self) -> &'static str {
        match self {
            TargetHive::System => "SYSTEM",
            TargetHive::Software => "SOFTWARE",
            TargetHive::DefaultUser => r"Users\Default\NTUSER.DAT",
            TargetHive::Default => "DEFAULT",
        }
    }
}

/// Where a manifest key lands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MappedKey {
    /// The hive file.
    pub hive: TargetHive,
    /// Whether `path` is below the current control set of the SYSTEM hive (resolved from
    /// `Select\Current` when applied) rather than below the hive root.
    pub control_set: bool,
    /// The key path, `\`-separated, without leading or trailing separators (empty: the base itself).
    pub path: String,
}

impl fmt::Display for MappedKey {
    /// `SYSTEM\CurrentControlSet\Control\…`, `SOFTWARE\Classes\…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.hive.label())?;
        if self.control_set {
            f.write_str(r"\CurrentControlSet")?;
        }
        if !self.path.is_empty() {
            write!(f, r"\{}", self.path)?;
        }
        Ok(())
    }
}

/// Longest key name component Windows accepts, in UTF-16 code units.
const MAX_KEY_COMPONENT: usize = 255;
/// Deepest key path accepted (Windows allows 512 levels).
const MAX_KEY_DEPTH: usize = 512;

/// Which registry view a component writes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The image's own architecture.
    Native,
    /// The 32-bit view of a 64-bit image.
    Wow64,
}

/// Maps a manifest `keyName` onto the image's hives; `Err` says why the key cannot be written.
pub fn map_key(key_name: &str, view: View) -> Result<MappedKey, String> {
    let trimmed = key_name.trim().trim_end_matches('\\');
    let parts: Vec<&str> = trimmed.split('\\').collect();
    if parts.len() > MAX_KEY_DEPTH {
        return Err(format!("the key is nested deeper than {MAX_KEY_DEPTH} levels"));
    }
    for part in &parts {
        if part.is_empty() {
            return Err("the key name has an empty component".into());
        }
        if part.contains('\0') {
            return Err("the key name contains a NUL character".into());
        }
        if part.encode_utf16().count() > MAX_KEY_COMPONENT {
            return Err(format!("a key name component is longer than {MAX_KEY_COMPONENT} characters"));
        }
    }
    let root = parts[0].to_ascii_uppercase();
    let rest = &parts[1..];
    let is = |i: usize, name: &str| rest.get(i).is_some_and(|p| p.eq_ignore_ascii_case(name));
    let join = |from: usize| rest.get(from..).map(|r| r.join("\\")).unwrap_or_default();
    let key = |hive, control_set, path: String| Ok(MappedKey { hive, control_set, path });
    match root.as_str() {
        "HKEY_LOCAL_MACHINE" | "HKLM" => {
            if is(0, "SYSTEM") {
                if is(1, "CurrentControlSet") {
                    key(TargetHive::System, true, join(2))
                } else {
                    key(TargetHive::System, false, join(1))
                }
            } else if is(0, "SOFTWARE") {
                key(TargetHive::Software, false, software_view(&rest[1..], view))
            } else {
                match rest.first() {
                    Some(hive) => Err(format!(
                        "HKEY_LOCAL_MACHINE\\{hive} is not a hive servicing writes offline (only SYSTEM and SOFTWARE)"
                    )),
                    None => Err("values directly under HKEY_LOCAL_MACHINE cannot be stored".into()),
                }
            }
        }
        "HKEY_CLASSES_ROOT" | "HKCR" => {
            key(TargetHive::Software, false, prefixed("Classes", &classes_view(rest, view)))
        }
        "HKEY_CURRENT_USER" | "HKCU" => key(TargetHive::DefaultUser, false, user_view(rest, view)),
        "HKEY_USERS" | "HKU" => {
            if is(0, ".DEFAULT") {
                key(TargetHive::Default, false, user_view(&rest[1..], view))
            } else {
                Err(format!(
                    "HKEY_USERS\\{} is not a profile of an offline image (only .DEFAULT is)",
                    rest.first().copied().unwrap_or("")
                ))
            }
        }
        "HKEY_CURRENT_CONFIG" | "HKCC" => {
            Err("HKEY_CURRENT_CONFIG is built at boot from the hardware profile; it cannot be written offline".into())
        }
        _ => Err(format!("unknown registry root {:?}", parts[0])),
    }
}

fn prefixed(first: &str, rest: &str) -> String {
    if rest.is_empty() {
        first.to_owned()
    } else {
        format!("{first}\\{rest}")
    }
}

/// Keys below `Classes` that the WOW64 redirector keeps apart for 32-bit code (Windows 7 and later).
const REDIRECTED_CLASSES: [&str; 5] = ["CLSID", "DirectShow", "Interface", "Media Type", "MediaFoundation"];

/// Keys below `SOFTWARE` that 32-bit and 64-bit code share (Microsoft, "Registry Keys Affected by
/// WOW64", Windows 7 and later). `Classes` has its own rule.
const SHARED_SOFTWARE: [&str; 22] = [
    "Clients",
    r"Microsoft\COM3",
    r"Microsoft\Cryptography\Calais\Current",
    r"Microsoft\Cryptography\Calais\Readers",
    r"Microsoft\Cryptography\Services",
    r"Microsoft\CTF\SystemShared",
    r"Microsoft\CTF\TIP",
    r"Microsoft\DFS",
    r"Microsoft\Driver Signing",
    r"Microsoft\EnterpriseCertificates",
    r"Microsoft\EventSystem",
    r"Microsoft\MSMQ",
    r"Microsoft\Non-Driver Signing",
    r"Microsoft\Notepad\DefaultFonts",
    r"Microsoft\OLE",
    r"Microsoft\RAS",
    r"Microsoft\RPC",
    r"Microsoft\SOFTWARE\Microsoft\Shared Tools\MSInfo",
    r"Microsoft\SystemCertificates",
    r"Microsoft\TermServLicensing",
    r"Microsoft\TransactionServer",
    r"Microsoft\Windows\CurrentVersion\App Paths",
];

fn starts_with_ci(parts: &[&str], prefix: &str) -> bool {
    let want: Vec<&str> = prefix.split('\\').collect();
    parts.len() >= want.len() && parts.iter().zip(&want).all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// The path below `SOFTWARE` a key of `parts` lands at in `view`.
fn software_view(parts: &[&str], view: View) -> String {
    if parts.first().is_some_and(|p| p.eq_ignore_ascii_case("Classes")) {
        return prefixed("Classes", &classes_view(&parts[1..], view));
    }
    let joined = parts.join("\\");
    let already = parts.first().is_some_and(|p| p.eq_ignore_ascii_case("WOW6432Node"));
    if view == View::Native || already || SHARED_SOFTWARE.iter().any(|s| starts_with_ci(parts, s)) {
        return joined;
    }
    prefixed("WOW6432Node", &joined)
}

/// The path below `Classes` a key of `parts` lands at in `view`.
fn classes_view(parts: &[&str], view: View) -> String {
    let joined = parts.join("\\");
    let redirected = parts.first().is_some_and(|p| REDIRECTED_CLASSES.iter().any(|r| r.eq_ignore_ascii_case(p)));
    if view == View::Wow64 && redirected {
        prefixed("WOW6432Node", &joined)
    } else {
        joined
    }
}

/// The path in a user hive: `Software\Classes\…` follows the classes rule, everything else in a user
/// hive is shared between the views.
fn user_view(parts: &[&str], view: View) -> String {
    if parts.len() >= 2 && parts[0].eq_ignore_ascii_case("Software") && parts[1].eq_ignore_ascii_case("Classes") {
        return format!("{}\\{}", parts[..2].join("\\"), classes_view(&parts[2..], view))
            .trim_end_matches('\\')
            .to_owned();
    }
    parts.join("\\")
}

/// The data of a value, decoded from its manifest text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", content = "data")]
pub enum RegistryData {
    /// `REG_NONE` (data given as hex, usually none).
    #[serde(rename = "REG_NONE")]
    None(Vec<u8>),
    /// `REG_SZ`.
    #[serde(rename = "REG_SZ")]
    Sz(String),
    /// `REG_EXPAND_SZ`, stored as written (`%SystemRoot%` stays).
    #[serde(rename = "REG_EXPAND_SZ")]
    ExpandSz(String),
    /// `REG_BINARY`.
    #[serde(rename = "REG_BINARY")]
    Binary(Vec<u8>),
    /// `REG_DWORD`.
    #[serde(rename = "REG_DWORD")]
    Dword(u32),
    /// `REG_QWORD`.
    #[serde(rename = "REG_QWORD")]
    Qword(u64),
    /// `REG_MULTI_SZ`.
    #[serde(rename = "REG_MULTI_SZ")]
    MultiSz(Vec<String>),
}

impl RegistryData {
    /// The `REG_*` name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            RegistryData::None(_) => "REG_NONE",
            RegistryData::Sz(_) => "REG_SZ",
            RegistryData::ExpandSz(_) => "REG_EXPAND_SZ",
            RegistryData::Binary(_) => "REG_BINARY",
            RegistryData::Dword(_) => "REG_DWORD",
            RegistryData::Qword(_) => "REG_QWORD",
            RegistryData::MultiSz(_) => "REG_MULTI_SZ",
        }
    }
}

impl fmt::Display for RegistryData {
    /// `REG_DWORD 0x00000009`, `REG_SZ "text"`, `REG_BINARY 0102…`, `REG_MULTI_SZ ["a", "b"]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match self {
            RegistryData::None(b) | RegistryData::Binary(b) => write!(f, "{} {}", self.type_name(), hex(b)),
            // Strings as written (registry text is full of backslashes; escaping them misleads).
            RegistryData::Sz(s) | RegistryData::ExpandSz(s) => write!(f, "{} \"{s}\"", self.type_name()),
            RegistryData::Dword(v) => write!(f, "REG_DWORD {v:#010x}"),
            RegistryData::Qword(v) => write!(f, "REG_QWORD {v:#018x}"),
            RegistryData::MultiSz(l) => {
                let items: Vec<String> = l.iter().map(|s| format!("\"{s}\"")).collect();
                write!(f, "REG_MULTI_SZ [{}]", items.join(", "))
            }
        }
    }
}

/// Largest value data decoded from a manifest. Real values are a few hundred bytes at most; the
/// hive layer has its own, smaller limit for what one cell holds.
pub const MAX_VALUE_DATA: usize = 1 << 20;

/// How values are decoded: the component's view and the deployed system's Windows folder, for
/// `$(runtime.*)` variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueContext<'a> {
    /// Whether the component is a wow64 component.
    pub wow64: bool,
    /// The deployed system's Windows folder (`C:\Windows`).
    pub windir: &'a str,
}

/// Decodes a manifest value's text as its `valueType` says (`modern-lcu.md` §8 item 46); `Err` says
/// what is wrong with it.
pub fn decode_value(value: &RegistryValue, ctx: &ValueContext<'_>) -> Result<RegistryData, String> {
    let kind = value.value_type.as_deref().ok_or("the value has no valueType")?;
    let text = value.value.as_deref().unwrap_or("");
    if text.len() > 2 * MAX_VALUE_DATA + 2 {
        return Err(format!("the value text is {} bytes, over the limit of {}", text.len(), 2 * MAX_VALUE_DATA));
    }
    let expand = |s: &str| runtime::expand(s, ctx.wow64, ctx.windir).map_err(|e| e.to_string());
    Ok(match kind.trim().to_ascii_uppercase().as_str() {
        "REG_SZ" => RegistryData::Sz(expand(text)?),
        "REG_EXPAND_SZ" => RegistryData::ExpandSz(expand(text)?),
        "REG_DWORD" => RegistryData::Dword(parse_hex_number(text, 8)? as u32),
        "REG_QWORD" => RegistryData::Qword(parse_hex_number(text, 16)?),
        "REG_BINARY" => RegistryData::Binary(parse_hex_bytes(text)?),
        "REG_NONE" => RegistryData::None(parse_hex_bytes(text)?),
        "REG_MULTI_SZ" => {
            RegistryData::MultiSz(parse_multi_sz(text)?.iter().map(|s| expand(s)).collect::<Result<_, _>>()?)
        }
        other => return Err(format!("unsupported valueType {other:?}")),
    })
}

/// `0x`-prefixed hex of at most `digits` digits.
fn parse_hex_number(text: &str, digits: usize) -> Result<u64, String> {
    let t = text.trim();
    let hex =
        t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).ok_or_else(|| format!("{t:?} is not 0x-prefixed hex"))?;
    if hex.is_empty() || hex.len() > digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{t:?} is not a number of at most {digits} hex digits"));
    }
    u64::from_str_radix(hex, 16).map_err(|e| format!("{t:?}: {e}"))
}

/// Contiguous hex pairs.
fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if !t.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", t.len()));
    }
    if t.len() / 2 > MAX_VALUE_DATA {
        return Err(format!("{} bytes of data, over the limit of {MAX_VALUE_DATA}", t.len() / 2));
    }
    t.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).unwrap_or("??");
            u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} is not a hex byte"))
        })
        .collect()
}

/// Comma-separated double-quoted strings: `"a","b"`. The empty text is the empty list.
fn parse_multi_sz(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('"').ok_or_else(|| format!("expected a quoted string at {:?}", clip(rest)))?;
        let end = inner.find('"').ok_or_else(|| format!("unterminated quoted string at {:?}", clip(rest)))?;
        let item = &inner[..end];
        if item.is_empty() {
            return Err("an empty string in a REG_MULTI_SZ list (it would end the list)".into());
        }
        out.push(item.to_owned());
        rest = inner[end + 1..].trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
            if rest.is_empty() {
                return Err("the list ends with a comma".into());
            }
        } else if !rest.is_empty() {
            return Err(format!("expected a comma at {:?}", clip(rest)));
        }
    }
    Ok(out)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Whether `operationHint` asks to add to an existing `REG_MULTI_SZ` rather than replace it.
pub fn is_append(value: &RegistryValue) -> bool {
    value.operation_hint.as_deref().is_some_and(|h| h.eq_ignore_ascii_case("append"))
}

/// `existing` with every entry of `add` it lacks (compared case-insensitively) appended, in order.
pub fn append_multi_sz(existing: &[String], add: &[String]) -> Vec<String> {
    let mut out = existing.to_vec();
    for item in add {
        if !out.iter().any(|e| e.to_lowercase() == item.to_lowercase()) {
            out.push(item.clone());
        }
    }
    out
}

/// One value of a component as `package info --registry` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryEntry {
    /// `keyName` as the manifest writes it.
    pub key: String,
    /// Value name (empty: the default value).
    pub name: String,
    /// `valueType` as written.
    pub value_type: Option<String>,
    /// `value` as written.
    pub value: Option<String>,
    /// `operationHint`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_hint: Option<String>,
    /// Where it lands (`SOFTWARE\Classes\…`), when the key maps.
    pub target: Option<String>,
    /// The decoded data, when the key maps and the value decodes.
    pub data: Option<RegistryData>,
    /// Why the value cannot be written, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The view a component of `component_arch` writes through on an image of `image_arch`.
pub fn view_for(component_arch: &str, image_arch: &str) -> View {
    if runtime::is_wow64(component_arch, image_arch) {
        View::Wow64
    } else {
        View::Native
    }
}

/// Every registry value of `manifest`, mapped and decoded for an image of `image_arch` whose Windows
/// folder is `windir`.
pub fn entries(manifest: &crate::manifest::ComponentManifest, image_arch: &str, windir: &str) -> Vec<RegistryEntry> {
    let arch = manifest.identity.processor_architecture.as_deref().unwrap_or("neutral");
    let view = view_for(arch, image_arch);
    let ctx = ValueContext { wow64: view == View::Wow64, windir };
    let mut out = Vec::with_capacity(manifest.registry_value_count());
    for key in &manifest.registry_keys {
        let mapped = map_key(&key.key_name, view);
        for value in &key.values {
            let (target, data, error) = match &mapped {
                Ok(m) => match decode_value(value, &ctx) {
                    Ok(d) => (Some(m.to_string()), Some(d), None),
                    Err(e) => (Some(m.to_string()), None, Some(e)),
                },
                Err(e) => (None, None, Some(e.clone())),
            };
            out.push(RegistryEntry {
                key: key.key_name.clone(),
                name: value.name.clone(),
                value_type: value.value_type.clone(),
                value: value.value.clone(),
                operation_hint: value.operation_hint.clone(),
                target,
                data,
                error,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(kind: &str, text: &str) -> RegistryValue {
        RegistryValue { value_type: Some(kind.into()), value: Some(text.into()), ..Default::default() }
    }

    const CTX: ValueContext<'static> = ValueContext { wow64: false, windir: runtime::DEFAULT_WINDIR };

    #[test]
    fn roots_map_onto_hives() {
        let m = map_key(r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\MUI\CallbackDlls\NETCFGX\", View::Native)
            .unwrap();
        assert_eq!(
            (m.hive, m.control_set, m.path.as_str()),
            (TargetHive::System, true, r"Control\MUI\CallbackDlls\NETCFGX")
        );
        assert_eq!(m.to_string(), r"SYSTEM\CurrentControlSet\Control\MUI\CallbackDlls\NETCFGX");
        let m = map_key(r"hkey_local_machine\system\ControlSet001\Services", View::Native).unwrap();
        assert_eq!((m.hive, m.control_set, m.path.as_str()), (TargetHive::System, false, r"ControlSet001\Services"));
        let m = map_key(r"HKEY_CLASSES_ROOT\INTERFACE\{x}", View::Native).unwrap();
        assert_eq!(m.to_string(), r"SOFTWARE\Classes\INTERFACE\{x}");
        let m = map_key(r"HKEY_CURRENT_USER\Software\A", View::Native).unwrap();
        assert_eq!(m.to_string(), r"Users\Default\NTUSER.DAT\Software\A");
        let m = map_key(r"HKEY_USERS\.DEFAULT\Control Panel", View::Native).unwrap();
        assert_eq!(m.to_string(), r"DEFAULT\Control Panel");
        for bad in [
            r"HKEY_LOCAL_MACHINE\SAM\x",
            r"HKEY_LOCAL_MACHINE\HARDWARE\x",
            r"HKEY_USERS\S-1-5-21-1\x",
            r"HKEY_CURRENT_CONFIG\x",
            r"HKEY_BOGUS\x",
            r"HKEY_LOCAL_MACHINE\SOFTWARE\\x",
            "HKEY_LOCAL_MACHINE",
        ] {
            assert!(map_key(bad, View::Native).is_err(), "{bad}");
        }
    }

    #[test]
    fn wow64_components_write_the_32_bit_view() {
        let w = |k: &str| map_key(k, View::Wow64).unwrap().to_string();
        assert_eq!(w(r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Foo"), r"SOFTWARE\WOW6432Node\Microsoft\Foo");
        assert_eq!(w(r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\RPC\x"), r"SOFTWARE\Microsoft\RPC\x");
        assert_eq!(w(r"HKEY_CLASSES_ROOT\CLSID\{a}"), r"SOFTWARE\Classes\WOW6432Node\CLSID\{a}");
        assert_eq!(w(r"HKEY_CLASSES_ROOT\AppID\{a}"), r"SOFTWARE\Classes\AppID\{a}");
        assert_eq!(
            w(r"HKEY_LOCAL_MACHINE\SOFTWARE\Classes\Interface\{a}"),
            r"SOFTWARE\Classes\WOW6432Node\Interface\{a}"
        );
        assert_eq!(
            w(r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\x"),
            r"SYSTEM\CurrentControlSet\Services\x"
        );
        assert_eq!(
            w(r"HKEY_CURRENT_USER\Software\Classes\CLSID\{a}"),
            r"Users\Default\NTUSER.DAT\Software\Classes\WOW6432Node\CLSID\{a}"
        );
    }

    #[test]
    fn values_decode_by_type() {
        assert_eq!(decode_value(&value("REG_DWORD", "0x00000009"), &CTX), Ok(RegistryData::Dword(9)));
        assert_eq!(decode_value(&value("REG_DWORD", "0xffffffff"), &CTX), Ok(RegistryData::Dword(u32::MAX)));
        assert_eq!(
            decode_value(&value("REG_QWORD", "0x0102030405060708"), &CTX),
            Ok(RegistryData::Qword(0x0102_0304_0506_0708))
        );
        assert_eq!(decode_value(&value("REG_BINARY", "01ff"), &CTX), Ok(RegistryData::Binary(vec![1, 0xff])));
        assert_eq!(decode_value(&value("REG_NONE", ""), &CTX), Ok(RegistryData::None(vec![])));
        assert_eq!(
            decode_value(&value("REG_MULTI_SZ", r#""NT AUTHORITY\System", "b""#), &CTX),
            Ok(RegistryData::MultiSz(vec![r"NT AUTHORITY\System".into(), "b".into()]))
        );
        assert_eq!(decode_value(&value("REG_MULTI_SZ", ""), &CTX), Ok(RegistryData::MultiSz(vec![])));
        assert_eq!(
            decode_value(&value("REG_EXPAND_SZ", r"%SystemRoot%\system32\netcfgx.dll"), &CTX),
            Ok(RegistryData::ExpandSz(r"%SystemRoot%\system32\netcfgx.dll".into()))
        );
        let wow = ValueContext { wow64: true, windir: runtime::DEFAULT_WINDIR };
        assert_eq!(
            decode_value(&value("REG_SZ", r"$(runtime.system32)\a.dll"), &wow),
            Ok(RegistryData::Sz(r"C:\Windows\SysWOW64\a.dll".into()))
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        for (kind, text) in [
            ("REG_DWORD", "9"),
            ("REG_DWORD", "0x"),
            ("REG_DWORD", "0x1ffffffff"),
            ("REG_DWORD", "0xZZ"),
            ("REG_QWORD", "0x10000000000000000"),
            ("REG_BINARY", "abc"),
            ("REG_BINARY", "zz"),
            ("REG_MULTI_SZ", "a,b"),
            ("REG_MULTI_SZ", r#""a",,"b""#),
            ("REG_MULTI_SZ", r#""a","#),
            ("REG_MULTI_SZ", r#""a"#),
            ("REG_MULTI_SZ", r#""a","""#),
            ("REG_SZ", "$(runtime.nosuch)"),
            ("REG_LINK", ""),
        ] {
            assert!(decode_value(&value(kind, text), &CTX).is_err(), "{kind} {text}");
        }
        assert!(decode_value(&RegistryValue::default(), &CTX).is_err());
    }

    #[test]
    fn append_adds_only_missing_entries() {
        let have = vec!["a".to_owned(), "B".to_owned()];
        assert_eq!(append_multi_sz(&have, &["b".into(), "c".into()]), vec!["a", "B", "c"]);
        assert_eq!(append_multi_sz(&append_multi_sz(&have, &["c".into()]), &["c".into()]), vec!["a", "B", "c"]);
    }
}
