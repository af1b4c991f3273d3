//! Container indexes: a Windows 7 IPD-style `_manifest_.cix.xml` and a PSFX-style
//! `express.psf.cix.xml`, both synthetic (modelled on `cbs-format.md` §1.3), and their errors.

use cbs::cix::{filetime_to_unix, BasisError, CixHash, ContainerIndex, SourceType};

const H1: &str = "b1c4000000000000000000000000000000000001";
const H2: &str = "116f000000000000000000000000000000000002";
const H3: &str = "aaaa000000000000000000000000000000000003";

fn ipd() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Container name="kb1234567.cab" type="CAB" length="176956" version="1" xmlns="urn:ContainerIndex"><Description/><Files>
<File id="42" name="update.mum" length="2338" time="129375347786139047" attr="32"><Hash alg="SHA1" value="{H1}"/><Delta><Source type="RAW" name="update.mum"><Hash alg="SHA1" value="{H1}"/></Source></Delta></File>
<File id="35" name="amd64_example.inf_31bf3856ad364e35_6.1.7600.21058_none_00dd69b71c9db771\example.sys" length="14848" time="129610512289389180" attr="32"><Hash alg="SHA1" value="{H2}"/><Delta><Source type="PA30" name="0"><Hash alg="SHA1" value="{H3}"/></Source></Delta></File>
<File id="36" name="amd64_example.inf_31bf3856ad364e35_6.1.7601.21824_none_02e05f1d19af3413\example.sys" length="14848" time="129610512289389180" attr="32"><Hash alg="SHA1" value="{H1}"/><Delta><Source type="PA30" name="1"><Hash alg="SHA1" value="{H2}"/></Source><Basis file="35"/></Delta></File>
<File id="37" name="amd64_example.inf_31bf3856ad364e35_6.1.7601.21824_none_02e05f1d19af3413\copy.sys" length="14848" time="129610512289389180" attr="32"><Hash alg="SHA1" value="{H1}"/><Delta><Basis file="36"/></Delta></File>
</Files></Container>"#
    )
}

const PSF: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<Container name="Windows11.0-KB5043080-x64.psf" type="PSF" length="123456789" version="2" xmlns="urn:ContainerIndex">
  <Description>express</Description>
  <DeltaBasisSearch>
    <Location id="1" path="$(runtime.windows)\WinSxS" flags="0"/>
    <Location path="$(runtime.windows)\WinSxS\Backup"/>
  </DeltaBasisSearch>
  <Files>
    <File id="1" name="amd64_example_31bf3856ad364e35_10.0.26100.1742_none_0000000000000000\f\example.dll" length="4096" time="133700000000000000" attr="128">
      <Hash alg="SHA256" value="2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824"/>
      <Delta><Source type="PA31" offset="0" length="1000"><Hash alg="SHA256" value="2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"/></Source></Delta>
    </File>
    <File id="2" name="raw.bin" length="10"><Delta><Source type="raw" offset="1000" length="10"/></Delta></File>
    <File id="3" name="old.bin" length="10"><Delta><Source type="PA19" offset="1010" length="5"/></Delta></File>
  </Files>
</Container>"#;

#[test]
fn ipd_index_with_raw_pa30_basis_and_copy_entries() {
    let index = ContainerIndex::parse(ipd().as_bytes(), "_manifest_.cix.xml").unwrap();
    assert_eq!(index.name, "kb1234567.cab");
    assert_eq!(index.container_type.as_deref(), Some("CAB"));
    assert_eq!(index.length, Some(176_956));
    assert_eq!(index.version.as_deref(), Some("1"));
    assert_eq!(index.description, None);
    assert_eq!(index.files.len(), 4);

    let mum = index.file_named("UPDATE.MUM").unwrap();
    assert_eq!((mum.id, mum.length, mum.time, mum.attr), (42, 2338, Some(129_375_347_786_139_047), Some(32)));
    assert_eq!(mum.hash.as_ref().unwrap().algorithm(), "SHA1");
    assert_eq!(mum.hash.as_ref().unwrap().bytes()[..2], [0xb1, 0xc4]);
    let source = mum.delta.as_ref().unwrap().source.as_ref().unwrap();
    assert_eq!(source.source_type, SourceType::Raw);
    assert_eq!(source.name.as_deref(), Some("update.mum"));
    assert_eq!((source.offset, source.length), (None, None));

    let patched = index.file(36).unwrap();
    assert!(patched.name.ends_with("\\example.sys"));
    let delta = patched.delta.as_ref().unwrap();
    assert_eq!(delta.source.as_ref().unwrap().source_type, SourceType::Pa30);
    assert_eq!(delta.source.as_ref().unwrap().name.as_deref(), Some("1"));
    assert!(matches!(delta.source.as_ref().unwrap().hash, Some(CixHash::Sha1(_))));
    assert_eq!(delta.basis, [35]);
    assert_eq!(delta.copy_of(), None);

    let copy = index.file(37).unwrap().delta.as_ref().unwrap();
    assert_eq!(copy.source, None);
    assert_eq!(copy.copy_of(), Some(36));

    assert_eq!(index.basis_chain(37), Ok(vec![37, 36, 35]));
    assert_eq!(index.basis_chain(42), Ok(vec![42]));
    assert_eq!(index.basis_chain(7), Err(BasisError::UnknownFile(7)));
}

#[test]
fn basis_loops_and_dangling_references_are_reported() {
    let looped = r#"<Container name="c"><Files>
<File id="1" name="a" length="1"><Delta><Source type="PA30" name="0"/><Basis file="2"/></Delta></File>
<File id="2" name="b" length="1"><Delta><Basis file="1"/></Delta></File>
<File id="3" name="c" length="1"><Delta><Basis file="9"/></Delta></File>
<File id="4" name="d" length="1"><Delta><Source type="PA30" name="1"/><Basis file="1"/><Basis file="2"/></Delta></File>
</Files></Container>"#;
    let index = ContainerIndex::parse(looped.as_bytes(), "loop.cix.xml").unwrap();
    assert_eq!(index.basis_chain(1), Err(BasisError::Cycle(1)));
    assert_eq!(index.basis_chain(3), Err(BasisError::UnknownFile(9)));
    assert_eq!(index.basis_chain(4), Err(BasisError::SeveralBases(4)));
}

#[test]
fn psf_index_with_basis_search_offsets_and_sha256() {
    let index = ContainerIndex::parse(PSF.as_bytes(), "express.psf.cix.xml").unwrap();
    assert_eq!(index.container_type.as_deref(), Some("PSF"));
    assert_eq!(index.description.as_deref(), Some("express"));
    assert_eq!(index.basis_search.len(), 2);
    assert_eq!(index.basis_search[0].id.as_deref(), Some("1"));
    assert_eq!(index.basis_search[0].path, "$(runtime.windows)\\WinSxS");
    assert_eq!(index.basis_search[0].flags.as_deref(), Some("0"));
    assert_eq!(index.basis_search[1].id, None);

    let dll = index.file(1).unwrap();
    let CixHash::Sha256(hash) = dll.hash.clone().unwrap() else { panic!("expected SHA-256") };
    assert_eq!(hash[..4], [0x2c, 0xf2, 0x4d, 0xba]);
    let source = dll.delta.as_ref().unwrap().source.as_ref().unwrap();
    assert_eq!(source.source_type, SourceType::Pa31);
    assert!(source.source_type.is_delta());
    assert_eq!((source.name.clone(), source.offset, source.length), (None, Some(0), Some(1000)));
    assert!(dll.delta.as_ref().unwrap().basis.is_empty());

    let types: Vec<&str> =
        index.files.iter().map(|f| f.delta.as_ref().unwrap().source.as_ref().unwrap().source_type.as_str()).collect();
    assert_eq!(types, ["PA31", "RAW", "PA19"]);
    assert_eq!(index.file(2).unwrap().time, None);
}

#[test]
fn filetime_converts_to_unix_time() {
    let cases: &[(u64, (i64, u32))] = &[
        (116_444_736_000_000_000, (0, 0)),
        (116_444_736_000_000_001, (0, 100)),
        (129_375_347_786_139_047, (1_293_061_178, 613_904_700)),
        (0, (-11_644_473_600, 0)),
    ];
    for &(filetime, expect) in cases {
        assert_eq!(filetime_to_unix(filetime), expect, "{filetime}");
    }
}

#[test]
fn broken_indexes_are_refused_naming_file_and_place() {
    let file = |inner: &str| format!("<Container name=\"c\"><Files>\n{inner}\n</Files></Container>");
    let cases: Vec<(String, &str, &str)> = vec![
        ("<Index/>".into(), "root element is <Index>, expected <Container>", "1:1"),
        ("<Container/>".into(), "<Container> has no \"name\" attribute", "1:1"),
        (file(r#"<File name="a" length="1"/>"#), "<File> has no \"id\" attribute", "2:1"),
        (file(r#"<File id="x" name="a" length="1"/>"#), "id=\"x\": expected a decimal number", "2:1"),
        (file(r#"<File id="1" name="a" length="99999999999999999999"/>"#), "number out of range", "2:1"),
        (file(r#"<File id="1" name="a"/>"#), "<File> has no \"length\" attribute", "2:1"),
        (
            file(r#"<File id="1" name="a" length="1"/><File id="1" name="b" length="1"/>"#),
            "another <File> has the same id",
            "2:35",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Hash alg="MD5" value="00"/></File>"#),
            "alg=\"MD5\": unsupported hash algorithm",
            "2:34",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Hash alg="SHA1" value="zz"/></File>"#),
            "value=\"zz\": expected 40 hex digits, found 2",
            "2:34",
        ),
        (
            file(
                r#"<File id="1" name="a" length="1"><Hash alg="SHA256" value="b1c4000000000000000000000000000000000001"/></File>"#,
            ),
            "expected 64 hex digits, found 40",
            "2:34",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Delta><Source type="LZX" name="0"/></Delta></File>"#),
            "type=\"LZX\": unknown source type",
            "2:41",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Delta><Source type="RAW"/></Delta></File>"#),
            "<Source> has neither a name nor an offset and length",
            "2:41",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Delta><Source type="RAW" offset="5"/></Delta></File>"#),
            "<Source> has no \"length\" attribute",
            "2:41",
        ),
        (
            file(
                r#"<File id="1" name="a" length="1"><Delta><Source type="RAW" offset="18446744073709551615" length="2"/></Delta></File>"#,
            ),
            "offset + length overflows",
            "2:41",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Delta/></File>"#),
            "<Delta> without <Source> must have exactly one <Basis>",
            "2:34",
        ),
        (
            file(
                r#"<File id="1" name="a" length="1"><Delta><Source type="RAW" name="a"/><Source type="RAW" name="b"/></Delta></File>"#,
            ),
            "<Delta> has more than one <Source>",
            "2:70",
        ),
        (
            file(r#"<File id="1" name="a" length="1"><Delta><Basis/></Delta></File>"#),
            "<Basis> has no \"file\" attribute",
            "2:41",
        ),
    ];
    for (text, message, place) in &cases {
        let err = ContainerIndex::parse(text.as_bytes(), "_manifest_.cix.xml").unwrap_err();
        let shown = err.to_string();
        assert!(shown.starts_with(&format!("_manifest_.cix.xml:{place}: ")), "{shown}");
        assert!(shown.contains(message), "{shown}");
    }
}
