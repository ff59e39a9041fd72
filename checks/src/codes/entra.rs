//! One code per AADSTS number the doctor knows: Entra failures are named by their number,
//! never by HTTP status or OAuth `error` (both have changed for the same code over time).
use super::codes;

const ERR: &str = "https://learn.microsoft.com/entra/identity-platform/reference-error-codes";

codes! {
    list = ENTRA_CODES;
    AADSTS_500011 = ("aadsts-500011", ERR, "AADSTS500011: the resource in the scope does not exist in the tenant (wrong scope, or wrong tenant).");
    AADSTS_70011 = ("aadsts-70011", ERR, "AADSTS70011: the scope is invalid (malformed, several resources, or missing /.default).");
    AADSTS_650057 = ("aadsts-650057", ERR, "AADSTS650057: the client app is not allowed to request this resource (not pre-authorized, wrong scope).");
    AADSTS_7000215 = ("aadsts-7000215", ERR, "AADSTS7000215: the client secret is wrong (often the secret's id was used instead of its value).");
    AADSTS_7000222 = ("aadsts-7000222", ERR, "AADSTS7000222: the client secret has expired; create a new one.");
    AADSTS_700016 = ("aadsts-700016", ERR, "AADSTS700016: no application with this client id in the tenant (wrong client id or tenant).");
    AADSTS_90002 = ("aadsts-90002", ERR, "AADSTS90002: the tenant does not exist (wrong tenant id or cloud).");
    AADSTS_70021 = ("aadsts-70021", ERR, "AADSTS70021: no federated credential matches the token's issuer/subject/audience (workload identity).");
    AADSTS_700211 = ("aadsts-700211", ERR, "AADSTS700211: no federated credential matches the token's issuer.");
    AADSTS_700024 = ("aadsts-700024", ERR, "AADSTS700024: the client assertion (federated token) has expired or is not yet valid.");
    AADSTS_50076 = ("aadsts-50076", ERR, "AADSTS50076: multi-factor authentication is required (Conditional Access).");
    AADSTS_50079 = ("aadsts-50079", ERR, "AADSTS50079: the user must enrol in multi-factor authentication.");
    AADSTS_53003 = ("aadsts-53003", ERR, "AADSTS53003: access blocked by a Conditional Access policy.");
    AADSTS_50005 = ("aadsts-50005", ERR, "AADSTS50005: sign-in from an unsupported platform blocked by Conditional Access.");
    AADSTS_530084 = ("aadsts-530084", ERR, "AADSTS530084: a token-protection Conditional Access policy blocks this sign-in.");
    AADSTS_700082 = ("aadsts-700082", ERR, "AADSTS700082: the refresh token expired after inactivity; log in again.");
    AADSTS_70043 = ("aadsts-70043", ERR, "AADSTS70043: the refresh token expired under a sign-in frequency policy; log in again.");
    AADSTS_50173 = ("aadsts-50173", ERR, "AADSTS50173: the session was revoked (password change, CAE); log in again.");
    AADSTS_50058 = ("aadsts-50058", ERR, "AADSTS50058: no signed-in user session (silent sign-in failed); log in again.");
    AADSTS_7000218 = ("aadsts-7000218", ERR, "AADSTS7000218: the request carried no client secret or assertion (a confidential app needs one).");
    AADSTS_700027 = ("aadsts-700027", ERR, "AADSTS700027: the client assertion's signature is invalid (the certificate is not registered on the app, or the wrong key signed it).");
    AADSTS_700021 = ("aadsts-700021", ERR, "AADSTS700021: the client assertion's application id does not match the client_id parameter.");
    AADSTS_700023 = ("aadsts-700023", ERR, "AADSTS700023: the client assertion's audience does not match the token endpoint (wrong tenant or authority).");
    AADSTS_50027 = ("aadsts-50027", ERR, "AADSTS50027: the JWT (client assertion) is invalid or malformed.");
    AADSTS_900023 = ("aadsts-900023", ERR, "AADSTS900023: the tenant identifier is neither a valid GUID nor a verified domain.");
    AADSTS_700212 = ("aadsts-700212", ERR, "AADSTS700212: no federated credential matches the assertion's audience.");
    AADSTS_700213 = ("aadsts-700213", ERR, "AADSTS700213: no federated credential matches the assertion's subject (case-sensitive).");
    AADSTS_50011 = ("aadsts-50011", ERR, "AADSTS50011: the redirect URI of the request is not registered on the app (WAM needs ms-appx-web://Microsoft.AAD.BrokerPlugin/<client-id>).");
    AADSTS_65001 = ("aadsts-65001", ERR, "AADSTS65001: the user or an administrator has not consented to the application.");
    AADSTS_65002 = ("aadsts-65002", ERR, "AADSTS65002: a first-party app is not pre-authorized for this resource (use another credential, e.g. az login).");
    AADSTS_50126 = ("aadsts-50126", ERR, "AADSTS50126: the username or password is invalid.");
    AADSTS_7000112 = ("aadsts-7000112", ERR, "AADSTS7000112: the application is disabled.");
}

/// The code for an AADSTS number, if the catalogue has one.
pub fn for_aadsts(n: u32) -> Option<&'static super::Code> {
    ENTRA_CODES
        .iter()
        .copied()
        .find(|c| c.id.strip_prefix("aadsts-").and_then(|d| d.parse::<u32>().ok()) == Some(n))
}
