//! `$(runtime.*)` variables of manifests (`modern-lcu.md` §8 item 47): the folders of the deployed
//! system they stand for, one table for file destinations and registry values alike.
//!
//! A wow64 component (an x86 component on a 64-bit image, or one of architecture `wow64`) sees the
//! 32-bit folders: `SysWOW64` for the system folder and the `(x86)` program folders, as the WOW64 file
//! system redirector shows them to 32-bit code.

/// What a runtime folder is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The Windows folder (`%windir%`, `C:\Windows` on a default install).
    Windir,
    /// The root of the system drive (`C:\`).
    SystemDrive,
}

/// A runtime folder: `rel` (backslash-separated, may be empty) below `base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeFolder {
    /// What the folder is relative to.
    pub base: Base,
    /// The path below the base, `\`-separated, without leading or trailing separators.
    pub rel: String,
}

impl RuntimeFolder {
    fn windir(rel: &str) -> Self {
        RuntimeFolder { base: Base::Windir, rel: rel.to_owned() }
    }

    fn drive(rel: &str) -> Self {
        RuntimeFolder { base: Base::SystemDrive, rel: rel.to_owned() }
    }

    /// The path inside the image (`/`-separated from the image root), for a Windows folder named
    /// `Windows` at the root as in every image.
    pub fn image_path(&self) -> String {
        let base = match self.base {
            Base::Windir => "Windows",
            Base::SystemDrive => "",
        };
        [base, &self.rel.replace('\\', "/")].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("/")
    }

    /// The absolute path the deployed system sees, given its Windows folder (`C:\Windows`). The system
    /// drive is the drive of `windir` (its first two characters when they are `X:`, else `C:`).
    pub fn deployed_path(&self, windir: &str) -> String {
        let windir = windir.trim_end_matches('\\');
        let base = match self.base {
            Base::Windir => windir.to_owned(),
            Base::SystemDrive => system_drive(windir).to_owned(),
        };
        if self.rel.is_empty() {
            // `$(runtime.bootDrive)` stands for `C:` alone; callers append `\…`.
            base
        } else {
            format!("{base}\\{}", self.rel)
        }
    }
}

/// The Windows folder of a default install.
pub const DEFAULT_WINDIR: &str = r"C:\Windows";

/// `X:` of `windir`, or `C:` when it does not start with a drive letter.
pub fn system_drive(windir: &str) -> &str {
    let b = windir.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        &windir[..2]
    } else {
        "C:"
    }
}

/// The folder `$(runtime.<name>)` stands for (`name` without the `runtime.` prefix, any case), for a
/// component that is (`wow64`) or is not a wow64 component; `None` for a variable not known.
pub fn runtime_folder(name: &str, wow64: bool) -> Option<RuntimeFolder> {
    let system = if wow64 { "SysWOW64" } else { "System32" };
    let program_files = if wow64 { "Program Files (x86)" } else { "Program Files" };
    let folder = match name.to_ascii_lowercase().as_str() {
        "windows" | "systemroot" | "windir" => RuntimeFolder::windir(""),
        "system32" | "system" => RuntimeFolder::windir(system),
        "drivers" => RuntimeFolder::windir(r"System32\drivers"),
        "wbem" => RuntimeFolder::windir(&format!(r"{system}\wbem")),
        "syswow64" => RuntimeFolder::windir("SysWOW64"),
        "inf" => RuntimeFolder::windir("INF"),
        "fonts" => RuntimeFolder::windir("Fonts"),
        "help" => RuntimeFolder::windir("Help"),
        "bootdrive" | "systemdrive" => RuntimeFolder::drive(""),
        "programfiles" => RuntimeFolder::drive(program_files),
        "commonfiles" => RuntimeFolder::drive(&format!(r"{program_files}\Common Files")),
        "programfilesx86" => RuntimeFolder::drive("Program Files (x86)"),
        "commonfilesx86" => RuntimeFolder::drive(r"Program Files (x86)\Common Files"),
        "programdata" => RuntimeFolder::drive("ProgramData"),
        _ => return None,
    };
    Some(folder)
}

/// Whether a component of architecture `component_arch` runs as wow64 code on an image of
/// `image_arch` (an x86 component on amd64, or a component of architecture `wow64`).
pub fn is_wow64(component_arch: &str, image_arch: &str) -> bool {
    let c = component_arch.to_ascii_lowercase();
    c == "wow64" || (c == "x86" && image_arch.eq_ignore_ascii_case("amd64"))
}

/// An unknown variable found by [`expand`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `$(runtime.<name>)` with a name not in the table.
    #[error("unknown variable $({0})")]
    Unknown(String),
    /// `$(` without a closing `)`.
    #[error("unterminated variable at {0:?}")]
    Unterminated(String),
}

/// Replaces every `$(runtime.*)` variable of `text` with the deployed path it stands for. `%VAR%`
/// references are left as written (Windows expands them when it reads a REG_EXPAND_SZ value).
pub fn expand(text: &str, wow64: bool, windir: &str) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(')') else {
            return Err(ExpandError::Unterminated(rest[start..].chars().take(40).collect()));
        };
        let var = &after[..end];
        let name = var
            .get(..8)
            .filter(|p| p.eq_ignore_ascii_case("runtime."))
            .map(|_| &var[8..])
            .ok_or_else(|| ExpandError::Unknown(var.to_owned()))?;
        let folder = runtime_folder(name, wow64).ok_or_else(|| ExpandError::Unknown(var.to_owned()))?;
        out.push_str(&folder.deployed_path(windir));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_follow_the_component_view() {
        assert_eq!(runtime_folder("System32", false).unwrap().image_path(), "Windows/System32");
        assert_eq!(runtime_folder("system32", true).unwrap().image_path(), "Windows/SysWOW64");
        assert_eq!(runtime_folder("programFiles", true).unwrap().image_path(), "Program Files (x86)");
        assert_eq!(runtime_folder("bootDrive", false).unwrap().image_path(), "");
        assert!(runtime_folder("userProfile", false).is_none());
    }

    #[test]
    fn expansion_uses_the_windows_folder() {
        assert_eq!(
            expand(r"$(runtime.system32)\netcfgx.dll", false, DEFAULT_WINDIR).unwrap(),
            r"C:\Windows\System32\netcfgx.dll"
        );
        assert_eq!(expand(r"$(runtime.System32)\a.dll", true, r"D:\Win").unwrap(), r"D:\Win\SysWOW64\a.dll");
        assert_eq!(expand(r"$(runtime.programFiles)\x", false, r"D:\Win").unwrap(), r"D:\Program Files\x");
        assert_eq!(
            expand("%SystemRoot%\\system32\\a.dll", false, DEFAULT_WINDIR).unwrap(),
            "%SystemRoot%\\system32\\a.dll"
        );
        assert_eq!(expand("$(runtime.nope)", false, DEFAULT_WINDIR), Err(ExpandError::Unknown("runtime.nope".into())));
        assert_eq!(expand("$(build.nttree)", false, DEFAULT_WINDIR), Err(ExpandError::Unknown("build.nttree".into())));
        assert!(matches!(expand("a$(runtime.system32", false, DEFAULT_WINDIR), Err(ExpandError::Unterminated(_))));
    }

    #[test]
    fn wow64_is_x86_on_amd64_or_wow64() {
        assert!(is_wow64("x86", "amd64"));
        assert!(is_wow64("wow64", "amd64"));
        assert!(!is_wow64("x86", "x86"));
        assert!(!is_wow64("amd64", "amd64"));
    }
}
