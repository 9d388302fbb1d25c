//! The text of a note on a referral (issue 16): free text between the
//! coordinator and the provider. It is never stored in clear — the application
//! seals it under the recipient's key before the event that carries it is
//! written (see [`crate::personal::KeyVault::seal_note`]) — and never shown in
//! a log or an error message (`Debug` is redacted; refusals do not quote it).

/// The longest a note may be, in characters.
pub const MAX_NOTE_CHARS: usize = 2_000;

/// A checked note: trimmed, 1 to [`MAX_NOTE_CHARS`] characters, no control
/// characters but line feeds (a `\r\n` line break counts as `\n`).
#[derive(Clone, PartialEq, Eq)]
pub struct NoteText(String);

impl std::fmt::Debug for NoteText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoteText(redacted)")
    }
}

/// Why a note's text was refused. The messages never quote the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoteTextError {
    #[error("a note needs some text")]
    Empty,
    #[error("a note holds at most {MAX_NOTE_CHARS} characters")]
    TooLong,
    #[error(
        "a note may hold line breaks but no other control characters (tabs, escapes, bidirectional controls)"
    )]
    ControlCharacters,
}

impl NoteTextError {
    pub fn code(self) -> &'static str {
        match self {
            NoteTextError::Empty => "EMPTY_NOTE",
            NoteTextError::TooLong => "NOTE_TOO_LONG",
            NoteTextError::ControlCharacters => "CONTROL_CHARACTERS",
        }
    }
}

impl NoteText {
    /// Checks and trims a note.
    ///
    /// # Errors
    /// [`NoteTextError`]: empty once trimmed, too long, or holding control
    /// characters other than line feeds.
    pub fn new(text: &str) -> Result<Self, NoteTextError> {
        let text = text.replace("\r\n", "\n");
        let text = text.trim();
        if text.is_empty() {
            return Err(NoteTextError::Empty);
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            return Err(NoteTextError::TooLong);
        }
        if text.contains('\t')
            || crate::values::forbidden_char(text, crate::values::TextKind::MultiLine).is_some()
        {
            return Err(NoteTextError::ControlCharacters);
        }
        Ok(NoteText(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_checked_and_never_debug_printed() {
        let n = NoteText::new("  Called Anna:\r\nstarts Monday. ").unwrap();
        assert_eq!(n.as_str(), "Called Anna:\nstarts Monday.");
        assert!(!format!("{n:?}").contains("Anna"));
        assert_eq!(NoteText::new(" \n "), Err(NoteTextError::Empty));
        assert!(NoteText::new(&"é".repeat(MAX_NOTE_CHARS)).is_ok());
        assert_eq!(
            NoteText::new(&"é".repeat(MAX_NOTE_CHARS + 1)),
            Err(NoteTextError::TooLong)
        );
        for bad in ["a\tb", "a\u{1b}[31mb", "a\rb", "a\u{202e}b", "a\0b"] {
            assert_eq!(
                NoteText::new(bad),
                Err(NoteTextError::ControlCharacters),
                "{}",
                bad.escape_debug()
            );
        }
        for e in [
            NoteTextError::Empty,
            NoteTextError::TooLong,
            NoteTextError::ControlCharacters,
        ] {
            assert!(!e.to_string().contains("Anna"));
        }
    }
}
