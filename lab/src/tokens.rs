//! Access tokens shaped like Entra's v1.0 tokens (what Azure OpenAI and ARM get today), for
//! any known resource: `https://cognitiveservices.azure.com`, `https://ai.azure.com` (the
//! scope today's Azure OpenAI and Foundry docs use; `aud` is the resource as requested), ARM…:
//! `iss` `https://sts.windows.net/{tid}/`, `ver` 1.0, the client in `appid`, `idtyp`,
//! `upn`/`name` for users, `xms_mirid` for managed identities.

use anyhow::Result;
use rand::Rng as _;
use serde_json::{Value, json};

use super::scenario::{Principal, PrincipalKind};
use super::state::LabState;
use super::util::{b64url, now_unix, random_chars};

/// The Azure CLI's public client id (first-party app "Microsoft Azure CLI").
pub const AZURE_CLI_APP_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// How the client proved itself; becomes `appidacr` (0 public client, 1 secret, 2 cert or
/// assertion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    PublicClient,
    Secret,
    Assertion,
    ManagedIdentity,
}

pub struct Minted {
    pub token: String,
    pub iat: i64,
    pub exp: i64,
}

impl Minted {
    pub fn expires_in(&self) -> i64 {
        self.exp - now_unix()
    }
}

/// Mint a token for `principal` in tenant `tid` for `audience` (the resource as requested,
/// without `/.default`).
pub fn mint(state: &LabState, principal: &Principal, tid: &str, audience: &str, auth: ClientAuth) -> Result<Minted> {
    let now = now_unix();
    let lifetime = match (principal.kind, auth) {
        // Users get 60-90 minutes, chosen at random per token (Entra's default).
        (PrincipalKind::User, _) => 3600 + rand::rng().random_range(0..1800),
        // Managed identity tokens live about a day (mi-imds-200-real-2025: expires_in 86400).
        (_, ClientAuth::ManagedIdentity) => 86399,
        _ => 3599,
    };
    let iat = now - 5 * 60 + 1; // Entra backdates iat/nbf by five minutes.
    let exp = now + lifetime;
    let iss = format!("https://sts.windows.net/{tid}/");
    let oid = principal.object_id.to_ascii_lowercase();
    let mut c = json!({
        "aud": audience,
        "iss": iss,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "aio": format!("k2Bg{}", random_chars(68)),
        "oid": oid,
        "rh": format!("1.AXkA{}AA.", random_chars(40)),
        "tid": tid,
        "uti": random_chars(22),
        "ver": "1.0",
        "xms_ftd": random_chars(40),
    });
    match principal.kind {
        PrincipalKind::User => {
            let upn = principal.upn.clone().unwrap_or_default();
            let (given, family) = principal
                .display_name
                .split_once(' ')
                .unwrap_or((principal.display_name.as_str(), ""));
            set(&mut c, "acr", json!("1"));
            set(&mut c, "amr", json!(["pwd", "mfa"]));
            set(&mut c, "appid", json!(AZURE_CLI_APP_ID));
            set(&mut c, "appidacr", json!("0"));
            set(&mut c, "family_name", json!(family));
            set(&mut c, "given_name", json!(given));
            set(&mut c, "idtyp", json!("user"));
            set(&mut c, "ipaddr", json!(state.scenario.data_plane.client_ip));
            set(&mut c, "name", json!(principal.display_name));
            set(&mut c, "puid", json!("10032003A1B2C3D4"));
            set(&mut c, "scp", json!("user_impersonation"));
            set(&mut c, "sub", json!(pairwise_sub(&oid, audience)));
            set(&mut c, "unique_name", json!(upn));
            set(&mut c, "upn", json!(upn));
            let home = state.tenant_id_of(&principal.tenant).to_string();
            if !home.eq_ignore_ascii_case(tid) {
                // A guest: Entra names the home tenant as identity provider.
                set(&mut c, "idp", json!(format!("https://sts.windows.net/{home}/")));
            }
        }
        PrincipalKind::ServicePrincipal | PrincipalKind::ManagedIdentity => {
            let appid = principal.app_id.clone().unwrap_or_default();
            let acr = match auth {
                ClientAuth::Secret => "1",
                ClientAuth::PublicClient => "0",
                _ => "2",
            };
            set(&mut c, "appid", json!(appid));
            set(&mut c, "appidacr", json!(acr));
            set(&mut c, "idp", json!(iss));
            set(&mut c, "idtyp", json!("app"));
            set(&mut c, "sub", json!(oid));
            if principal.kind == PrincipalKind::ManagedIdentity
                && let Some(r) = &principal.resource_id
            {
                set(&mut c, "xms_mirid", json!(r));
            }
        }
        PrincipalKind::Group => {}
    }
    Ok(Minted {
        token: state.signer.sign(&c)?,
        iat,
        exp,
    })
}

fn set(c: &mut Value, k: &str, v: Value) {
    if let Some(m) = c.as_object_mut() {
        m.insert(k.to_string(), v);
    }
}

/// Users' `sub` is pairwise per application; a stable hash keeps it realistic.
fn pairwise_sub(oid: &str, audience: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{oid}|{audience}").as_bytes());
    b64url(&d.as_ref()[..32])[..43].to_string()
}

/// Resources ("resource principals") every tenant knows, by identifier URI or app id.
/// Anything else makes Entra answer AADSTS500011.
const RESOURCES: &[(&str, &[&str])] = &[
    (
        "7d312290-28c8-473c-a0ed-8e53749b6d6d",
        &["https://cognitiveservices.azure.com"],
    ),
    (
        "797f4846-ba00-4fd7-ba43-dac1f8f63013",
        &["https://management.azure.com", "https://management.core.windows.net"],
    ),
    (
        "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe",
        &["https://ai.azure.com", "https://ml.azure.com"],
    ),
    ("00000003-0000-0000-c000-000000000000", &["https://graph.microsoft.com"]),
    ("cfa8b339-82a2-471a-a3c9-0fc0be7a4093", &["https://vault.azure.net"]),
    ("e406a681-f3d4-42a8-90b6-c2b029497af1", &["https://storage.azure.com"]),
];

/// Is `resource` (as requested, with or without trailing slash) a known resource principal?
pub fn known_resource(resource: &str) -> bool {
    let r = resource.trim().trim_end_matches('/');
    RESOURCES
        .iter()
        .any(|(app, uris)| app.eq_ignore_ascii_case(r) || uris.iter().any(|u| u.eq_ignore_ascii_case(r)))
}

/// The resource named by one v2 scope: `https://x/.default` -> `https://x`,
/// `https://management.core.windows.net//.default` -> `https://management.core.windows.net/`.
pub fn resource_of_scope(scope: &str) -> Option<String> {
    scope
        .strip_suffix("/.default")
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_resources() {
        assert_eq!(
            resource_of_scope("https://cognitiveservices.azure.com/.default").as_deref(),
            Some("https://cognitiveservices.azure.com")
        );
        assert_eq!(
            resource_of_scope("https://management.core.windows.net//.default").as_deref(),
            Some("https://management.core.windows.net/")
        );
        assert!(resource_of_scope("https://cognitiveservices.azure.com").is_none());
        assert!(known_resource("https://management.azure.com/"));
        assert!(known_resource("https://COGNITIVESERVICES.azure.com"));
        assert!(!known_resource("https://contoso-aoai.openai.azure.com"));
        assert!(!known_resource("https://openai.azure.com"));
        // Today's documented scope for Azure OpenAI and Foundry: Entra, managed identity and
        // az all mint for it through known_resource.
        assert_eq!(
            resource_of_scope("https://ai.azure.com/.default").as_deref(),
            Some("https://ai.azure.com")
        );
        assert!(known_resource("https://ai.azure.com"));
        assert!(known_resource("https://ai.azure.com/"));
    }
}
