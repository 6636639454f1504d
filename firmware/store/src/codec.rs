//! Versioned postcard encoding for everything stored in sled.
//!
//! postcard has no schema evolution, so every stored value starts with a
//! one-byte format version. A reader that meets a version it does not know
//! refuses the record with a typed error instead of misreading it; a changed
//! shape bumps the version and adds a migration beside the decoder.

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("stored record is empty")]
    Empty,
    #[error("stored record has format version {found}, this firmware reads {expected}")]
    Version { found: u8, expected: u8 },
    #[error("stored record is corrupt: {0}")]
    Corrupt(#[from] postcard::Error),
}

/// Encodes `value` behind its format version.
pub fn encode<T: Serialize>(version: u8, value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = vec![version];
    out.extend(postcard::to_allocvec(value)?);
    Ok(out)
}

/// Decodes a value written by [`encode`] with the same version.
pub fn decode<T: DeserializeOwned>(version: u8, bytes: &[u8]) -> Result<T, CodecError> {
    let (&found, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if found != version {
        return Err(CodecError::Version {
            found,
            expected: version,
        });
    }
    Ok(postcard::from_bytes(body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let bytes = encode(3, &("a".to_string(), 7u32)).unwrap();
        let back: (String, u32) = decode(3, &bytes).unwrap();
        assert_eq!(back, ("a".to_string(), 7));
        assert!(matches!(
            decode::<(String, u32)>(4, &bytes),
            Err(CodecError::Version { found: 3, .. })
        ));
        assert!(matches!(decode::<u32>(1, &[]), Err(CodecError::Empty)));
    }
}
