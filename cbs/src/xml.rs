//! A small, bounded XML front end over `quick-xml`, shared by the `.mum`, `.manifest` and `.cix.xml`
//! readers.
//!
//! Package files come from the network, so the reader is written for hostile input:
//!
//! - the input size, element depth, attributes per element and element count are capped
//!   ([`Limits`]);
//! - there is no DTD processing at all: `<!DOCTYPE …>` and `<!ENTITY …>` are refused, and the only
//!   entity references accepted are the five predefined ones (`&lt;` `&gt;` `&amp;` `&apos;`
//!   `&quot;`) and character references, so nothing can expand (no "billion laughs");
//! - UTF-8 with or without a byte-order mark is accepted, and so is UTF-16 with a byte-order mark;
//!   the XML declaration may use single or double quotes (both occur in real packages,
//!   `cbs-format.md` §1.3);
//! - every error names the file and the line and column (characters, 1-based) where it was found.
//!
//! The result is a plain tree of [`Element`]s. Names are local names: the prefix is dropped
//! (`mum2:packageExtended` is `packageExtended`, `dsig:DigestValue` is `DigestValue`) and the
//! `xmlns` declarations are not kept as attributes. Whitespace-only text is dropped; other text is
//! kept per element, with XML 1.0 end-of-line normalisation.

use std::fmt;

use quick_xml::escape::EscapeError;
use quick_xml::events::Event;
use quick_xml::Reader;
use thiserror::Error;

use crate::identity::{AssemblyIdentity, Version};

/// Caps applied while reading one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes (before any UTF-16 decoding).
    pub max_input_bytes: usize,
    /// Deepest accepted element nesting; the root element is depth 1.
    pub max_depth: usize,
    /// Most attributes on one element (namespace declarations count too).
    pub max_attributes: usize,
    /// Most elements in one document.
    pub max_elements: usize,
}

impl Limits {
    /// 16 MiB of input. The largest known package files (LCU `update.mum`) are a few MiB.
    pub const DEFAULT_MAX_INPUT_BYTES: usize = 16 << 20;
    /// 64 levels. Real manifests nest at most about ten deep (`taskScheduler` blocks).
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// 64 attributes. Real elements carry at most about ten.
    pub const DEFAULT_MAX_ATTRIBUTES: usize = 64;
    /// 1 Mi elements, which bounds the memory of the tree to a few hundred MiB even for input made
    /// of nothing but `<a/>`.
    pub const DEFAULT_MAX_ELEMENTS: usize = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: Self::DEFAULT_MAX_INPUT_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_attributes: Self::DEFAULT_MAX_ATTRIBUTES,
            max_elements: Self::DEFAULT_MAX_ELEMENTS,
        }
    }
}

/// An error while reading an XML package file: where it happened and what it is.
///
/// Displayed as `file:line:column: message`. Line and column are 1-based; the column counts
/// characters. Errors found before parsing starts (input too large) point at 1:1.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}:{column}: {kind}")]
pub struct XmlError {
    /// The file name given to the parser.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What is wrong (boxed to keep `Result<_, XmlError>` small).
    pub kind: Box<XmlErrorKind>,
}

impl XmlError {
    /// An error at the position of `element`.
    pub fn at(file: &str, element: &Element, kind: XmlErrorKind) -> Self {
        XmlError { file: file.to_owned(), line: element.line, column: element.column, kind: Box::new(kind) }
    }

    /// A missing required attribute on `element`.
    pub fn missing_attribute(file: &str, element: &Element, attribute: &str) -> Self {
        Self::at(
            file,
            element,
            XmlErrorKind::MissingAttribute { element: element.name.clone(), attribute: attribute.to_owned() },
        )
    }

    /// A missing required child element of `element`.
    pub fn missing_child(file: &str, element: &Element, child: &str) -> Self {
        Self::at(file, element, XmlErrorKind::MissingChild { element: element.name.clone(), child: child.to_owned() })
    }

    /// An attribute value (or, with `attribute` naming the text, element content) that cannot be
    /// used.
    pub fn invalid_value(
        file: &str,
        element: &Element,
        attribute: &str,
        value: &str,
        reason: impl Into<String>,
    ) -> Self {
        Self::at(
            file,
            element,
            XmlErrorKind::InvalidValue {
                element: element.name.clone(),
                attribute: attribute.to_owned(),
                value: truncate_for_message(value),
                reason: reason.into(),
            },
        )
    }
}

/// The kinds of [`XmlError`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlErrorKind {
    /// The input is larger than [`Limits::max_input_bytes`].
    #[error("input is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Elements nest deeper than [`Limits::max_depth`].
    #[error("elements nest deeper than the limit of {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// An element has more attributes than [`Limits::max_attributes`].
    #[error("<{element}> has more than the limit of {limit} attributes")]
    TooManyAttributes {
        /// The element.
        element: String,
        /// The limit.
        limit: usize,
    },
    /// The document has more elements than [`Limits::max_elements`].
    #[error("more than the limit of {limit} elements")]
    TooManyElements {
        /// The limit.
        limit: usize,
    },
    /// `<!DOCTYPE …>` or `<!ENTITY …>`: DTDs are not processed, so entities cannot be declared.
    #[error("{markup} refused: DTDs are not processed, so no entity can be declared or expanded")]
    DtdRefused {
        /// `<!DOCTYPE` or `<!ENTITY`.
        markup: &'static str,
    },
    /// A reference to an entity other than the five predefined ones.
    #[error(
        "entity reference &{name}; refused: only &lt; &gt; &amp; &apos; &quot; and character references are allowed"
    )]
    EntityRefused {
        /// The entity name.
        name: String,
    },
    /// The bytes are not text in a supported encoding, or the declaration names another one.
    #[error("encoding: {0}")]
    Encoding(String),
    /// A character XML 1.0 does not allow (C0 controls other than tab, LF and CR, such as ESC and
    /// BEL; U+FFFE; U+FFFF), written raw or as a character reference.
    #[error("character U+{code:04X} is not allowed in XML 1.0")]
    InvalidCharacter {
        /// The character's code point.
        code: u32,
    },
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// A compressed (DCM) manifest that could not be decoded ([`crate::dcm`]).
    #[error("compressed manifest: {0}")]
    Compressed(String),
    /// The root element is not the one this file type has.
    #[error("root element is <{found}>, expected <{expected}>")]
    UnexpectedRoot {
        /// The root this reader needs.
        expected: String,
        /// The root the file has.
        found: String,
    },
    /// A required attribute is absent.
    #[error("<{element}> has no {attribute:?} attribute")]
    MissingAttribute {
        /// The element.
        element: String,
        /// The attribute.
        attribute: String,
    },
    /// A required child element is absent.
    #[error("<{element}> has no <{child}> element")]
    MissingChild {
        /// The element.
        element: String,
        /// The missing child.
        child: String,
    },
    /// A value that cannot be used.
    #[error("<{element}> {attribute}={value:?}: {reason}")]
    InvalidValue {
        /// The element.
        element: String,
        /// The attribute, or a description such as `text` for element content.
        attribute: String,
        /// The value as written (truncated when long).
        value: String,
        /// Why it is unusable.
        reason: String,
    },
    /// Any other violation of the file type's structure.
    #[error("{0}")]
    Invalid(String),
}

/// One attribute: local name and value (entity references resolved, whitespace normalised as XML
/// 1.0 does for attribute values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Local name (prefix dropped).
    pub name: String,
    /// Value.
    pub value: String,
}

/// One element of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Local name (prefix dropped).
    pub name: String,
    /// Attributes in document order, without namespace declarations.
    pub attributes: Vec<Attribute>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// The element's own text (CDATA included), concatenated; empty when it only had whitespace.
    pub text: String,
    /// 1-based line of the `<` that opens the element.
    pub line: u32,
    /// 1-based column (characters) of that `<`.
    pub column: u32,
}

impl Element {
    /// The value of the attribute with this local name (case-sensitive, as XML is).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|a| a.name == name).map(|a| a.value.as_str())
    }

    /// The value of a required attribute, or an error naming the element.
    pub fn required_attr(&self, file: &str, name: &str) -> Result<&str, XmlError> {
        self.attr(name).ok_or_else(|| XmlError::missing_attribute(file, self, name))
    }

    /// The children with this local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first child with this local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child with this local name, or an error naming the element.
    pub fn required_child(&self, file: &str, name: &str) -> Result<&Element, XmlError> {
        self.child(name).ok_or_else(|| XmlError::missing_child(file, self, name))
    }

    /// Visits this element and all its descendants, depth first, in document order.
    pub fn walk(&self, visit: &mut impl FnMut(&Element)) {
        // Depth is capped by `Limits::max_depth`, so recursion is bounded.
        visit(self);
        for child in &self.children {
            child.walk(visit);
        }
    }
}

/// A parsed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The file name given to the parser (used in errors).
    pub file: String,
    /// The root element.
    pub root: Element,
    /// True when the input started with a byte-order mark.
    pub had_bom: bool,
    /// True when the input had an XML declaration.
    pub had_declaration: bool,
}

impl Document {
    /// Checks that the root element has this local name.
    pub fn expect_root(&self, name: &str) -> Result<&Element, XmlError> {
        if self.root.name == name {
            Ok(&self.root)
        } else {
            Err(XmlError::at(
                &self.file,
                &self.root,
                XmlErrorKind::UnexpectedRoot { expected: name.to_owned(), found: self.root.name.clone() },
            ))
        }
    }
}

/// Parses `bytes` with the default [`Limits`]. `file` is only used in error messages.
pub fn parse(bytes: &[u8], file: &str) -> Result<Document, XmlError> {
    parse_with_limits(bytes, file, &Limits::default())
}

/// Parses `bytes` with explicit limits.
pub fn parse_with_limits(bytes: &[u8], file: &str, limits: &Limits) -> Result<Document, XmlError> {
    let fail_at_start = |kind| XmlError { file: file.to_owned(), line: 1, column: 1, kind: Box::new(kind) };
    if bytes.len() > limits.max_input_bytes {
        return Err(fail_at_start(XmlErrorKind::TooLarge { size: bytes.len(), limit: limits.max_input_bytes }));
    }
    let (text, had_bom, utf16) = decode(bytes).map_err(|(offset, message)| {
        let (line, column) = byte_position(bytes, offset);
        XmlError { file: file.to_owned(), line, column, kind: Box::new(XmlErrorKind::Encoding(message)) }
    })?;
    if let Some((offset, c)) = text.char_indices().find(|&(_, c)| !is_xml_char(c)) {
        let (line, column) = line_column(&text, offset);
        return Err(XmlError {
            file: file.to_owned(),
            line,
            column,
            kind: Box::new(XmlErrorKind::InvalidCharacter { code: u32::from(c) }),
        });
    }
    let mut parser = Parser { file, src: &text, limits, utf16, tracker: Tracker::new() };
    let (root, had_declaration) = parser.run()?;
    Ok(Document { file: file.to_owned(), root, had_bom, had_declaration })
}

/// Strips a byte-order mark and checks the encoding. Returns the text, whether there was a BOM and
/// whether it was UTF-16. Errors carry a byte offset into `bytes`.
fn decode(bytes: &[u8]) -> Result<(std::borrow::Cow<'_, str>, bool, bool), (usize, String)> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(rest).map_err(|e| (3 + e.valid_up_to(), "invalid UTF-8".to_owned()))?;
        return Ok((text.into(), true, false));
    }
    let utf16 = if bytes.starts_with(b"\xFF\xFE") {
        Some(false)
    } else if bytes.starts_with(b"\xFE\xFF") {
        Some(true)
    } else {
        None
    };
    if let Some(big_endian) = utf16 {
        let body = &bytes[2..];
        if !body.len().is_multiple_of(2) {
            return Err((bytes.len() - 1, "UTF-16 input has an odd number of bytes".to_owned()));
        }
        let units = body.chunks_exact(2).map(|p| {
            if big_endian {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                u16::from_le_bytes([p[0], p[1]])
            }
        });
        let mut text = String::with_capacity(body.len() / 2);
        for (i, c) in char::decode_utf16(units).enumerate() {
            text.push(c.map_err(|_| (2 + 2 * i, "invalid UTF-16 (unpaired surrogate)".to_owned()))?);
        }
        return Ok((text.into(), true, true));
    }
    if bytes.len() >= 2 && (bytes[0] == 0 || bytes[1] == 0) {
        return Err((0, "UTF-16 without a byte-order mark is not supported".to_owned()));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| (e.valid_up_to(), "invalid UTF-8".to_owned()))?;
    Ok((text.into(), false, false))
}

/// Whether XML 1.0 allows `c` (production `Char`; surrogates cannot occur in a `char`). Package
/// metadata ends up in the image's registry and on terminals, where ESC or BEL would be live.
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..) && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Line and column of a byte offset in undecoded input (for encoding errors).
fn byte_position(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = 1 + before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count();
    (clamp_u32(line), clamp_u32(column))
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn truncate_for_message(value: &str) -> String {
    const MAX: usize = 120;
    if value.chars().count() <= MAX {
        value.to_owned()
    } else {
        let mut out: String = value.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

/// Turns byte offsets into line/column, walking forward only (offsets of element starts only
/// grow), so the whole document costs one pass.
struct Tracker {
    offset: usize,
    line: u32,
    column: u32,
}

impl Tracker {
    fn new() -> Self {
        Tracker { offset: 0, line: 1, column: 1 }
    }

    fn advance(&mut self, src: &str, offset: usize) -> (u32, u32) {
        let offset = offset.min(src.len());
        if offset < self.offset {
            return line_column(src, offset);
        }
        for &b in &src.as_bytes()[self.offset..offset] {
            if b == b'\n' {
                self.line = self.line.saturating_add(1);
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                self.column = self.column.saturating_add(1);
            }
        }
        self.offset = offset;
        (self.line, self.column)
    }
}

/// Line and column of a byte offset into decoded text, from scratch.
fn line_column(src: &str, offset: usize) -> (u32, u32) {
    byte_position(src.as_bytes(), offset)
}

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
    limits: &'a Limits,
    utf16: bool,
    tracker: Tracker,
}

impl Parser<'_> {
    fn error(&self, offset: usize, kind: XmlErrorKind) -> XmlError {
        let (line, column) = line_column(self.src, offset);
        XmlError { file: self.file.to_owned(), line, column, kind: Box::new(kind) }
    }

    fn malformed(&self, offset: usize, message: impl fmt::Display) -> XmlError {
        self.error(offset, XmlErrorKind::Malformed(message.to_string()))
    }

    fn run(&mut self) -> Result<(Element, bool), XmlError> {
        let src = self.src;
        let mut reader = Reader::from_str(src);
        {
            let config = reader.config_mut();
            config.check_end_names = true;
            config.check_comments = true;
            config.allow_unmatched_ends = false;
            config.allow_dangling_amp = false;
            config.expand_empty_elements = false;
            config.trim_text(false);
        }
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let mut had_declaration = false;
        let mut elements = 0usize;
        loop {
            let start = to_usize(reader.buffer_position());
            let event = match reader.read_event() {
                Ok(event) => event,
                Err(err) => return Err(self.map_reader_error(err, to_usize(reader.error_position()))),
            };
            match event {
                Event::Decl(decl) => {
                    if start != 0 {
                        return Err(self.malformed(start, "the XML declaration must be at the very start"));
                    }
                    self.check_declaration(&decl, start)?;
                    had_declaration = true;
                }
                Event::DocType(_) => {
                    return Err(self.error(start, XmlErrorKind::DtdRefused { markup: "<!DOCTYPE" }));
                }
                Event::Start(_) | Event::Empty(_) if root.is_some() && stack.is_empty() => {
                    return Err(self.malformed(start, "more than one root element"));
                }
                Event::Start(ref tag) | Event::Empty(ref tag) => {
                    let is_empty = matches!(event, Event::Empty(_));
                    if stack.len() >= self.limits.max_depth {
                        return Err(self.error(start, XmlErrorKind::TooDeep { limit: self.limits.max_depth }));
                    }
                    elements += 1;
                    if elements > self.limits.max_elements {
                        return Err(
                            self.error(start, XmlErrorKind::TooManyElements { limit: self.limits.max_elements })
                        );
                    }
                    let element = self.element(tag, start)?;
                    if is_empty {
                        attach(&mut stack, &mut root, element);
                    } else {
                        stack.push(element);
                    }
                }
                Event::End(_) => {
                    // quick-xml has already checked that the name matches the open element.
                    let Some(element) = stack.pop() else {
                        return Err(self.malformed(start, "closing tag without an open element"));
                    };
                    attach(&mut stack, &mut root, element);
                }
                Event::Text(text) => {
                    let content = text.xml10_content();
                    self.add_text(&mut stack, &content, start)?;
                }
                Event::CData(cdata) => {
                    let content = cdata.xml10_content();
                    match stack.last_mut() {
                        Some(top) => top.text.push_str(&content),
                        None => return Err(self.malformed(start, "CDATA outside the root element")),
                    }
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) => match predefined_entity(&reference) {
                            Some(c) => c,
                            None => {
                                return Err(
                                    self.error(start, XmlErrorKind::EntityRefused { name: reference.to_string() })
                                )
                            }
                        },
                        Err(err) => return Err(self.malformed(start, err)),
                    };
                    if !is_xml_char(resolved) {
                        return Err(self.error(start, XmlErrorKind::InvalidCharacter { code: u32::from(resolved) }));
                    }
                    let mut buf = [0u8; 4];
                    self.add_text(&mut stack, resolved.encode_utf8(&mut buf), start)?;
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = stack.last() {
            let (line, column) = (open.line, open.column);
            return Err(self.malformed(
                src.len(),
                format!("unexpected end of input: <{}> opened at {line}:{column} is not closed", open.name),
            ));
        }
        match root {
            Some(root) => Ok((root, had_declaration)),
            None => Err(self.malformed(src.len(), "no root element")),
        }
    }

    fn add_text(&self, stack: &mut [Element], content: &str, offset: usize) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(top) => {
                // Whitespace between child elements is layout; only keep it once real text started.
                if !top.text.is_empty() || !content.trim().is_empty() {
                    top.text.push_str(content);
                }
                Ok(())
            }
            None if content.trim().is_empty() => Ok(()),
            None => Err(self.malformed(offset, "text outside the root element")),
        }
    }

    fn check_declaration(&self, decl: &quick_xml::events::BytesDecl<'_>, offset: usize) -> Result<(), XmlError> {
        let version = decl.version().map_err(|e| self.malformed(offset, e))?;
        if version.as_ref() != "1.0" {
            return Err(self.malformed(offset, format!("XML version {version:?} is not supported (only 1.0)")));
        }
        if let Some(encoding) = decl.encoding() {
            let encoding = encoding.map_err(|e| self.malformed(offset, e))?;
            let name = encoding.to_ascii_lowercase();
            let ok = match name.as_str() {
                "utf-8" | "utf8" => !self.utf16,
                "utf-16" | "utf-16le" | "utf-16be" | "unicode" => self.utf16,
                _ => false,
            };
            if !ok {
                let actual = if self.utf16 { "UTF-16" } else { "UTF-8" };
                return Err(self.error(
                    offset,
                    XmlErrorKind::Encoding(format!("declared encoding {encoding:?} does not match the {actual} input")),
                ));
            }
        }
        Ok(())
    }

    fn element(&mut self, tag: &quick_xml::events::BytesStart<'_>, start: usize) -> Result<Element, XmlError> {
        let name = utf8_name(tag.local_name().into_inner()).map_err(|e| self.malformed(start, e))?;
        let mut attributes = Vec::new();
        let mut count = 0usize;
        let mut iter = tag.attributes();
        iter.with_checks(true);
        for attr in iter {
            count += 1;
            if count > self.limits.max_attributes {
                return Err(self.error(
                    start,
                    XmlErrorKind::TooManyAttributes { element: name, limit: self.limits.max_attributes },
                ));
            }
            let attr = attr.map_err(|e| self.malformed(start, format!("in <{name}>: {e}")))?;
            let key = attr.key.into_inner();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let local = utf8_name(attr.key.local_name().into_inner()).map_err(|e| self.malformed(start, e))?;
            let value = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0).map_err(|e| match e {
                quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, entity)) => {
                    self.error(start, XmlErrorKind::EntityRefused { name: entity })
                }
                other => self.malformed(start, format!("attribute {local:?} of <{name}>: {other}")),
            })?;
            // A character reference (`&#27;`) can still bring in what the raw text may not hold.
            if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                return Err(self.error(start, XmlErrorKind::InvalidCharacter { code: u32::from(c) }));
            }
            attributes.push(Attribute { name: local, value: value.into_owned() });
        }
        let (line, column) = self.tracker.advance(self.src, start);
        Ok(Element { name, attributes, children: Vec::new(), text: String::new(), line, column })
    }

    fn map_reader_error(&self, err: quick_xml::Error, offset: usize) -> XmlError {
        let rest = &self.src.as_bytes()[offset.min(self.src.len())..];
        if starts_with_ignore_case(rest, b"<!ENTITY") {
            return self.error(offset, XmlErrorKind::DtdRefused { markup: "<!ENTITY" });
        }
        if starts_with_ignore_case(rest, b"<!DOCTYPE") {
            return self.error(offset, XmlErrorKind::DtdRefused { markup: "<!DOCTYPE" });
        }
        match err {
            quick_xml::Error::Escape(EscapeError::UnrecognizedEntity(_, entity)) => {
                self.error(offset, XmlErrorKind::EntityRefused { name: entity })
            }
            other => self.malformed(offset, other),
        }
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn predefined_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => None,
    }
}

fn utf8_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        Err("empty name".to_owned())
    } else {
        Ok(name.to_owned())
    }
}

fn starts_with_ignore_case(haystack: &[u8], prefix: &[u8]) -> bool {
    haystack.len() >= prefix.len() && haystack[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Reads an `<assemblyIdentity>`-like element (`assemblyIdentity`, `installerAssembly`, …) into an
/// [`AssemblyIdentity`]. `name` is required; `version`, when present, must be a four-part version,
/// and is required when `require_version` is set.
pub(crate) fn assembly_identity(
    file: &str,
    element: &Element,
    require_version: bool,
) -> Result<AssemblyIdentity, XmlError> {
    let name = element.required_attr(file, "name")?;
    if name.trim().is_empty() {
        return Err(XmlError::invalid_value(file, element, "name", name, "the name is empty"));
    }
    let version = match element.attr("version") {
        Some(text) => {
            Some(Version::parse(text).map_err(|e| XmlError::invalid_value(file, element, "version", text, e.reason))?)
        }
        None if require_version => return Err(XmlError::missing_attribute(file, element, "version")),
        None => None,
    };
    let owned = |attr: &str| element.attr(attr).map(str::to_owned);
    let identity = AssemblyIdentity {
        name: name.to_owned(),
        version,
        processor_architecture: owned("processorArchitecture"),
        language: owned("language"),
        public_key_token: owned("publicKeyToken"),
        build_type: owned("buildType"),
        version_scope: owned("versionScope"),
        type_name: owned("type"),
    };
    // Identity values become file names: refuse one that could leave its folder, naming the field.
    if let Some((attribute, value, reason)) = identity.unsafe_field() {
        return Err(XmlError::invalid_value(file, element, attribute, value, reason));
    }
    Ok(identity)
}

/// Parses a yes/no flag as manifests write them (`yes`, `no`, `true`, `false`, any case).
pub(crate) fn flag(file: &str, element: &Element, attribute: &str) -> Result<Option<bool>, XmlError> {
    match element.attr(attribute) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("no") || v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(XmlError::invalid_value(file, element, attribute, v, "expected yes, no, true or false")),
    }
}

/// Parses an unsigned decimal attribute.
pub(crate) fn number<T: std::str::FromStr>(
    file: &str,
    element: &Element,
    attribute: &str,
) -> Result<Option<T>, XmlError> {
    match element.attr(attribute) {
        None => Ok(None),
        Some(v) => {
            let trimmed = v.trim();
            if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
                return Err(XmlError::invalid_value(file, element, attribute, v, "expected a decimal number"));
            }
            trimmed
                .parse()
                .map(Some)
                .map_err(|_| XmlError::invalid_value(file, element, attribute, v, "number out of range"))
        }
    }
}
