//! The bounded XML front end: accepted encodings and declarations, the tree it builds, and the
//! hostile inputs it refuses (with the file and position in the error).

use cbs::xml::{parse, parse_with_limits, Limits, XmlError, XmlErrorKind};

const FILE: &str = "pkg/update.mum";

fn parse_err(text: &[u8]) -> XmlError {
    parse(text, FILE).expect_err("the input must be refused")
}

/// Every error names the file and says `file:line:column:`.
fn assert_names_file(err: &XmlError) {
    let shown = err.to_string();
    assert!(shown.starts_with(&format!("{FILE}:{}:{}: ", err.line, err.column)), "{shown}");
    assert_eq!(err.file, FILE);
}

#[test]
fn double_quoted_declaration_with_bom() {
    let doc = parse(b"\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<assembly a=\"1\"/>", FILE).unwrap();
    assert!(doc.had_bom);
    assert!(doc.had_declaration);
    assert_eq!(doc.root.name, "assembly");
    assert_eq!(doc.root.attr("a"), Some("1"));
    assert_eq!((doc.root.line, doc.root.column), (2, 1));
}

#[test]
fn single_quoted_declaration_without_bom() {
    let doc =
        parse(b"<?xml version='1.0' encoding='utf-8' standalone='yes'?>\n<assembly name='x'><b/></assembly>", FILE)
            .unwrap();
    assert!(!doc.had_bom);
    assert!(doc.had_declaration);
    assert_eq!(doc.root.attr("name"), Some("x"));
    assert_eq!(doc.root.children.len(), 1);
}

#[test]
fn no_declaration_and_upper_case_encoding_name() {
    assert!(!parse(b"<Container/>", FILE).unwrap().had_declaration);
    assert!(parse(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Container/>", FILE).is_ok());
}

#[test]
fn utf16_with_bom_is_decoded() {
    let text = "<?xml version=\"1.0\" encoding=\"utf-16\"?><assembly name=\"Ünïcode\"/>";
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        le.extend_from_slice(&unit.to_le_bytes());
        be.extend_from_slice(&unit.to_be_bytes());
    }
    for bytes in [le, be] {
        let doc = parse(&bytes, FILE).unwrap();
        assert!(doc.had_bom);
        assert_eq!(doc.root.attr("name"), Some("Ünïcode"));
    }
}

#[test]
fn prefixes_are_dropped_and_namespace_declarations_are_not_attributes() {
    let doc = parse(
        br#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><mum2:packageExtended xmlns:mum2="urn:schemas-microsoft-com:asm.v3" packageSize="5"/><asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2" xmlns:dsig="http://www.w3.org/2000/09/xmldsig#"><dsig:DigestValue>AA==</dsig:DigestValue></asmv2:hash></assembly>"#,
        FILE,
    )
    .unwrap();
    assert!(doc.root.attributes.is_empty());
    let ext = doc.root.child("packageExtended").unwrap();
    assert_eq!(ext.attributes.len(), 1);
    assert_eq!(ext.attr("packageSize"), Some("5"));
    assert_eq!(doc.root.child("hash").unwrap().child("DigestValue").unwrap().text, "AA==");
}

#[test]
fn predefined_entities_character_references_and_cdata() {
    let doc = parse(br#"<a v="x &amp; y &lt;&#65;&#x42;&quot;&apos;">1 &gt; 0 &#x263A;<![CDATA[<raw> & ]]></a>"#, FILE)
        .unwrap();
    assert_eq!(doc.root.attr("v"), Some("x & y <AB\"'"));
    assert_eq!(doc.root.text, "1 > 0 \u{263A}<raw> & ");
}

#[test]
fn whitespace_only_text_is_dropped_and_comments_and_pis_are_ignored() {
    let doc = parse(b"<!-- c --><a>\n  <b/>\n  <!-- x --><?pi y?>\n</a>\n", FILE).unwrap();
    assert_eq!(doc.root.text, "");
    assert_eq!(doc.root.children.len(), 1);
}

#[test]
fn attribute_values_are_whitespace_normalised() {
    let doc = parse(b"<a v=\"one\ttwo\nthree\"/>", FILE).unwrap();
    assert_eq!(doc.root.attr("v"), Some("one two three"));
}

#[test]
fn element_positions_count_characters() {
    let doc = parse("<a>\n  <é/><b/>\n</a>".as_bytes(), FILE).unwrap();
    let pos: Vec<(u32, u32)> = doc.root.children.iter().map(|c| (c.line, c.column)).collect();
    assert_eq!(pos, [(2, 3), (2, 7)]);
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut text = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_owned() } else { format!("lol{}", i - 1) };
        text.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    text.push_str("]>\n<lolz>&lol9;</lolz>\n");
    let err = parse_err(text.as_bytes());
    assert_eq!(*err.kind, XmlErrorKind::DtdRefused { markup: "<!DOCTYPE" });
    assert_eq!((err.line, err.column), (2, 1));
    assert_names_file(&err);
    assert!(err.to_string().contains("DTDs are not processed"), "{err}");
}

#[test]
fn doctype_without_entities_is_refused_too() {
    let err = parse_err(b"<!DOCTYPE assembly SYSTEM \"http://example.invalid/x.dtd\"><assembly/>");
    assert_eq!(*err.kind, XmlErrorKind::DtdRefused { markup: "<!DOCTYPE" });
    assert_names_file(&err);
}

#[test]
fn entity_declaration_outside_a_doctype_is_refused() {
    let err = parse_err(b"<!ENTITY x \"y\"><a/>");
    assert_eq!(*err.kind, XmlErrorKind::DtdRefused { markup: "<!ENTITY" });
    assert_names_file(&err);
}

#[test]
fn undeclared_entities_are_refused_in_text_and_attributes() {
    let err = parse_err(b"<a>\n&lol9;</a>");
    assert_eq!(*err.kind, XmlErrorKind::EntityRefused { name: "lol9".into() });
    assert_eq!(err.line, 2);
    assert_names_file(&err);
    let err = parse_err(b"<a v=\"&xxe;\"/>");
    assert_eq!(*err.kind, XmlErrorKind::EntityRefused { name: "xxe".into() });
    assert_names_file(&err);
}

#[test]
fn ten_thousand_deep_nesting_stops_at_the_depth_limit() {
    let depth = 10_000;
    let text = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
    let err = parse_err(text.as_bytes());
    assert_eq!(*err.kind, XmlErrorKind::TooDeep { limit: Limits::DEFAULT_MAX_DEPTH });
    // The 65th element starts after 64 `<a>` of three characters each.
    assert_eq!((err.line, err.column), (1, 3 * 64 + 1));
    assert_names_file(&err);
    // Exactly at the limit is fine.
    let ok = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
    assert!(parse(ok.as_bytes(), FILE).is_ok());
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let big = vec![b' '; Limits::DEFAULT_MAX_INPUT_BYTES + 1];
    let err = parse_err(&big);
    assert_eq!(*err.kind, XmlErrorKind::TooLarge { size: big.len(), limit: Limits::DEFAULT_MAX_INPUT_BYTES });
    assert_names_file(&err);
    let limits = Limits { max_input_bytes: 10, ..Limits::default() };
    let err = parse_with_limits(b"<assembly/>", FILE, &limits).unwrap_err();
    assert_eq!(*err.kind, XmlErrorKind::TooLarge { size: 11, limit: 10 });
}

#[test]
fn attribute_and_element_counts_are_capped() {
    let attrs: String = (0..65).map(|i| format!(" a{i}=\"\"")).collect();
    let err = parse_err(format!("<x{attrs}/>").as_bytes());
    assert_eq!(*err.kind, XmlErrorKind::TooManyAttributes { element: "x".into(), limit: 64 });
    assert_names_file(&err);
    let limits = Limits { max_elements: 3, ..Limits::default() };
    let err = parse_with_limits(b"<a><b/><c/><d/></a>", FILE, &limits).unwrap_err();
    assert_eq!(*err.kind, XmlErrorKind::TooManyElements { limit: 3 });
    assert_eq!(err.column, 12);
}

#[test]
fn malformed_documents_are_refused_with_a_position() {
    let cases: &[(&[u8], &str)] = &[
        (b"<a><b></a>", "expected `</b>`"),
        (b"<a>\n<b>", "not closed"),
        (b"<a x=1/>", "malformed"),
        (b"<a x=\"1\" x=\"2\"/>", "malformed"),
        (b"<a/><b/>", "more than one root"),
        (b"<a/>junk", "text outside the root"),
        (b"", "no root element"),
        (b"   \n ", "no root element"),
        (b"</a>", "malformed"),
        (b"<a", "malformed"),
        (b"<a>&</a>", "malformed"),
        (b" <?xml version=\"1.0\"?><a/>", "very start"),
        (b"<?xml version=\"1.1\"?><a/>", "only 1.0"),
    ];
    for (text, expect) in cases {
        let err = parse_err(text);
        assert_names_file(&err);
        let shown = err.to_string();
        assert!(
            shown.contains(expect) || (*expect == "malformed" && matches!(*err.kind, XmlErrorKind::Malformed(_))),
            "{:?}: {shown}",
            String::from_utf8_lossy(text)
        );
    }
    let err = parse_err(b"<a>\n  <b></c>\n</a>");
    assert_eq!(err.line, 2, "{err}");
}

#[test]
fn encodings_other_than_utf8_and_utf16_are_refused() {
    let err = parse_err(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><a/>");
    assert!(matches!(*err.kind, XmlErrorKind::Encoding(_)), "{err}");
    let err = parse_err(b"<a>\n\xFF\xFE</a>");
    assert!(matches!(*err.kind, XmlErrorKind::Encoding(_)), "{err}");
    assert_eq!((err.line, err.column), (2, 1));
    assert_names_file(&err);
    let err = parse_err(b"<\0a\0/\0>\0");
    assert!(matches!(*err.kind, XmlErrorKind::Encoding(_)), "{err}");
}

/// Regression (issue 17 item 10): ESC and BEL in package metadata were accepted, stored in the image
/// registry and printed raw. Raw or as character references, in text or attributes, they are
/// refused with the file, the position and the code point.
#[test]
fn control_characters_from_package_metadata_are_refused() {
    let cases: [(&[u8], u32, u32, u32); 5] = [
        (b"<a b=\"x\x1b[31my\"/>", 0x1b, 1, 8),
        (b"<a>\n ring\x07</a>", 0x07, 2, 6),
        (b"<a b=\"&#27;[2J\"/>", 0x1b, 1, 1),
        (b"<a>&#x7;</a>", 0x07, 1, 4),
        ("<a>\u{FFFE}</a>".as_bytes(), 0xfffe, 1, 4),
    ];
    for (text, code, line, column) in cases {
        let err = parse_err(text);
        assert_names_file(&err);
        assert_eq!(*err.kind, XmlErrorKind::InvalidCharacter { code }, "{err}");
        assert_eq!((err.line, err.column), (line, column), "{err}");
        assert!(err.to_string().contains(&format!("U+{code:04X}")), "{err}");
    }
    // Tab, LF and CR stay allowed, raw and as references; so do characters past the BMP.
    let doc = parse("<a b=\"&#9;x\">\t&#13;\u{1F600}</a>".as_bytes(), FILE).unwrap();
    assert!(doc.root.attr("b").is_some_and(|v| v.ends_with('x')), "{doc:?}");
}
