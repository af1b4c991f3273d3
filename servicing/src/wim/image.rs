//! Images inside a WIM: choosing one by index or name, and reading and setting its XML properties.

use std::ffi::c_int;

use super::call::{check, copy_cstr, cstr};
use super::error::{Error, Result};
use super::handle::Wim;

/// An image chosen by 1-based index or by name, as DISM's `/Index` and `/Name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// 1-based index.
    Index(u32),
    /// Image name (the XML `NAME`).
    Name(String),
}

impl std::str::FromStr for ImageRef {
    type Err = String;
    /// All digits means an index; anything else is a name.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.is_empty() {
            return Err("an image index or name is required".into());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse::<u32>().map(ImageRef::Index).map_err(|_| format!("image index {s} is too large"));
        }
        Ok(ImageRef::Name(s.to_string()))
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRef::Index(i) => write!(f, "index {i}"),
            ImageRef::Name(n) => write!(f, "named {n:?}"),
        }
    }
}

/// Windows architecture as recorded in `WINDOWS/ARCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// 0
    X86,
    /// 5
    Arm,
    /// 6
    Ia64,
    /// 9
    Amd64,
    /// 12
    Arm64,
}

impl Arch {
    /// From the numeric `WINDOWS/ARCH` value.
    pub fn from_xml(v: u32) -> Option<Arch> {
        match v {
            0 => Some(Arch::X86),
            5 => Some(Arch::Arm),
            6 => Some(Arch::Ia64),
            9 => Some(Arch::Amd64),
            12 => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// The CBS name (`x86`, `amd64`, `arm64`, …).
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::Arm => "arm",
            Arch::Ia64 => "ia64",
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// The numeric `WINDOWS/ARCH` value.
    pub fn xml_value(self) -> u32 {
        match self {
            Arch::X86 => 0,
            Arch::Arm => 5,
            Arch::Ia64 => 6,
            Arch::Amd64 => 9,
            Arch::Arm64 => 12,
        }
    }
}

/// An image's XML properties, as `wiminfo` and DISM `/Get-ImageInfo` show them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageInfo {
    /// 1-based index.
    pub index: u32,
    /// `NAME`.
    pub name: Option<String>,
    /// `DESCRIPTION`.
    pub description: Option<String>,
    /// `WINDOWS/EDITIONID` (falls back to `FLAGS`).
    pub edition_id: Option<String>,
    /// `WINDOWS/ARCH`; `None` when absent (not "x86": absent is not zero).
    pub arch: Option<Arch>,
    /// `WINDOWS/VERSION/MAJOR`.
    pub major: Option<u32>,
    /// `WINDOWS/VERSION/MINOR`.
    pub minor: Option<u32>,
    /// `WINDOWS/VERSION/BUILD`.
    pub build: Option<u32>,
    /// `WINDOWS/VERSION/SPBUILD`.
    pub spbuild: Option<u32>,
    /// `WINDOWS/PRODUCTNAME`.
    pub product_name: Option<String>,
    /// `WINDOWS/INSTALLATIONTYPE`.
    pub installation_type: Option<String>,
    /// `WINDOWS/LANGUAGES/DEFAULT`.
    pub default_language: Option<String>,
    /// `TOTALBYTES`: uncompressed size of the image's files.
    pub total_bytes: Option<u64>,
    /// `FILECOUNT`.
    pub file_count: Option<u64>,
    /// `DIRCOUNT`.
    pub dir_count: Option<u64>,
}

impl Wim {
    /// Resolves an index or name to a valid 1-based index. Names match exactly first, then
    /// case-insensitively if that is unambiguous (DISM's `/Name` is case-insensitive).
    pub fn resolve(&self, image: &ImageRef) -> Result<u32> {
        let count = self.image_count();
        let missing = || Error::NoSuchImage { path: self.path().to_path_buf(), wanted: image.to_string(), count };
        match image {
            ImageRef::Index(i) if *i >= 1 && *i <= count => Ok(*i),
            ImageRef::Index(_) => Err(missing()),
            ImageRef::Name(n) => {
                let names: Vec<(u32, Option<String>)> = (1..=count).map(|i| (i, self.property(i, "NAME"))).collect();
                let matching = |same: &dyn Fn(&str) -> bool| -> Vec<u32> {
                    names.iter().filter(|(_, v)| v.as_deref().is_some_and(same)).map(|(i, _)| *i).collect()
                };
                // An exact match first, then one ignoring ASCII case; a name that several images
                // carry is refused with their indexes, never resolved to the first.
                let mut found = matching(&|v| v == n.as_str());
                if found.is_empty() {
                    found = matching(&|v| v.eq_ignore_ascii_case(n));
                }
                match found.as_slice() {
                    [] => Err(missing()),
                    [one] => Ok(*one),
                    many => Err(Error::AmbiguousImageName {
                        path: self.path().to_path_buf(),
                        name: n.clone(),
                        count: many.len(),
                        indexes: many.to_vec(),
                    }),
                }
            }
        }
    }

    /// One XML property of an image (`NAME`, `WINDOWS/VERSION/BUILD`, …), copied out at once because
    /// wimlib's string is only valid until the next library call.
    pub fn property(&self, image: u32, name: &str) -> Option<String> {
        let c = cstr("property name", name).ok()?;
        // SAFETY: live handle; `c` is valid for the call; an out-of-range image gives NULL.
        let ptr = unsafe { wim_sys::wimlib_get_image_property(self.raw(), image as c_int, c.as_ptr()) };
        // SAFETY: NULL or a string valid until the next wimlib call; copied immediately.
        unsafe { copy_cstr(ptr) }
    }

    /// Sets (or, with `None`, removes) an XML property of an image.
    pub fn set_property(&mut self, image: u32, name: &str, value: Option<&str>) -> Result<()> {
        let n = cstr("property name", name)?;
        let v = value.map(|v| cstr("property value", v)).transpose()?;
        let vp = v.as_ref().map_or(std::ptr::null(), |v| v.as_ptr());
        // SAFETY: live handle; both strings valid for the call (or NULL to remove).
        let code = unsafe { wim_sys::wimlib_set_image_property(self.raw(), image as c_int, n.as_ptr(), vp) };
        check(code, self.path(), "set image property", Some(image))
    }

    /// The XML properties of one image.
    pub fn image_info(&self, index: u32) -> ImageInfo {
        let num = |n: &str| self.property(index, n).and_then(|v| v.trim().parse::<u64>().ok());
        let edition = self.property(index, "WINDOWS/EDITIONID").or_else(|| self.property(index, "FLAGS"));
        ImageInfo {
            index,
            name: self.property(index, "NAME"),
            description: self.property(index, "DESCRIPTION"),
            edition_id: edition,
            arch: num("WINDOWS/ARCH").and_then(|v| Arch::from_xml(v as u32)),
            major: num("WINDOWS/VERSION/MAJOR").map(|v| v as u32),
            minor: num("WINDOWS/VERSION/MINOR").map(|v| v as u32),
            build: num("WINDOWS/VERSION/BUILD").map(|v| v as u32),
            spbuild: num("WINDOWS/VERSION/SPBUILD").map(|v| v as u32),
            product_name: self.property(index, "WINDOWS/PRODUCTNAME"),
            installation_type: self.property(index, "WINDOWS/INSTALLATIONTYPE"),
            default_language: self.property(index, "WINDOWS/LANGUAGES/DEFAULT"),
            total_bytes: num("TOTALBYTES"),
            file_count: num("FILECOUNT"),
            dir_count: num("DIRCOUNT"),
        }
    }

    /// The XML properties of every image.
    pub fn images(&self) -> Vec<ImageInfo> {
        (1..=self.image_count()).map(|i| self.image_info(i)).collect()
    }
}
