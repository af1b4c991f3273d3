//! Assembly identities (`<assemblyIdentity …/>`) and their four-part versions.
//!
//! An identity is the set of attributes that names a component, a deployment or a package in a
//! manifest. Only the attributes that take part in naming are modelled; the others (`buildType` is
//! kept because manifests carry it and a writer has to reproduce it) are plain strings.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// A version that could not be parsed as `a.b.c.d`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid version {text:?}: {reason}")]
pub struct ParseVersionError {
    /// The text that was given.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A four-part dotted version (`major.minor.build.revision`), each part 0..=65535.
///
/// The derived ordering compares the parts left to right, which is how CBS compares versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Version(pub [u16; 4]);

impl Version {
    /// Builds a version from its four parts.
    pub const fn new(major: u16, minor: u16, build: u16, revision: u16) -> Self {
        Version([major, minor, build, revision])
    }

    /// Parses `a.b.c.d`. Exactly four decimal parts are required: manifests always write all four,
    /// and accepting fewer would make `6.3` and `6.3.0.0` two spellings of one identity.
    pub fn parse(text: &str) -> Result<Self, ParseVersionError> {
        let fail = |reason| ParseVersionError { text: text.to_owned(), reason };
        let mut parts = [0u16; 4];
        let mut fields = text.split('.');
        for slot in &mut parts {
            let field = fields.next().ok_or_else(|| fail("expected four dot-separated parts"))?;
            if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
                return Err(fail("each part must be a decimal number"));
            }
            *slot = field.parse().map_err(|_| fail("a part is larger than 65535"))?;
        }
        if fields.next().is_some() {
            return Err(fail("expected four dot-separated parts"));
        }
        Ok(Version(parts))
    }

    /// The major part.
    pub fn major(&self) -> u16 {
        self.0[0]
    }

    /// The minor part.
    pub fn minor(&self) -> u16 {
        self.0[1]
    }

    /// The build part (third field).
    pub fn build(&self) -> u16 {
        self.0[2]
    }

    /// The revision part (fourth field).
    pub fn revision(&self) -> u16 {
        self.0[3]
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

/// The naming attributes of an `<assemblyIdentity>` element.
///
/// Values are kept as written in the manifest (case included); the derived names lower-case them
/// where Windows does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AssemblyIdentity {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: Option<Version>,
    /// `processorArchitecture` (`amd64`, `x86`, `wow64`, `msil`, …).
    pub processor_architecture: Option<String>,
    /// `language` (`neutral`, `en-US`, `*`, …).
    pub language: Option<String>,
    /// `publicKeyToken`.
    pub public_key_token: Option<String>,
    /// `buildType` (`release`); not part of any derived name.
    pub build_type: Option<String>,
    /// `versionScope` (`nonSxS`).
    pub version_scope: Option<String>,
    /// The `type` attribute (`win32`, `driverUpdate`, …).
    pub type_name: Option<String>,
}

impl AssemblyIdentity {
    /// An identity with only a name; fill the other fields directly or with the `with_*` helpers.
    pub fn new(name: impl Into<String>) -> Self {
        AssemblyIdentity { name: name.into(), ..Default::default() }
    }

    /// Sets the version.
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets `processorArchitecture`.
    pub fn with_arch(mut self, arch: impl Into<String>) -> Self {
        self.processor_architecture = Some(arch.into());
        self
    }

    /// Sets `language`.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets `publicKeyToken`.
    pub fn with_public_key_token(mut self, token: impl Into<String>) -> Self {
        self.public_key_token = Some(token.into());
        self
    }

    /// Sets `buildType`.
    pub fn with_build_type(mut self, build_type: impl Into<String>) -> Self {
        self.build_type = Some(build_type.into());
        self
    }

    /// Sets `versionScope`.
    pub fn with_version_scope(mut self, scope: impl Into<String>) -> Self {
        self.version_scope = Some(scope.into());
        self
    }

    /// Sets the `type` attribute.
    pub fn with_type(mut self, type_name: impl Into<String>) -> Self {
        self.type_name = Some(type_name.into());
        self
    }

    /// True when the language is absent, `neutral`, `none` or `*` (compared case-insensitively).
    ///
    /// `*` is what language-independent Win32 assemblies (common controls) write; their WinSxS names
    /// show `none`, and `*` could not appear in a Windows file name anyway.
    pub fn is_neutral(&self) -> bool {
        match self.language.as_deref() {
            None => true,
            Some(l) => l.is_empty() || l == "*" || l.eq_ignore_ascii_case("neutral") || l.eq_ignore_ascii_case("none"),
        }
    }

    /// The culture as it appears in key-form names: `none` for a neutral or absent language (see
    /// [`AssemblyIdentity::is_neutral`]),
    /// otherwise the language in lower case (`en-us`).
    pub fn culture(&self) -> String {
        if self.is_neutral() {
            "none".to_owned()
        } else {
            self.language.as_deref().unwrap_or_default().to_lowercase()
        }
    }

    /// The AppId form stored in registry `identity`/`appid` values, e.g.
    /// `Microsoft-Windows-Dedup-Service, Culture=neutral, Version=10.0.20348.2849,
    /// PublicKeyToken=31bf3856ad364e35, ProcessorArchitecture=amd64, versionScope=NonSxS`.
    ///
    /// Absent attributes are left out. The attributes follow the key-form hash order; `Type=` sits
    /// between culture and version (inferred: the documented sample has no type). `versionScope`
    /// gets an upper-case first letter because that is how the sample spells `nonSxS`.
    pub fn appid_string(&self) -> String {
        let mut out = self.name.clone();
        let culture = if self.is_neutral() { "neutral" } else { self.language.as_deref().unwrap_or_default() };
        out.push_str(", Culture=");
        out.push_str(culture);
        if let Some(t) = self.type_name.as_deref().filter(|t| !t.is_empty()) {
            out.push_str(", Type=");
            out.push_str(t);
        }
        if let Some(v) = &self.version {
            out.push_str(&format!(", Version={v}"));
        }
        if let Some(pkt) = self.public_key_token.as_deref().filter(|p| !p.is_empty()) {
            out.push_str(", PublicKeyToken=");
            out.push_str(pkt);
        }
        if let Some(arch) = self.processor_architecture.as_deref().filter(|a| !a.is_empty()) {
            out.push_str(", ProcessorArchitecture=");
            out.push_str(arch);
        }
        if let Some(scope) = self.version_scope.as_deref().filter(|s| !s.is_empty()) {
            out.push_str(", versionScope=");
            let mut chars = scope.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
        out
    }

    /// The WinSxS key form; see [`crate::keyform::key_form`].
    pub fn key_form(&self) -> String {
        crate::keyform::key_form(self)
    }

    /// The version-less ("winners") key form; see [`crate::keyform::versionless_key_form`].
    pub fn versionless_key_form(&self) -> String {
        crate::keyform::versionless_key_form(self)
    }

    /// The deployment short form; see [`crate::keyform::short_key_form`].
    pub fn short_key_form(&self) -> String {
        crate::keyform::short_key_form(self)
    }
}

/// Longest `name` accepted: `name~token~arch~culture~version.mum` must stay a valid file name (255
/// bytes) with room for the other fields.
pub const MAX_NAME_LEN: usize = 160;

/// Longest value accepted for the other naming attributes (culture, arch, token, type, scope).
pub const MAX_FIELD_LEN: usize = 40;

/// Windows device names, refused as a whole value or before its first dot (`CON`, `nul.txt`).
const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Why `value` cannot be the identity attribute `attribute` (`name`, `language`, `processorArchitecture`,
/// `publicKeyToken`, `type`, `versionScope`, `buildType`), or `None` when it can.
///
/// Identity values become parts of file names (`<name>~<token>~<arch>~<culture>~<version>.mum`, the
/// WinSxS key forms), so a value that could leave its folder or name a device is refused when the
/// manifest is parsed: separators (`/`, `\`, and `~` which separates package identity strings), `..`, a drive (`C:`), characters
/// Windows forbids in file names, control characters, whitespace, a leading or trailing dot, device
/// names, and over-long values. `*` is accepted only as the whole `language` (language-independent
/// Win32 assemblies write it).
pub fn unsafe_name_part(attribute: &str, value: &str) -> Option<&'static str> {
    let max = if attribute == "name" { MAX_NAME_LEN } else { MAX_FIELD_LEN };
    if value.len() > max {
        return Some(if attribute == "name" {
            "longer than 160 bytes, too long to name a file"
        } else {
            "longer than 40 bytes, too long to name a file"
        });
    }
    if attribute == "language" && value == "*" {
        return None;
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Some(if c == '\0' { "contains a NUL character" } else { "contains a control character" });
    }
    if value.chars().any(|c| matches!(c, '/' | '\\')) {
        return Some("contains a path separator");
    }
    if value.contains("..") {
        return Some("contains '..'");
    }
    if value.contains(':') {
        return Some("contains ':' (a drive or stream name)");
    }
    if value.chars().any(|c| matches!(c, '*' | '?' | '"' | '<' | '>' | '|')) {
        return Some("contains a character Windows forbids in file names");
    }
    if value.contains('~') {
        return Some("contains '~', the separator of package identity strings");
    }
    if value.chars().any(char::is_whitespace) {
        return Some("contains whitespace");
    }
    if value.starts_with('.') || value.ends_with('.') {
        return Some("starts or ends with a dot");
    }
    let stem = value.split('.').next().unwrap_or_default();
    if DEVICE_NAMES.iter().any(|d| d.eq_ignore_ascii_case(stem)) {
        return Some("is a Windows device name");
    }
    None
}

/// The attributes of an identity that take part in file names, with their values, for validation.
impl AssemblyIdentity {
    /// The first naming attribute whose value [`unsafe_name_part`] refuses, as
    /// `(attribute, value, reason)`.
    pub fn unsafe_field(&self) -> Option<(&'static str, &str, &'static str)> {
        let fields = [
            ("name", Some(self.name.as_str())),
            ("language", self.language.as_deref()),
            ("processorArchitecture", self.processor_architecture.as_deref()),
            ("publicKeyToken", self.public_key_token.as_deref()),
            ("type", self.type_name.as_deref()),
            ("versionScope", self.version_scope.as_deref()),
            ("buildType", self.build_type.as_deref()),
        ];
        fields.into_iter().find_map(|(attr, value)| {
            let value = value?;
            unsafe_name_part(attr, value).map(|reason| (attr, value, reason))
        })
    }
}
