//! The LiveView pages' tokens: signed tokens in the shape of Plug's
//! `MessageVerifier` (`SFMyNTY.<payload>.<signature>`, HMAC-SHA256 over
//! the first two parts, Base64url without padding), random ids and
//! secrets, and the CSRF token masking of `Plug.CSRFProtection`
//! (docs/PROTOCOL.md §10, "Getting in").
//!
//! Payloads are JSON, where Phoenix signs Erlang terms: clients treat the
//! tokens as opaque, so only the outer shape is kept.

use data_encoding::BASE64URL_NOPAD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

/// `base64url("HS256")`, the protected header Plug puts first.
const PROTECTED: &str = "SFMyNTY";

/// Random bytes from the system. A failing system RNG leaves no safe way
/// to issue tokens, so it is fatal.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random number generator failed");
    out
}

/// A random string of `N` bytes, Base64url.
pub fn random_string<const N: usize>() -> String {
    BASE64URL_NOPAD.encode(&random_bytes::<N>())
}

/// Signs and verifies tokens with one secret, as an endpoint's
/// `secret_key_base` does.
pub struct Signer {
    key: hmac::Key,
}

impl Signer {
    /// A signer with a fresh random secret.
    pub fn generate() -> Signer {
        Signer::with_secret(&random_bytes::<32>())
    }

    pub fn with_secret(secret: &[u8]) -> Signer {
        Signer {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// `SFMyNTY.<base64url(payload)>.<base64url(hmac)>`.
    pub fn sign(&self, payload: &str) -> String {
        let mut token = format!("{PROTECTED}.{}", BASE64URL_NOPAD.encode(payload.as_bytes()));
        let tag = hmac::sign(&self.key, token.as_bytes());
        token.push('.');
        token.push_str(&BASE64URL_NOPAD.encode(tag.as_ref()));
        token
    }

    /// The payload of a token this signer made; `None` for anything else
    /// (another secret, a changed byte, not a token at all).
    pub fn verify(&self, token: &str) -> Option<String> {
        let (signed, tag) = token.rsplit_once('.')?;
        let (protected, payload) = signed.split_once('.')?;
        if protected != PROTECTED {
            return None;
        }
        let tag = BASE64URL_NOPAD.decode(tag.as_bytes()).ok()?;
        hmac::verify(&self.key, signed.as_bytes(), &tag).ok()?;
        let payload = BASE64URL_NOPAD.decode(payload.as_bytes()).ok()?;
        String::from_utf8(payload).ok()
    }
}

/// The token for a page's `<meta name="csrf-token">`: the session's CSRF
/// secret XORed with a fresh random mask, then the mask, as Plug does so
/// that the token differs on every page while one secret checks them all.
pub fn mask(secret: &str) -> String {
    let secret = secret.as_bytes();
    let mask: Vec<u8> = (0..secret.len()).map(|_| random_bytes::<1>()[0]).collect();
    let mut out: Vec<u8> = secret.iter().zip(&mask).map(|(s, m)| s ^ m).collect();
    out.extend_from_slice(&mask);
    BASE64URL_NOPAD.encode(&out)
}

/// Whether `token` is a masking of `secret`.
pub fn unmasks_to(token: &str, secret: &str) -> bool {
    let Ok(bytes) = BASE64URL_NOPAD.decode(token.as_bytes()) else {
        return false;
    };
    let secret = secret.as_bytes();
    if secret.is_empty() || bytes.len() != 2 * secret.len() {
        return false;
    }
    let (masked, mask) = bytes.split_at(secret.len());
    // Constant time, as Plug compares.
    let diff = masked
        .iter()
        .zip(mask)
        .zip(secret)
        .fold(0u8, |acc, ((x, m), s)| acc | (x ^ m ^ s));
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_verifies_only_with_its_secret_and_unchanged() {
        let signer = Signer::with_secret(b"one");
        let token = signer.sign(r#"{"id":"phx-x"}"#);
        assert!(token.starts_with("SFMyNTY."), "{token}");
        assert_eq!(token.matches('.').count(), 2);
        assert_eq!(signer.verify(&token).as_deref(), Some(r#"{"id":"phx-x"}"#));
        assert_eq!(Signer::with_secret(b"two").verify(&token), None);
        // Any changed byte, or no token at all, fails.
        let mut bytes = token.clone().into_bytes();
        let mid = bytes.len() / 2;
        bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
        assert_eq!(signer.verify(&String::from_utf8(bytes).unwrap()), None);
        for bad in ["", "garbage", "a.b.c", "SFMyNTY..", "SFMyNTY.e30"] {
            assert_eq!(signer.verify(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_known_hmac_of_plug_shape() {
        // RFC 4231 test case 2: key "Jefe".
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(
            data_encoding::HEXLOWER.encode(tag.as_ref()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn a_masked_csrf_token_differs_each_time_and_checks_against_its_secret() {
        let secret = random_string::<18>();
        let (a, b) = (mask(&secret), mask(&secret));
        assert_ne!(a, b);
        assert!(unmasks_to(&a, &secret));
        assert!(unmasks_to(&b, &secret));
        assert!(!unmasks_to(&a, &random_string::<18>()));
        assert!(!unmasks_to("wrong-token", &secret));
        assert!(!unmasks_to("", &secret));
    }
}
