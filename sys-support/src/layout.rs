//! Checks committed bindgen output against the C headers installed on this machine.
//!
//! bindgen records, in its layout tests, the size and alignment of every struct and the offset of every
//! named field as it saw them in the header at generation time; it also records the value of every
//! constant. This crate reads those records back out of a `bindings.rs`, writes a C program that prints the
//! same facts as the installed header defines them, compiles it with the system C compiler and compares the
//! two. The -sys crates run it from their integration test (the same job `ctest`/`systest` does for
//! libgit2-sys), so a header that drifted from the committed bindings fails `make test`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

/// One fact recorded by bindgen: the C expression that must evaluate to `expected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    /// A human-readable label, e.g. `size of struct wimlib_wim_info`.
    pub label: String,
    /// The C expression printed by the probe.
    pub c_expr: String,
    /// The value bindgen recorded.
    pub expected: i128,
}

/// The outcome of a check: how many facts were compared and which did not match.
#[derive(Debug, Default)]
pub struct Report {
    /// Number of facts compared.
    pub checked: usize,
    /// `(label, bindgen value, header value)` for each mismatch.
    pub mismatches: Vec<(String, i128, i128)>,
}

const RUST_KEYWORDS: &[&str] = &[
    "type", "match", "ref", "mod", "fn", "impl", "in", "loop", "move", "mut", "pub", "self", "static", "struct",
    "trait", "use", "where", "while", "box", "crate", "dyn", "enum", "extern", "final", "macro", "override", "priv",
    "super", "unsafe", "virtual", "yield", "async", "await", "try", "abstract", "become", "do",
];

/// Which C tag (`struct`/`union`) each bindgen type name was generated from.
fn tags(bindings: &str) -> BTreeMap<String, &'static str> {
    let mut map = BTreeMap::new();
    for line in bindings.lines() {
        let line = line.trim();
        for (prefix, tag) in [("pub struct ", "struct"), ("pub union ", "union")] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                map.insert(name, tag);
            }
        }
    }
    map
}

/// The C tag of a bindgen type name. bindgen names a struct declared inside another one
/// `Outer_Inner`, while C puts the inner tag in file scope as plain `Inner`.
fn c_type<'a>(tags: &BTreeMap<String, &'static str>, ty: &'a str) -> &'a str {
    tags.keys()
        .filter(|outer| outer.as_str() != ty && ty.len() > outer.len() + 1 && ty.starts_with(outer.as_str()))
        .filter(|outer| ty.as_bytes()[outer.len()] == b'_')
        .map(|outer| &ty[outer.len() + 1..])
        .min_by_key(|inner| inner.len())
        .unwrap_or(ty)
}

/// Field names bindgen renamed because they are Rust keywords (`type` → `type_`).
fn c_field(name: &str) -> &str {
    match name.strip_suffix('_') {
        Some(base) if RUST_KEYWORDS.contains(&base) => base,
        _ => name,
    }
}

fn parse_usize_tail(line: &str) -> Option<i128> {
    // `... - 128usize];`
    let pos = line.rfind(" - ")?;
    let digits: String = line[pos + 3..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Extracts every checkable fact from bindgen output.
///
/// Anonymous types (`__bindgen_ty_N`), anonymous members and bitfield storage have no C spelling and are
/// skipped; they are covered by the size of the enclosing struct.
pub fn facts(bindings: &str) -> Vec<Fact> {
    let tags = tags(bindings);
    let mut out = Vec::new();
    for raw in bindings.lines() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("[\"Size of ") {
            let ty = &rest[..rest.find('"').unwrap_or(0)];
            push_type_fact(&mut out, &tags, ty, "size", "sizeof", line);
        } else if let Some(rest) = line.strip_prefix("[\"Alignment of ") {
            let ty = &rest[..rest.find('"').unwrap_or(0)];
            push_type_fact(&mut out, &tags, ty, "alignment", "_Alignof", line);
        } else if let Some(rest) = line.strip_prefix("[\"Offset of field: ") {
            let spec = &rest[..rest.find('"').unwrap_or(0)];
            let Some((ty, field)) = spec.split_once("::") else { continue };
            if ty.contains("__bindgen") || field.starts_with("__bindgen") || field.starts_with("_bitfield") {
                continue;
            }
            let (Some(tag), Some(v)) = (tags.get(ty), parse_usize_tail(line)) else { continue };
            out.push(Fact {
                label: format!("offset of {tag} {ty}.{}", c_field(field)),
                c_expr: format!("offsetof({tag} {}, {})", c_type(&tags, ty), c_field(field)),
                expected: v,
            });
        } else if let Some(rest) = line.strip_prefix("pub const ") {
            // `pub const NAME: type = value;`
            let Some((name, tail)) = rest.split_once(':') else { continue };
            let Some((_, value)) = tail.split_once('=') else { continue };
            let value = value.trim().trim_end_matches(';').trim();
            if let Ok(v) = value.parse::<i128>() {
                out.push(Fact {
                    label: format!("value of {name}"),
                    c_expr: format!("(long long)({name})"),
                    expected: v,
                });
            }
        }
    }
    out
}

fn push_type_fact(
    out: &mut Vec<Fact>,
    tags: &BTreeMap<String, &'static str>,
    ty: &str,
    what: &str,
    op: &str,
    line: &str,
) {
    if ty.contains("__bindgen") {
        return;
    }
    let (Some(tag), Some(v)) = (tags.get(ty), parse_usize_tail(line)) else { return };
    let c = c_type(tags, ty);
    out.push(Fact { label: format!("{what} of {tag} {ty}"), c_expr: format!("{op}({tag} {c})"), expected: v });
}

/// Compiles a probe that includes `headers` and evaluates every fact, then compares.
///
/// `CC` selects the compiler (default `cc`). Errors are returned as text for the test to print.
pub fn check(bindings: &str, headers: &[&str]) -> Result<Report, String> {
    let facts = facts(bindings);
    if facts.is_empty() {
        return Err("no layout facts found in the bindings (were they generated with layout tests?)".into());
    }
    let mut c = String::from("#include <stdio.h>\n#include <stddef.h>\n");
    for h in headers {
        let _ = writeln!(c, "#include <{h}>");
    }
    c.push_str("int main(void) {\n");
    for (i, f) in facts.iter().enumerate() {
        let _ = writeln!(c, "  printf(\"%d %lld\\n\", {i}, (long long)({}));", f.c_expr);
    }
    c.push_str("  return 0;\n}\n");

    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let src = dir.path().join("probe.c");
    let exe = dir.path().join("probe");
    std::fs::write(&src, &c).map_err(|e| format!("{}: {e}", src.display()))?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .arg("-std=gnu11")
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .map_err(|e| format!("running {cc}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the layout probe does not compile against the headers:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let run = Command::new(&exe).output().map_err(|e| format!("running the probe: {e}"))?;
    if !run.status.success() {
        return Err("the layout probe failed".into());
    }
    let mut report = Report::default();
    for line in String::from_utf8_lossy(&run.stdout).lines() {
        let Some((i, v)) = line.split_once(' ') else { continue };
        let (Ok(i), Ok(v)) = (i.parse::<usize>(), v.parse::<i128>()) else { continue };
        let f = &facts[i];
        report.checked += 1;
        // Constants are compared as C sees them after a cast to long long; bindgen stores unsigned 32-bit
        // flags, so compare modulo 2^64 to accept 0xFFFFFFFF... spellings of negative values.
        let same = f.expected == v || (f.expected - v).rem_euclid(1i128 << 64) == 0;
        if !same {
            report.mismatches.push((f.label.clone(), f.expected, v));
        }
    }
    if report.checked != facts.len() {
        return Err(format!("the probe printed {} of {} facts", report.checked, facts.len()));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
pub const FOO_FLAG: u32 = 4;
pub struct foo { pub a: u32, pub type_: u64 }
const _: () = {
    ["Size of foo"][::core::mem::size_of::<foo>() - 16usize];
    ["Alignment of foo"][::core::mem::align_of::<foo>() - 8usize];
    ["Offset of field: foo::a"][::core::mem::offset_of!(foo, a) - 0usize];
    ["Offset of field: foo::type_"][::core::mem::offset_of!(foo, type_) - 8usize];
};
"#;

    #[test]
    fn facts_are_read_from_bindgen_layout_tests() {
        let f = facts(SAMPLE);
        let exprs: Vec<&str> = f.iter().map(|f| f.c_expr.as_str()).collect();
        assert_eq!(
            exprs,
            [
                "(long long)(FOO_FLAG)",
                "sizeof(struct foo)",
                "_Alignof(struct foo)",
                "offsetof(struct foo, a)",
                "offsetof(struct foo, type)"
            ]
        );
        assert_eq!(f[1].expected, 16);
    }
}
