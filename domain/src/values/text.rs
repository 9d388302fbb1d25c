//! Rules for free text (no control characters; line breaks only where a field may
//! span lines), clipping input quoted back in errors, and the serde plumbing shared
//! by the string newtypes (`string_newtype_serde!`, declared first so the modules
//! after it can use it).

/// Whether a field of free text may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Names, organisation names, contact lines, API key names: one line.
    SingleLine,
    /// Descriptions: line feeds (`\n`) and tabs (`\t`) allowed, nothing else.
    MultiLine,
}

/// The text rule for free text CareLedger stores (service and organisation
/// names, descriptions, contact lines, API key names; the HSDS import and the
/// command line go through the same validating types): the first character it
/// may not hold, if any.
///
/// Refused: every Unicode control character (C0 including NUL, ESC — the start
/// of ANSI escapes — CR and LF; DEL; C1), the line and paragraph separators
/// U+2028 and U+2029, and the bidirectional embedding, override and isolate
/// controls (U+202A–U+202E, U+2066–U+2069), which make a text display otherwise
/// than it reads. A [`TextKind::MultiLine`] field may hold `\n` and `\t`.
pub fn forbidden_char(s: &str, kind: TextKind) -> Option<char> {
    s.chars().find(|&c| {
        let allowed_break = kind == TextKind::MultiLine && (c == '\n' || c == '\t');
        !allowed_break
            && (c.is_control()
                || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
    })
}

/// The text with every character [`forbidden_char`] would refuse (line breaks
/// included) written as an escape (`\u{1b}`, `\n`), for a log line or a terminal:
/// text from outside never reaches either with its control characters live.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if forbidden_char(s, TextKind::SingleLine).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if forbidden_char(c.encode_utf8(&mut [0; 4]), TextKind::SingleLine).is_some() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Shortens user input quoted back in an error so an error never echoes a huge payload.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(MAX).collect();
        out.push('…');
        out
    }
}

macro_rules! string_newtype_serde {
    ($name:ident) => {
        impl TryFrom<CompactString> for $name {
            type Error = ValueError;
            /// Validates and keeps the given string (decoding stored events goes
            /// through here, so it matters: short ones never touch the heap).
            fn try_from(s: CompactString) -> Result<Self, ValueError> {
                match Self::check(&s) {
                    Ok(()) => Ok(Self(super::Atom::new(&s))),
                    // Not in canonical form: parse normalises (or refuses).
                    Err(_) => Self::parse(&s),
                }
            }
        }
        impl TryFrom<String> for $name {
            type Error = ValueError;
            fn try_from(s: String) -> Result<Self, ValueError> {
                Self::try_from(CompactString::from(s))
            }
        }
        impl From<$name> for CompactString {
            fn from(v: $name) -> CompactString {
                CompactString::from(v.0.as_str())
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0.as_str().to_string()
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $name {
            pub fn as_str(&self) -> &'static str {
                self.0.as_str()
            }
        }
    };
}
