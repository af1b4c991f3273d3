//! Hostile package manifests: `update.mum` (and a component `.manifest`) replaced inside an
//! otherwise valid cab by XML that expands entities ("billion laughs"), reaches out (XXE), nests
//! deeply, carries a huge attribute, is not UTF-8, has a byte-order mark that lies about the
//! encoding, or is missing. Each must be refused with an error naming the cab.

use fixtures::packages::{self, broken, cab_bytes, Compression, Lcu};
use fixtures::profile::Profile;

use super::{name, Case, Expect, Run, Sandbox};

fn members(kb: u32) -> Vec<(String, Vec<u8>)> {
    packages::updates::cumulative_update(&Profile::win10_amd64(), &Lcu::monthly(kb, (kb % 1000) as u16))
        .expect("LCU definition")
        .members()
}

/// A cab whose `update.mum` is `edit(original)`, added to a copy of the `win10` image.
fn with_mum(sb: &Sandbox<'_>, kb: u32, edit: impl FnOnce(&str) -> Vec<u8>) -> Run {
    with_member(sb, kb, |m| m == "update.mum", edit)
}

/// A cab whose first member matching `pick` is `edit(original)`.
fn with_member(sb: &Sandbox<'_>, kb: u32, pick: impl Fn(&str) -> bool, edit: impl FnOnce(&str) -> Vec<u8>) -> Run {
    let mut members = members(kb);
    let target = members.iter().find(|(n, _)| pick(n)).expect("member to replace").0.clone();
    let original = String::from_utf8_lossy(&members.iter().find(|(n, _)| *n == target).expect("member").1).into_owned();
    broken::replace_member(&mut members, &target, edit(&original));
    cab(sb, kb, &members)
}

fn cab(sb: &Sandbox<'_>, kb: u32, members: &[(String, Vec<u8>)]) -> Run {
    let file = format!("Windows10.0-KB{kb}-x64.cab");
    let pkg = sb.write(&file, &cab_bytes(&file, members, Compression::MsZip).expect("cab"));
    let wim = sb.copy(&sb.shared.win10, "win10.wim");
    Run { args: sb.add_package(&wim, &pkg), inputs: vec![wim, pkg.clone()], ..Run::default() }.mentioning(&name(&pkg))
}

/// `text` with a DOCTYPE inserted after the XML declaration.
fn with_doctype(text: &str, doctype: &str) -> Vec<u8> {
    let at = text.find("?>").map(|i| i + 2).unwrap_or(0);
    format!("{}\r\n{doctype}{}", &text[..at], &text[at..]).into_bytes()
}

const LAUGHS: &str = r#"<!DOCTYPE assembly [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>"#;

pub fn cases() -> Vec<Case> {
    let fail = |name, setup| Case { name, setup, expect: Expect::Failure };
    vec![
        fail("mum/billion-laughs", |sb| {
            with_mum(sb, 5_000_080, |t| {
                let body = String::from_utf8(with_doctype(t, LAUGHS)).expect("utf-8");
                body.replacen("description=\"", "description=\"&lol9;", 1).into_bytes()
            })
        }),
        fail("mum/external-entity", |sb| {
            with_mum(sb, 5_000_081, |t| {
                let doctype = r#"<!DOCTYPE assembly [ <!ENTITY x SYSTEM "file:///etc/passwd"> ]>"#;
                let body = String::from_utf8(with_doctype(t, doctype)).expect("utf-8");
                body.replacen("description=\"", "description=\"&x;", 1).into_bytes()
            })
        }),
        fail("mum/deep-nesting", |sb| {
            with_mum(sb, 5_000_082, |t| {
                let depth = 200_000;
                let at = t.rfind("</assembly>").expect("closing tag");
                format!("{}{}{}{}", &t[..at], "<a>".repeat(depth), "</a>".repeat(depth), &t[at..]).into_bytes()
            })
        }),
        fail("mum/huge-attribute", |sb| {
            with_mum(sb, 5_000_083, |t| {
                t.replacen("description=\"", &format!("description=\"{}", "A".repeat(48 << 20)), 1).into_bytes()
            })
        }),
        fail("mum/invalid-utf8", |sb| {
            with_mum(sb, 5_000_084, |t| {
                let mut b = t.as_bytes().to_vec();
                let at = t.find("description=\"").expect("attribute") + 13;
                b.splice(at..at, [0xC3, 0x28, 0xFF, 0xFE]);
                b
            })
        }),
        fail("mum/bom-utf16be-on-utf8", |sb| {
            with_mum(sb, 5_000_085, |t| [&[0xFE, 0xFF][..], t.trim_start_matches('\u{feff}').as_bytes()].concat())
        }),
        fail("mum/bom-utf32le", |sb| {
            with_mum(sb, 5_000_086, |t| [&[0xFF, 0xFE, 0, 0][..], t.trim_start_matches('\u{feff}').as_bytes()].concat())
        }),
        fail("mum/bom-utf16le-odd-length", |sb| {
            with_mum(sb, 5_000_087, |t| {
                let mut b = vec![0xFF, 0xFE];
                b.extend(t.trim_start_matches('\u{feff}').encode_utf16().flat_map(u16::to_le_bytes));
                b.push(b'<'); // half a code unit
                b
            })
        }),
        fail("mum/empty", |sb| with_mum(sb, 5_000_088, |_| Vec::new())),
        fail("mum/binary-noise", |sb| with_mum(sb, 5_000_089, |_| crate::util::noise(89, 4096))),
        fail("mum/missing", |sb| {
            let members: Vec<_> = members(5_000_090).into_iter().filter(|(n, _)| n != "update.mum").collect();
            cab(sb, 5_000_090, &members)
        }),
        fail("mum/component-manifest-billion-laughs", |sb| {
            with_member(
                sb,
                5_000_091,
                |n| n.ends_with(".manifest"),
                |t| {
                    let body = String::from_utf8(with_doctype(t, LAUGHS)).expect("utf-8");
                    body.replacen("name=\"", "name=\"&lol9;", 1).into_bytes()
                },
            )
        }),
        // Issue 17 item 1: identity values become file names; each is refused naming the field.
        fail("mum/identity-name-traversal", |sb| {
            with_mum(sb, 5_000_093, |t| {
                t.replacen("name=\"Package_for_RollupFix\"", "name=\"../../../../escaped\"", 1).into_bytes()
            })
            .mentioning("name")
        }),
        fail("mum/identity-name-absolute", |sb| {
            with_mum(sb, 5_000_094, |t| t.replacen("name=\"Package_for_RollupFix\"", "name=\"/tmp/x\"", 1).into_bytes())
                .mentioning("name")
        }),
        fail("mum/identity-name-device", |sb| {
            with_mum(sb, 5_000_095, |t| t.replacen("name=\"Package_for_RollupFix\"", "name=\"CON\"", 1).into_bytes())
                .mentioning("name")
        }),
        fail("mum/identity-arch-separator", |sb| {
            with_mum(sb, 5_000_096, |t| {
                t.replacen("processorArchitecture=\"amd64\"", "processorArchitecture=\"..\\x\"", 1).into_bytes()
            })
            .mentioning("processorArchitecture")
        }),
        fail("mum/component-identity-culture-traversal", |sb| {
            with_member(
                sb,
                5_000_097,
                |n| n.ends_with(".manifest"),
                |t| t.replacen("language=\"", "language=\"../", 1).into_bytes(),
            )
            .mentioning("language")
        }),
        // Issue 17 item 3: a payload without a digest cannot be verified, so it is not installed.
        fail("mum/component-file-without-hash", |sb| {
            with_member(
                sb,
                5_000_098,
                |n| n.ends_with(".manifest") && n.contains("os-kernel"),
                |t| crate::hostile_writes::without_hashes(t).into_bytes(),
            )
            .mentioning("no SHA-256 digest")
        }),
        fail("mum/component-manifest-missing", |sb| {
            let members: Vec<_> = members(5_000_092).into_iter().filter(|(n, _)| !n.ends_with(".manifest")).collect();
            cab(sb, 5_000_092, &members)
        }),
        // Issue 17: control characters (invalid in XML 1.0) in package metadata, raw and as a
        // character reference; they were stored in the registry and printed raw.
        fail("mum/escape-in-description", |sb| {
            with_mum(sb, 5_000_093, |t| {
                t.replacen("<package ", "<package description=\"\u{1b}]0;owned\u{7}\" ", 1).into_bytes()
            })
        }),
        fail("mum/character-reference-to-bel", |sb| {
            with_mum(sb, 5_000_094, |t| t.replacen("<package ", "<package description=\"ring&#7;\" ", 1).into_bytes())
        }),
    ]
}
