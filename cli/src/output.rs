//! Human-readable rendering of engine reports (stdout). `--json` prints the reports themselves.

use std::borrow::Cow;
use std::fmt::Write as _;

use servicing::ops::InfoReport;

/// `text` made safe for a terminal: control characters other than newline and tab (ESC, BEL, CR,
/// DEL, the C1 range) are shown as `\u{1b}` instead of being sent raw. Names, descriptions and
/// error messages printed here come from untrusted packages and images, and a raw ESC would let
/// them rewrite the screen or the title. Every human-readable line the CLI prints goes through it.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The width of the terminal stdout is, when it is one and its width is known; `None` when stdout is
/// piped or redirected (a table is then never cut: scripts get every character).
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal as _;
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0)).filter(|w| *w > 0)
}

/// Left-aligned columns, each as wide as its widest cell. With `width` (a terminal's), the widest
/// columns are narrowed until the table fits, and cells longer than their column end in `…`.
pub fn table(header: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
    const GAP: usize = 2;
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    if let Some(max) = width {
        let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
        // Narrow the widest column, one character at a time, down to a floor that keeps it legible.
        while total(&widths) > max {
            let Some((i, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else { break };
            if w <= 8 {
                break;
            }
            widths[i] = w - 1;
        }
    }
    let cut = |cell: &str, w: usize| -> String {
        if cell.chars().count() <= w {
            return cell.to_owned();
        }
        let mut s: String = cell.chars().take(w.saturating_sub(1)).collect();
        s.push('…');
        s
    };
    let mut s = String::new();
    let line = |cells: Vec<&str>, s: &mut String| {
        let text: Vec<String> =
            cells.iter().enumerate().map(|(i, c)| format!("{:<w$}", cut(c, widths[i]), w = widths[i])).collect();
        let _ = writeln!(s, "{}", text.join("  ").trim_end());
    };
    line(header.to_vec(), &mut s);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut s);
    }
    s
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes with a binary-unit hint: `1,048,576 bytes (1.0 MiB)`.
pub fn size(n: u64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = "";
    for u in units {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    if unit.is_empty() {
        format!("{} bytes", thousands(n))
    } else {
        format!("{} bytes ({v:.1} {unit})", thousands(n))
    }
}

/// The `info` text, laid out like DISM's /Get-ImageInfo.
pub fn info(r: &InfoReport) -> String {
    use std::fmt::Write as _;
    let h = &r.header;
    let mut s = String::new();
    let _ = writeln!(s, "WIM file     : {}", r.path.display());
    let _ = writeln!(s, "GUID         : {}", h.guid);
    let _ = writeln!(s, "Version      : {}{}", h.wim_version, if h.solid { " (solid/ESD)" } else { "" });
    let _ = writeln!(
        s,
        "Compression  : {} (chunk size {})",
        h.compression.map_or("unknown", |c| c.name()),
        thousands(u64::from(h.chunk_size))
    );
    let _ = writeln!(s, "Image count  : {}", h.image_count);
    let _ = writeln!(s, "Boot index   : {}", h.boot_index);
    let _ = writeln!(s, "Size         : {}", size(h.total_bytes));
    let _ = writeln!(s, "Integrity    : {}", if h.has_integrity_table { "yes" } else { "no" });
    if h.write_in_progress {
        let _ = writeln!(s, "Warning      : an earlier write was interrupted; content is intact, run `wimpatch optimize` to reclaim space");
    }
    for i in &r.images {
        let _ = writeln!(s);
        let _ = writeln!(s, "Index        : {}", i.index);
        let _ = writeln!(s, "Name         : {}", i.name.as_deref().unwrap_or(""));
        let _ = writeln!(s, "Description  : {}", i.description.as_deref().unwrap_or(""));
        let _ = writeln!(s, "Edition      : {}", i.edition_id.as_deref().unwrap_or("unknown"));
        let _ = writeln!(s, "Architecture : {}", i.arch.map_or("unknown", |a| a.name()));
        let version = match (i.major, i.minor, i.build) {
            (Some(a), Some(b), Some(c)) => match i.spbuild {
                Some(sp) => format!("{a}.{b}.{c}.{sp}"),
                None => format!("{a}.{b}.{c}"),
            },
            _ => "unknown".into(),
        };
        let _ = writeln!(s, "Version      : {version}");
        let _ = writeln!(s, "Build        : {}", i.build.map_or("unknown".to_string(), |b| b.to_string()));
        let _ = writeln!(s, "Files        : {}", i.file_count.map_or("unknown".into(), thousands));
        let _ = writeln!(s, "Size         : {}", i.total_bytes.map_or("unknown".into(), size));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_fits_a_terminal_width_and_is_whole_when_piped() {
        let rows =
            vec![vec!["1".to_owned(), "A very long image name that goes on and on".to_owned(), "x64".to_owned()]];
        let whole = super::table(&["ID", "Name", "Arch"], &rows, None);
        assert!(whole.contains("A very long image name that goes on and on"), "{whole}");
        let fitted = super::table(&["ID", "Name", "Arch"], &rows, Some(30));
        for line in fitted.lines() {
            assert!(line.chars().count() <= 30, "{line:?} in\n{fitted}");
        }
        assert!(fitted.contains('…') && fitted.contains("x64"), "{fitted}");
        // Wide enough: nothing is cut.
        assert_eq!(super::table(&["ID", "Name", "Arch"], &rows, Some(200)), whole);
    }

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1234567), "1,234,567");
    }
}
