//! The message encryption WeCom and WeChat share (消息加解密): a SHA-1 signature over the
//! account's token and the request's timestamp, nonce and ciphertext, and AES-256-CBC over
//! `random(16) ‖ length(4, big endian) ‖ message ‖ receive id`, padded PKCS#7-style to a
//! 32-byte block (the scheme's block, not AES's 16), with the IV taken from the key.

use std::fmt;

use aes::Aes256;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha1::{Digest, Sha1};

/// The scheme pads to 32 bytes, so a pad byte is 1..=32.
const PAD_BLOCK: usize = 32;
/// The random prefix and the length field in front of the message.
const HEADER: usize = 16 + 4;

/// Standard base64 that does not insist the unused low bits of the last character are zero:
/// the 43-character keys the consoles generate are random characters, so most of them have
/// such bits set, and the reference implementations decode them regardless.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the EncodingAESKey must be 43 base64 characters decoding to a 32-byte key")]
    BadKey,
    #[error("the signature does not match the token, timestamp, nonce and message")]
    BadSignature,
    #[error("the encrypted message is not valid base64")]
    BadBase64,
    #[error("the decrypted message does not end in valid padding (1 to 32 bytes of its length)")]
    BadPadding,
    #[error("the encrypted message's length does not fit the scheme's layout")]
    BadLength,
    #[error("the message was encrypted for another corp or app id")]
    WrongReceiveId,
    #[error("the decrypted message is not UTF-8")]
    NotUtf8,
}

/// One callback account's crypto: its token, its AES key and the id messages are addressed
/// to (the corp id for WeCom, the app id for an Official Account).
#[derive(Clone)]
pub struct Crypto {
    token: String,
    key: [u8; 32],
    receive_id: String,
}

/// The token and key are secrets: only the receive id is shown.
impl fmt::Debug for Crypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crypto").field("receive_id", &self.receive_id).finish_non_exhaustive()
    }
}

impl Crypto {
    /// `encoding_aes_key` is the 43-character EncodingAESKey from the console: base64 of the
    /// 32-byte key with its one `=` of padding left off.
    pub fn new(
        token: &str,
        encoding_aes_key: &str,
        receive_id: &str,
    ) -> Result<Crypto, CryptoError> {
        if encoding_aes_key.len() != 43 {
            return Err(CryptoError::BadKey);
        }
        let decoded = LENIENT_BASE64
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = decoded.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Crypto { token: token.to_owned(), key, receive_id: receive_id.to_owned() })
    }

    pub fn receive_id(&self) -> &str {
        &self.receive_id
    }

    /// The `msg_signature` of an encrypted message: SHA-1 (lowercase hex) of the token,
    /// timestamp, nonce and ciphertext sorted bytewise and concatenated.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypted: &str) -> String {
        sorted_sha1(&mut [&self.token, timestamp, nonce, encrypted])
    }

    /// Checks a `msg_signature`, in time independent of where it differs.
    pub fn verify(
        &self,
        signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypted: &str,
    ) -> Result<(), CryptoError> {
        let expected = self.signature(timestamp, nonce, encrypted);
        // Some senders write the hex in capitals; hex case carries no meaning.
        if constant_time_eq(expected.as_bytes(), signature.to_ascii_lowercase().as_bytes()) {
            Ok(())
        } else {
            Err(CryptoError::BadSignature)
        }
    }

    /// Decrypts a base64 ciphertext and checks it was addressed to this receive id. Verify the
    /// signature first ([`Crypto::verify`]): the checks here are not meant to face forgeries.
    pub fn decrypt(&self, encrypted_b64: &str) -> Result<String, CryptoError> {
        let mut data =
            LENIENT_BASE64.decode(encrypted_b64.trim()).map_err(|_| CryptoError::BadBase64)?;
        if data.is_empty() || data.len() % PAD_BLOCK != 0 {
            return Err(CryptoError::BadLength);
        }
        let (key, iv) = (&self.key, &self.key[..16]);
        let plain = cbc::Decryptor::<Aes256>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(&mut data)
            .map_err(|_| CryptoError::BadLength)?;
        let plain = unpad(plain)?;
        if plain.len() < HEADER {
            return Err(CryptoError::BadLength);
        }
        let length = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
        let rest = &plain[HEADER..];
        if length > rest.len() {
            return Err(CryptoError::BadLength);
        }
        let (message, receive_id) = rest.split_at(length);
        if receive_id != self.receive_id.as_bytes() {
            return Err(CryptoError::WrongReceiveId);
        }
        String::from_utf8(message.to_vec()).map_err(|_| CryptoError::NotUtf8)
    }

    /// Encrypts `message` for the other side, behind 16 fresh random bytes, as base64.
    pub fn encrypt(&self, message: &str) -> String {
        self.encrypt_with(message, rand::random())
    }

    /// [`Crypto::encrypt`] with the random prefix given, so tests can compare ciphertexts.
    pub(crate) fn encrypt_with(&self, message: &str, random: [u8; 16]) -> String {
        let unpadded = HEADER + message.len() + self.receive_id.len();
        let pad = PAD_BLOCK - unpadded % PAD_BLOCK;
        let mut data = Vec::with_capacity(unpadded + pad);
        data.extend_from_slice(&random);
        // A callback body is far below 4 GiB; the scheme has no way to say more.
        data.extend_from_slice(&(message.len() as u32).to_be_bytes());
        data.extend_from_slice(message.as_bytes());
        data.extend_from_slice(self.receive_id.as_bytes());
        data.resize(unpadded + pad, pad as u8);
        let length = data.len();
        let (key, iv) = (&self.key, &self.key[..16]);
        let encrypted = cbc::Encryptor::<Aes256>::new(key.into(), iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut data, length)
            .expect("the data is padded to a whole number of blocks");
        LENIENT_BASE64.encode(encrypted)
    }

    /// WeCom's URL verification (the GET when a callback URL is saved): checks the signature
    /// over `echostr` and answers its plain text, which the handler echoes as the body.
    /// `echostr` is the query parameter already URL-decoded.
    pub fn verify_url(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        echostr: &str,
    ) -> Result<String, CryptoError> {
        self.verify(msg_signature, timestamp, nonce, echostr)?;
        self.decrypt(echostr)
    }
}

/// The `signature` of an Official Account in plain mode, on its GET verification (echo
/// `echostr` unchanged when it matches) and on every POST: SHA-1 (lowercase hex) of the token,
/// timestamp and nonce sorted bytewise and concatenated.
pub fn plain_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&mut [token, timestamp, nonce])
}

/// Checks a plain-mode `signature` in time independent of where it differs.
pub fn verify_plain(
    token: &str,
    signature: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<(), CryptoError> {
    let expected = plain_signature(token, timestamp, nonce);
    if constant_time_eq(expected.as_bytes(), signature.to_ascii_lowercase().as_bytes()) {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
}

fn sorted_sha1(parts: &mut [&str]) -> String {
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts.iter() {
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unpad(data: &[u8]) -> Result<&[u8], CryptoError> {
    let pad = *data.last().ok_or(CryptoError::BadPadding)? as usize;
    if pad == 0 || pad > PAD_BLOCK || pad > data.len() {
        return Err(CryptoError::BadPadding);
    }
    let (body, padding) = data.split_at(data.len() - pad);
    if padding.iter().any(|&byte| byte as usize != pad) {
        return Err(CryptoError::BadPadding);
    }
    Ok(body)
}

/// Compares without stopping at the first difference, so the time taken does not tell a forger
/// how much of a guessed signature was right.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // Computed independently with Python's `cryptography` and `hashlib` from the published
    // algorithm: key = SHA-256("tandem wecom test key"), random prefix "0123456789abcdef".
    const KEY: &str = "OCb8YY4UojTIXKTHcQ/TCJWt+iso8mk80iwGUr5Zo6c";
    const TOKEN: &str = "tandemToken";
    const RECEIVE_ID: &str = "wwtandem0001";
    const MESSAGE: &str = "<xml><Content><![CDATA[你好, Tandem]]></Content></xml>";
    const CIPHERTEXT: &str = "zs8PdXCPu68ZroSYxTxYl6uhnCPfZCdMj3VgJXL43Fn2aOoIsx16TUVXQgBaRKzeIrqsq0xOSgh7gEaWTlB5RNpEl6flo3bW4Xl4oIgD90tma2jZMQ7pqz+WsJIb1DFT";
    const TIMESTAMP: &str = "1733400000";
    const NONCE: &str = "n0nce42";
    const SIGNATURE: &str = "92c758f982f299627139d5bf146a05f0b019e282";
    const PLAIN_SIGNATURE: &str = "868f05eac003b90ad86d80e1ae74f271dedca08e";

    fn crypto() -> Crypto {
        Crypto::new(TOKEN, KEY, RECEIVE_ID).unwrap()
    }

    /// Encrypts raw plaintext bytes (already padded) the way the scheme does, for tampering.
    fn encrypt_raw(crypto: &Crypto, mut data: Vec<u8>) -> String {
        let length = data.len();
        let (key, iv) = (&crypto.key, &crypto.key[..16]);
        let encrypted = cbc::Encryptor::<Aes256>::new(key.into(), iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut data, length)
            .unwrap();
        LENIENT_BASE64.encode(encrypted)
    }

    #[test]
    fn matches_an_independent_implementation() {
        let crypto = crypto();
        assert_eq!(crypto.encrypt_with(MESSAGE, *b"0123456789abcdef"), CIPHERTEXT);
        assert_eq!(crypto.decrypt(CIPHERTEXT).unwrap(), MESSAGE);
        assert_eq!(crypto.signature(TIMESTAMP, NONCE, CIPHERTEXT), SIGNATURE);
        assert_eq!(crypto.verify(SIGNATURE, TIMESTAMP, NONCE, CIPHERTEXT), Ok(()));
        assert_eq!(
            crypto.verify(&SIGNATURE.to_ascii_uppercase(), TIMESTAMP, NONCE, CIPHERTEXT),
            Ok(())
        );
        assert_eq!(plain_signature(TOKEN, TIMESTAMP, NONCE), PLAIN_SIGNATURE);
        assert_eq!(verify_plain(TOKEN, PLAIN_SIGNATURE, TIMESTAMP, NONCE), Ok(()));
        assert_eq!(
            verify_plain(TOKEN, SIGNATURE, TIMESTAMP, NONCE),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(crypto.verify_url(SIGNATURE, TIMESTAMP, NONCE, CIPHERTEXT).unwrap(), MESSAGE);
    }

    #[test]
    fn round_trips_with_fresh_randomness() {
        let crypto = crypto();
        for message in ["", "a", &"长".repeat(1000), &"x".repeat(32 - 20 - RECEIVE_ID.len())] {
            let first = crypto.encrypt(message);
            assert_ne!(first, crypto.encrypt(message), "the random prefix differs");
            assert_eq!(crypto.decrypt(&first).unwrap(), message);
        }
    }

    #[test]
    fn keys_of_the_wrong_size_are_refused() {
        assert_eq!(Crypto::new(TOKEN, &KEY[..42], RECEIVE_ID).unwrap_err(), CryptoError::BadKey);
        assert_eq!(
            Crypto::new(TOKEN, "!".repeat(43).as_str(), RECEIVE_ID).unwrap_err(),
            CryptoError::BadKey
        );
        // Nonzero unused bits in the last character are accepted, as the consoles produce them.
        assert!(Crypto::new(TOKEN, &format!("{}d", &KEY[..42]), RECEIVE_ID).is_ok());
        assert!(!format!("{:?}", crypto()).contains(TOKEN), "the token is not shown");
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let crypto = crypto();
        let mut wrong = SIGNATURE.to_owned();
        wrong.replace_range(39.., "3");
        for (signature, timestamp, nonce) in [
            (wrong.as_str(), TIMESTAMP, NONCE),
            (SIGNATURE, "1733400001", NONCE),
            (SIGNATURE, TIMESTAMP, "other"),
            ("", TIMESTAMP, NONCE),
        ] {
            assert_eq!(
                crypto.verify(signature, timestamp, nonce, CIPHERTEXT),
                Err(CryptoError::BadSignature)
            );
        }
        let other = Crypto::new("otherToken", KEY, RECEIVE_ID).unwrap();
        assert_eq!(
            other.verify_url(SIGNATURE, TIMESTAMP, NONCE, CIPHERTEXT),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn tampered_or_misaddressed_ciphertexts_are_refused() {
        let crypto = crypto();
        assert_eq!(crypto.decrypt("not base64!"), Err(CryptoError::BadBase64));
        assert_eq!(crypto.decrypt(""), Err(CryptoError::BadLength));
        assert_eq!(crypto.decrypt(&LENIENT_BASE64.encode([0u8; 16])), Err(CryptoError::BadLength));

        // Flipping a bit of the last block garbles the padding.
        let mut bytes = LENIENT_BASE64.decode(CIPHERTEXT).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(crypto.decrypt(&LENIENT_BASE64.encode(&bytes)), Err(CryptoError::BadPadding));

        let other = Crypto::new(TOKEN, KEY, "wwsomeoneelse").unwrap();
        assert_eq!(other.decrypt(CIPHERTEXT), Err(CryptoError::WrongReceiveId));
        assert_eq!(crypto.decrypt(&other.encrypt("hello")), Err(CryptoError::WrongReceiveId));
    }

    #[test]
    fn bad_padding_and_lengths_are_refused() {
        let crypto = crypto();
        let mut zero_pad = vec![7u8; 64];
        zero_pad[63] = 0;
        assert_eq!(crypto.decrypt(&encrypt_raw(&crypto, zero_pad)), Err(CryptoError::BadPadding));
        let mut over = vec![7u8; 64];
        over[63] = 33;
        assert_eq!(crypto.decrypt(&encrypt_raw(&crypto, over)), Err(CryptoError::BadPadding));
        let mut uneven = vec![4u8; 64];
        uneven[61] = 9;
        assert_eq!(crypto.decrypt(&encrypt_raw(&crypto, uneven)), Err(CryptoError::BadPadding));

        // A length field claiming more than follows it.
        let mut long = vec![0u8; 64];
        long[16..20].copy_from_slice(&1000u32.to_be_bytes());
        long[63] = 1;
        assert_eq!(crypto.decrypt(&encrypt_raw(&crypto, long)), Err(CryptoError::BadLength));
        // Padding that leaves no room for the header.
        assert_eq!(
            crypto.decrypt(&encrypt_raw(&crypto, vec![20u8; 32])),
            Err(CryptoError::BadLength)
        );
    }
}
