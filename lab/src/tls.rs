//! A throw-away CA and a leaf certificate for 127.0.0.1/localhost and the public names the
//! lab answers for behind its CONNECT proxy (`proxy.rs`), made at every start, so the real
//! clients' certificate checks stay on (they trust the CA through `--ca-cert`,
//! `SSL_CERT_FILE`, `REQUESTS_CA_BUNDLE` or `NODE_EXTRA_CA_CERTS`). The CA is valid for a
//! week and its key never leaves the process, so trusting it for these names in a lab shell
//! vouches for nothing else.

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// The leaf's names: loopback, and the hosts `proxy.rs` routes (the same list, so a name the
/// proxy accepts always passes the client's certificate check).
pub fn leaf_names() -> Vec<String> {
    let mut names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    names.extend(super::proxy::DATA_PLANE_SUFFIXES.iter().map(|s| format!("*{s}")));
    names.extend([super::proxy::ENTRA_HOST, super::proxy::ARM_HOST].map(str::to_string));
    names
}

pub struct LabTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn generate() -> Result<LabTls> {
    generate_with("aoai-doctor lab CA (throw-away)", "aoai-doctor lab")
}

/// The same with another CA name (the `untrusted-cert` fault: a TLS-inspecting proxy's CA).
pub fn generate_with(ca_name: &str, organization: &str) -> Result<LabTls> {
    let now = OffsetDateTime::now_utc();

    let mut ca = CertificateParams::new(Vec::<String>::new()).context("CA params")?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.distinguished_name.push(DnType::OrganizationName, organization);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca.not_before = now - Duration::hours(1);
    ca.not_after = now + Duration::days(7);
    let ca_key = KeyPair::generate().context("CA key")?;
    let issuer = CertifiedIssuer::self_signed(ca, ca_key).context("self-signing the CA")?;

    let mut leaf = CertificateParams::new(leaf_names()).context("leaf params")?;
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    leaf.use_authority_key_identifier_extension = true;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf.not_before = now - Duration::hours(1);
    leaf.not_after = now + Duration::days(7);
    let leaf_key = KeyPair::generate().context("leaf key")?;
    let cert = leaf.signed_by(&leaf_key, &issuer).context("signing the leaf")?;

    Ok(LabTls {
        ca_pem: issuer.pem(),
        cert_pem: cert.pem(),
        key_pem: leaf_key.serialize_pem(),
    })
}
