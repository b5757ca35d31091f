//! The codec's error type: small and cheap to return from hot decode loops.

/// Why a column could not be encoded or a meta blob or page could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The bytes ended before the encoding said they would.
    #[error("codec data is truncated")]
    Truncated,
    /// The meta starts with a tag this build does not know (or a tag of the other
    /// column type: an f64 meta handed to the i64 decoder).
    #[error("unknown codec encoding tag {0:#04x} (corrupt data, or written by a newer nines)")]
    UnknownEncoding(u8),
    /// The bytes break a rule of the format; the text names the rule.
    #[error("invalid codec data: {0}")]
    Invalid(&'static str),
    /// The pco entropy coder refused a meta or page.
    #[error("pco: {0}")]
    Pco(Box<str>),
}

impl From<pco::errors::PcoError> for CodecError {
    fn from(e: pco::errors::PcoError) -> Self {
        CodecError::Pco(e.to_string().into_boxed_str())
    }
}
