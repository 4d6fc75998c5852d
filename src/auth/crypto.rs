//! `jsonwebtoken`'s signatures over `ring`, which the process already links for TLS.
//!
//! `jsonwebtoken` ships two backends: `rust_crypto` (pure Rust, but its `rsa` crate takes ~250 µs
//! per RS256 check here and carries RUSTSEC-2023-0071) and `aws_lc_rs` (a cmake/C build). This
//! provider does what `aws_lc_rs` does with `ring`'s identical API: a first-sight RS256 check
//! costs a small fraction of that, and no second crypto stack is built. [`install`] must run
//! before the first token is signed or checked; the verifier and `dev-token` call it.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, UnparsedPublicKey};
use ring::{hmac, rsa};

/// Make this the process's `jsonwebtoken` backend (idempotent).
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Someone else's provider may already be in place (a host application): keep it.
        let _ = PROVIDER.install_default();
    });
}

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: signer,
    verifier_factory: verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// What one algorithm needs from `ring`.
#[derive(Clone, Copy)]
enum Scheme {
    Hmac(hmac::Algorithm),
    Rsa {
        sign: &'static dyn sig::RsaEncoding,
        verify: &'static rsa::RsaParameters,
    },
    Ecdsa {
        sign: &'static sig::EcdsaSigningAlgorithm,
        verify: &'static sig::EcdsaVerificationAlgorithm,
    },
    Ed25519,
}

/// `None` for an algorithm this provider does not know (the enum is non-exhaustive).
fn scheme(alg: Algorithm) -> Option<Scheme> {
    use Algorithm::*;
    Some(match alg {
        HS256 => Scheme::Hmac(hmac::HMAC_SHA256),
        HS384 => Scheme::Hmac(hmac::HMAC_SHA384),
        HS512 => Scheme::Hmac(hmac::HMAC_SHA512),
        RS256 => Scheme::Rsa {
            sign: &sig::RSA_PKCS1_SHA256,
            verify: &sig::RSA_PKCS1_2048_8192_SHA256,
        },
        RS384 => Scheme::Rsa {
            sign: &sig::RSA_PKCS1_SHA384,
            verify: &sig::RSA_PKCS1_2048_8192_SHA384,
        },
        RS512 => Scheme::Rsa {
            sign: &sig::RSA_PKCS1_SHA512,
            verify: &sig::RSA_PKCS1_2048_8192_SHA512,
        },
        PS256 => Scheme::Rsa {
            sign: &sig::RSA_PSS_SHA256,
            verify: &sig::RSA_PSS_2048_8192_SHA256,
        },
        PS384 => Scheme::Rsa {
            sign: &sig::RSA_PSS_SHA384,
            verify: &sig::RSA_PSS_2048_8192_SHA384,
        },
        PS512 => Scheme::Rsa {
            sign: &sig::RSA_PSS_SHA512,
            verify: &sig::RSA_PSS_2048_8192_SHA512,
        },
        ES256 => Scheme::Ecdsa {
            sign: &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            verify: &sig::ECDSA_P256_SHA256_FIXED,
        },
        ES384 => Scheme::Ecdsa {
            sign: &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            verify: &sig::ECDSA_P384_SHA384_FIXED,
        },
        EdDSA => Scheme::Ed25519,
        _ => return None,
    })
}

fn family(s: Scheme) -> AlgorithmFamily {
    match s {
        Scheme::Hmac(_) => AlgorithmFamily::Hmac,
        Scheme::Rsa { .. } => AlgorithmFamily::Rsa,
        Scheme::Ecdsa { .. } => AlgorithmFamily::Ec,
        Scheme::Ed25519 => AlgorithmFamily::Ed,
    }
}

enum SigningKey {
    Hmac(hmac::Key),
    Rsa(rsa::KeyPair, &'static dyn sig::RsaEncoding),
    Ecdsa(sig::EcdsaKeyPair),
    Ed25519(sig::Ed25519KeyPair),
}

struct RingSigner {
    alg: Algorithm,
    key: SigningKey,
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let s = scheme(*alg).ok_or(ErrorKind::InvalidAlgorithm)?;
    if key.family() != family(s) {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let der = key.as_bytes();
    let key = match s {
        Scheme::Hmac(a) => SigningKey::Hmac(hmac::Key::new(a, der)),
        Scheme::Rsa { sign, .. } => {
            // PKCS#8 or PKCS#1, whichever the PEM held.
            let pair = rsa::KeyPair::from_pkcs8(der)
                .or_else(|_| rsa::KeyPair::from_der(der))
                .map_err(|e| ErrorKind::InvalidRsaKey(e.to_string()))?;
            SigningKey::Rsa(pair, sign)
        }
        Scheme::Ecdsa { sign, .. } => SigningKey::Ecdsa(
            sig::EcdsaKeyPair::from_pkcs8(sign, der, &SystemRandom::new())
                .map_err(|_| ErrorKind::InvalidEcdsaKey)?,
        ),
        Scheme::Ed25519 => SigningKey::Ed25519(
            sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map_err(|_| ErrorKind::InvalidEddsaKey)?,
        ),
    };
    Ok(Box::new(RingSigner { alg: *alg, key }))
}

impl Signer<Vec<u8>> for RingSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let rng = SystemRandom::new();
        match &self.key {
            SigningKey::Hmac(k) => Ok(hmac::sign(k, msg).as_ref().to_vec()),
            SigningKey::Rsa(pair, encoding) => {
                let mut out = vec![0; pair.public().modulus_len()];
                pair.sign(*encoding, &rng, msg, &mut out)
                    .map_err(|_| signature::Error::new())?;
                Ok(out)
            }
            SigningKey::Ecdsa(pair) => Ok(pair
                .sign(&rng, msg)
                .map_err(|_| signature::Error::new())?
                .as_ref()
                .to_vec()),
            SigningKey::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for RingSigner {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

struct RingVerifier {
    alg: Algorithm,
    scheme: Scheme,
    key: DecodingKey,
}

fn verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let scheme = scheme(*alg).ok_or(ErrorKind::InvalidAlgorithm)?;
    if key.family() != family(scheme) {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    Ok(Box::new(RingVerifier {
        alg: *alg,
        scheme,
        key: key.clone(),
    }))
}

impl Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let bad = |_| signature::Error::new();
        match (self.scheme, self.key.kind()) {
            (Scheme::Hmac(a), DecodingKeyKind::SecretOrDer(secret)) => {
                hmac::verify(&hmac::Key::new(a, secret), msg, signature).map_err(bad)
            }
            (Scheme::Rsa { verify, .. }, DecodingKeyKind::SecretOrDer(der)) => {
                UnparsedPublicKey::new(verify, der)
                    .verify(msg, signature)
                    .map_err(bad)
            }
            (Scheme::Rsa { verify, .. }, DecodingKeyKind::RsaModulusExponent { n, e }) => {
                rsa::PublicKeyComponents { n, e }
                    .verify(verify, msg, signature)
                    .map_err(bad)
            }
            (Scheme::Ecdsa { verify, .. }, DecodingKeyKind::SecretOrDer(point)) => {
                UnparsedPublicKey::new(verify, point)
                    .verify(msg, signature)
                    .map_err(bad)
            }
            (Scheme::Ed25519, DecodingKeyKind::SecretOrDer(point)) => {
                UnparsedPublicKey::new(&sig::ED25519, point)
                    .verify(msg, signature)
                    .map_err(bad)
            }
            _ => Err(signature::Error::new()),
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> Algorithm {
        self.alg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Header, Validation};
    use ring::signature::KeyPair as _;
    use serde_json::{Value, json};

    /// Every asymmetric family signs and verifies through `ring`, and a token verified with the
    /// wrong key or algorithm family is refused.
    #[test]
    fn signs_and_verifies_every_family() {
        install();
        let rng = SystemRandom::new();
        let claims = json!({"sub": "alice", "exp": 4_000_000_000u64});
        let roundtrip = |alg: Algorithm, enc: &EncodingKey, dec: &DecodingKey| {
            let t = jsonwebtoken::encode(&Header::new(alg), &claims, enc).unwrap();
            let mut v = Validation::new(alg);
            v.validate_aud = false;
            jsonwebtoken::decode::<Value>(&t, dec, &v).map(|d| d.claims["sub"].clone())
        };

        let ec =
            sig::EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, ec.as_ref(), &rng)
                .unwrap();
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let b64 = |b: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        let dec = DecodingKey::from_ec_components(&b64(x), &b64(y)).unwrap();
        let enc = EncodingKey::from_ec_der(ec.as_ref());
        assert_eq!(roundtrip(Algorithm::ES256, &enc, &dec).unwrap(), "alice");

        let ed = sig::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed_pub = sig::Ed25519KeyPair::from_pkcs8(ed.as_ref()).unwrap();
        let dec_ed = DecodingKey::from_ed_components(&b64(ed_pub.public_key().as_ref())).unwrap();
        let enc_ed = EncodingKey::from_ed_der(ed.as_ref());
        assert_eq!(
            roundtrip(Algorithm::EdDSA, &enc_ed, &dec_ed).unwrap(),
            "alice"
        );

        let rsa_pem = include_bytes!("../../tests/fixtures/keys/rsa1.pem");
        let rsa_pub = include_bytes!("../../tests/fixtures/keys/rsa1.pub.pem");
        let other_pub = include_bytes!("../../tests/fixtures/keys/rsa2.pub.pem");
        let enc_rsa = EncodingKey::from_rsa_pem(rsa_pem).unwrap();
        let dec_rsa = DecodingKey::from_rsa_pem(rsa_pub).unwrap();
        for alg in [Algorithm::RS256, Algorithm::PS384, Algorithm::RS512] {
            assert_eq!(roundtrip(alg, &enc_rsa, &dec_rsa).unwrap(), "alice");
        }
        let other = DecodingKey::from_rsa_pem(other_pub).unwrap();
        assert!(roundtrip(Algorithm::RS256, &enc_rsa, &other).is_err());
        // An RSA public key is no HMAC secret, and an EC key no RSA key.
        assert!(
            roundtrip(
                Algorithm::HS256,
                &EncodingKey::from_secret(rsa_pub),
                &dec_rsa
            )
            .is_err()
        );
        assert!(roundtrip(Algorithm::ES256, &enc, &dec_rsa).is_err());

        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_slice(include_bytes!("../../tests/fixtures/keys/rsa1.jwk.json"))
                .unwrap();
        let from_jwk = DecodingKey::from_jwk(&jwk).unwrap();
        assert_eq!(
            roundtrip(Algorithm::RS256, &enc_rsa, &from_jwk).unwrap(),
            "alice"
        );
    }
}
