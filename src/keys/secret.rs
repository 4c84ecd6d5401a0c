//! Key material: generating plaintext keys from the OS RNG, hashing them, masking them.

use std::fmt;

use rand::TryRngCore;
use sha2::{Digest, Sha256};

/// Prefix of inference keys.
pub const LIVE_PREFIX: &str = "lr_live_";
/// Prefix of management keys.
pub const MGMT_PREFIX: &str = "lr_mgmt_";

/// What a key may do. An API key cannot manage keys; a management key cannot call inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Regular,
    Management,
}

impl KeyType {
    /// The name stored in the database and shown in the key object (`regular`, `management`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Regular => "regular",
            Self::Management => "management",
        }
    }

    /// Reads a stored name back; `None` for anything else (a corrupt row).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "regular" => Some(Self::Regular),
            "management" => Some(Self::Management),
            _ => None,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Regular => LIVE_PREFIX,
            Self::Management => MGMT_PREFIX,
        }
    }

    /// The type a presented key claims by its prefix; `None` for anything else.
    pub fn of_plaintext(key: &str) -> Option<Self> {
        if key.starts_with(LIVE_PREFIX) {
            Some(Self::Regular)
        } else if key.starts_with(MGMT_PREFIX) {
            Some(Self::Management)
        } else {
            None
        }
    }
}

/// SHA-256 of a plaintext key: the only form that is stored, and the `hash` in the API.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    /// Hashes a presented or new key; lookups compare hashes, so no secret comparison runs in a
    /// loop.
    pub fn of(plaintext: &str) -> Self {
        Self(Sha256::digest(plaintext.as_bytes()).into())
    }

    /// Parses the 64-hex form used in URLs and the database.
    pub fn parse_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }

    /// The lowercase 64-hex form used in URLs, the API and the database.
    pub fn to_hex(self) -> String {
        // Into a buffer: `hex::encode` goes a `char` at a time (2,000 instructions a call, and
        // the ledger writer calls it for every row).
        let mut out = [0u8; 64];
        hex::encode_to_slice(self.0, &mut out).expect("32 bytes are 64 hex digits");
        String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({})", self.to_hex())
    }
}

/// A freshly generated key: the plaintext (shown once) and what is stored of it.
pub struct NewSecret {
    /// Shown to the client once; never stored or logged.
    pub plaintext: String,
    pub hash: KeyHash,
    /// The masked form (`label_of`), safe to store and show.
    pub label: String,
}

/// Generates `lr_live_`/`lr_mgmt_` + 48 random hex characters from the OS RNG.
pub fn generate(key_type: KeyType) -> NewSecret {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS random number generator is available");
    let plaintext = format!("{}{}", key_type.prefix(), hex::encode(bytes));
    NewSecret { hash: KeyHash::of(&plaintext), label: label_of(&plaintext), plaintext }
}

/// Masked display form: prefix and first three characters, then the last three.
pub fn label_of(plaintext: &str) -> String {
    let head_len = plaintext.len().min(LIVE_PREFIX.len() + 3);
    let tail_start = plaintext.len().saturating_sub(3).max(head_len);
    match (plaintext.get(..head_len), plaintext.get(tail_start..)) {
        (Some(head), Some(tail)) => format!("{head}...{tail}"),
        _ => "...".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_prefix_48_hex_and_matching_hash() {
        let key = generate(KeyType::Regular);
        assert!(key.plaintext.starts_with("lr_live_"));
        let tail = &key.plaintext[8..];
        assert_eq!(tail.len(), 48);
        assert!(tail.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key.hash, KeyHash::of(&key.plaintext));
        assert_eq!(KeyHash::parse_hex(&key.hash.to_hex()), Some(key.hash));
        assert!(generate(KeyType::Management).plaintext.starts_with("lr_mgmt_"));
    }

    #[test]
    fn labels_hide_the_secret() {
        let label = label_of("lr_live_0123456789abcdef0123456789abcdef0123456789abcdef");
        assert_eq!(label, "lr_live_012...def");
        assert_eq!(label_of("lr_"), "lr_...");
    }
}
