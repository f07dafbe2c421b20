//! The flat XML of WeCom and WeChat callbacks: one root (`<xml>`) whose children each hold a
//! text value, written as CDATA or as escaped text. Nested elements (the few events that have
//! them) are skipped; Tandem reads only the top level.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

use super::CallbackError;

/// The root's children in document order, as (name, text).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first child named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(field, _)| field == name).map(|(_, value)| value.as_str())
    }

    /// The first child named `name`, which must be there.
    pub(crate) fn require(&self, name: &str) -> Result<&str, CallbackError> {
        self.get(name)
            .ok_or_else(|| CallbackError::Malformed(format!("the callback has no <{name}>")))
    }
}

fn malformed(error: impl std::fmt::Display) -> CallbackError {
    CallbackError::Malformed(format!("the callback is not well-formed XML: {error}"))
}

/// The element being read: its name and its content in pieces, each CDATA or not. When CDATA
/// is part of it, whitespace-only text around the CDATA is layout, not content.
#[derive(Default)]
struct Value {
    name: String,
    pieces: Vec<(bool, String)>,
}

impl Value {
    fn finish(self) -> (String, String) {
        let has_cdata = self.pieces.iter().any(|(cdata, _)| *cdata);
        let text = self
            .pieces
            .into_iter()
            .filter(|(cdata, piece)| *cdata || !has_cdata || !piece.trim().is_empty())
            .map(|(_, piece)| piece)
            .collect();
        (self.name, text)
    }
}

pub(crate) fn parse(xml: &str) -> Result<Fields, CallbackError> {
    let mut reader = Reader::from_str(xml);
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut current: Option<Value> = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(start) => {
                if depth == 0 && root_seen {
                    return Err(malformed("more than one root element"));
                }
                root_seen = true;
                depth += 1;
                if depth == 2 {
                    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                    current = Some(Value { name, ..Value::default() });
                }
            }
            Event::Empty(empty) => {
                if depth == 0 && root_seen {
                    return Err(malformed("more than one root element"));
                }
                root_seen = true;
                if depth == 1 {
                    let name = String::from_utf8_lossy(empty.local_name().as_ref()).into_owned();
                    fields.push((name, String::new()));
                }
            }
            Event::End(_) => {
                if depth == 2
                    && let Some(value) = current.take()
                {
                    fields.push(value.finish());
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(text) if depth == 2 => {
                let text = text.xml10_content().map_err(malformed)?;
                if let Some(value) = current.as_mut() {
                    value.pieces.push((false, text.into_owned()));
                }
            }
            Event::CData(cdata) if depth == 2 => {
                let text = cdata.decode().map_err(malformed)?;
                if let Some(value) = current.as_mut() {
                    value.pieces.push((true, text.into_owned()));
                }
            }
            Event::GeneralRef(reference) if depth == 2 => {
                let resolved = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(ch) => ch.to_string(),
                    None => {
                        let name = reference.decode().map_err(malformed)?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                if let Some(value) = current.as_mut() {
                    value.pieces.push((false, resolved));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !root_seen {
        return Err(CallbackError::Malformed("the callback body has no XML element".to_owned()));
    }
    if depth != 0 {
        return Err(malformed("an element is not closed"));
    }
    Ok(Fields(fields))
}

/// `text` as one or more CDATA sections: a `]]>` inside it would end the section early, so it
/// is split between two sections (`]]` closes the first, `>` opens the second).
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// `text` escaped for element content.
pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cdata_text_and_entities() {
        let fields = parse(
            "<?xml version=\"1.0\"?>\n<xml>\n  <A><![CDATA[a <b> & c]]></A>\n  <B>x &amp; y &#x4e2d;&#25991;</B>\n  \
             <C>\n    <![CDATA[kept]]>\n  </C>\n  <D>  spaced  </D>\n  <E/>\n  \
             <Nested><Inner>skip</Inner></Nested>\n  <F><![CDATA[one]]]]><![CDATA[>two]]></F>\n</xml>",
        )
        .unwrap();
        assert_eq!(fields.get("A"), Some("a <b> & c"));
        assert_eq!(fields.get("B"), Some("x & y 中文"));
        assert_eq!(fields.get("C"), Some("kept"));
        assert_eq!(fields.get("D"), Some("  spaced  "));
        assert_eq!(fields.get("E"), Some(""));
        assert_eq!(fields.get("Inner"), None);
        assert_eq!(fields.get("F"), Some("one]]>two"));
        assert!(
            matches!(fields.require("G"), Err(CallbackError::Malformed(m)) if m.contains("<G>"))
        );
    }

    #[test]
    fn cdata_splits_its_terminator() {
        for text in ["plain", "a]]>b", "]]>]]>", "]]", "<&>"] {
            let xml = format!("<xml><V>{}</V><W>{}</W></xml>", cdata(text), escape(text));
            let fields = parse(&xml).unwrap();
            assert_eq!(fields.get("V"), Some(text), "{xml}");
            assert_eq!(fields.get("W"), Some(text), "{xml}");
        }
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for body in [
            "",
            "just text",
            "<xml><A>1</B></xml>",
            "<xml><A>1</A>",
            "<xml><A>&bogus;</A></xml>",
            "<xml></xml><xml></xml>",
        ] {
            assert!(
                matches!(parse(body), Err(CallbackError::Malformed(_))),
                "{body:?} was accepted"
            );
        }
    }
}
