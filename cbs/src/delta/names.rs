//! Names of the PA30 header's file types and flag bits (`msdelta.h`, `modern-lcu.md` §1), for
//! reports such as `wimpatch delta info`.

/// `DELTA_FILE_TYPE_*` bits and their names.
const FILE_TYPES: [(u64, &str); 9] = [
    (0x1, "RAW"),
    (0x2, "I386"),
    (0x4, "IA64"),
    (0x8, "AMD64"),
    (0x10, "CLI4_I386"),
    (0x20, "CLI4_AMD64"),
    (0x40, "CLI4_ARM"),
    (0x80, "CLI4_ARM64"),
    (0x100, "REVERSE_ANY"),
];

/// `DELTA_FLAG_*` bits and their names.
const FLAGS: [(u64, &str); 25] = [
    (0x1, "E8"),
    (0x2, "MARK"),
    (0x4, "IMPORTS"),
    (0x8, "EXPORTS"),
    (0x10, "RESOURCES"),
    (0x20, "RELOCS"),
    (0x40, "I386_SMASHLOCK"),
    (0x80, "I386_JMPS"),
    (0x100, "I386_CALLS"),
    (0x200, "AMD64_DISASM"),
    (0x400, "AMD64_PDATA"),
    (0x800, "IA64_DISASM"),
    (0x1000, "IA64_PDATA"),
    (0x2000, "UNBIND"),
    (0x4000, "CLI_DISASM"),
    (0x8000, "CLI_METADATA"),
    (0x10000, "HEADERS"),
    (0x20000, "IGNORE_FILE_SIZE_LIMIT"),
    (0x40000, "IGNORE_OPTIONS_SIZE_LIMIT"),
    (0x80000, "ARM_DISASM"),
    (0x100000, "ARM_PDATA"),
    (0x200000, "CLI4_METADATA"),
    (0x400000, "CLI4_DISASM"),
    (0x800000, "ARM64_DISASM"),
    (0x1000000, "ARM64_PDATA"),
];

fn names(value: u64, table: &[(u64, &'static str)]) -> Vec<String> {
    let mut out: Vec<String> =
        table.iter().filter(|(bit, _)| value & bit != 0).map(|(_, name)| (*name).to_owned()).collect();
    let known = table.iter().fold(0u64, |acc, (bit, _)| acc | bit);
    for bit in (0..64).map(|i| 1u64 << i).filter(|b| value & b & !known != 0) {
        out.push(format!("0x{bit:x} (unknown)"));
    }
    out
}

/// The names of the bits of a file type or file-type set.
pub fn file_type_names(value: u64) -> Vec<String> {
    names(value, &FILE_TYPES)
}

/// The names of the bits of a flags value; unknown bits as `0x… (unknown)`.
pub fn flag_names(value: u64) -> Vec<String> {
    names(value, &FLAGS)
}
