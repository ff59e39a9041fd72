//! RS256 JSON Web Tokens: the lab's Entra signs with a 2048-bit RSA key made at start and
//! publishes it as a JWKS; every emulated service checks signatures against that key.

use anyhow::{Context, Result, anyhow};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use serde_json::{Value, json};

use super::util::{b64url, b64url_decode};

pub struct Signer {
    key: KeyPair,
    public_der: Vec<u8>,
    pub kid: String,
    n: String,
    e: String,
}

/// Why a bearer token was refused, before any claim is looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum Invalid {
    /// Not three base64url JSON segments (e.g. an API key sent as a bearer token).
    Malformed,
    /// Signed with another key or algorithm, or tampered with.
    BadSignature,
}

impl Signer {
    pub fn generate() -> Result<Self> {
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow!("RSA keygen failed"))?;
        let public = key.public_key();
        let public_der = public.as_ref().to_vec();
        let n = b64url(public.modulus().big_endian_without_leading_zero());
        let e = b64url(public.exponent().big_endian_without_leading_zero());
        // Entra's kid is the base64url SHA-1 thumbprint of its signing certificate (= x5t).
        let thumb = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &public_der);
        let kid = b64url(thumb.as_ref());
        Ok(Signer {
            key,
            public_der,
            kid,
            n,
            e,
        })
    }

    pub fn sign(&self, claims: &Value) -> Result<String> {
        let header = json!({"typ": "JWT", "alg": "RS256", "x5t": self.kid, "kid": self.kid});
        let input = format!(
            "{}.{}",
            b64url(serde_json::to_string(&header)?.as_bytes()),
            b64url(serde_json::to_string(claims)?.as_bytes())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| anyhow!("RSA signing failed"))
            .context("signing a token")?;
        Ok(format!("{input}.{}", b64url(&sig)))
    }

    /// Check header and signature; returns the claims.
    pub fn verify(&self, token: &str) -> Result<Value, Invalid> {
        let (header, claims) = decode_unverified(token).ok_or(Invalid::Malformed)?;
        if header.get("alg").and_then(Value::as_str) != Some("RS256")
            || header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str())
        {
            return Err(Invalid::BadSignature);
        }
        let (input, sig) = token.rsplit_once('.').ok_or(Invalid::Malformed)?;
        let sig = b64url_decode(sig).ok_or(Invalid::Malformed)?;
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.public_der)
            .verify(input.as_bytes(), &sig)
            .map_err(|_| Invalid::BadSignature)?;
        Ok(claims)
    }

    /// The JWKS document (`/{tenant}/discovery/v2.0/keys`).
    pub fn jwks(&self, issuer: Option<&str>) -> Value {
        let mut k = json!({
            "kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
            "n": self.n, "e": self.e,
        });
        if let Some(iss) = issuer {
            k["issuer"] = json!(iss);
        }
        json!({ "keys": [k] })
    }
}

/// Header and claims of a JWT without checking anything (for assertions the lab only
/// inspects, and for tokens it then verifies).
pub fn decode_unverified(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.trim().split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || s.is_empty() {
        return None;
    }
    let header: Value = serde_json::from_slice(&b64url_decode(h)?).ok()?;
    let claims: Value = serde_json::from_slice(&b64url_decode(c)?).ok()?;
    (header.is_object() && claims.is_object()).then_some((header, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_then_verify_and_reject_tampering() {
        let s = Signer::generate().unwrap();
        let t = s.sign(&json!({"aud": "x", "exp": 1})).unwrap();
        assert_eq!(s.verify(&t).unwrap()["aud"], "x");
        let mut parts: Vec<&str> = t.split('.').collect();
        let forged = b64url(br#"{"aud":"y","exp":1}"#);
        parts[1] = &forged;
        assert_eq!(s.verify(&parts.join(".")), Err(Invalid::BadSignature));
        assert_eq!(s.verify("8f3c2a1b9d4e4f6a8b7c5d3e1f2a4b6c"), Err(Invalid::Malformed));
        let other = Signer::generate().unwrap();
        let t2 = other.sign(&json!({"aud": "x"})).unwrap();
        assert_eq!(s.verify(&t2), Err(Invalid::BadSignature));
        assert_eq!(s.kid.len(), 27);
    }
}
