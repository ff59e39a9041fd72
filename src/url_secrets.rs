//! URLs that carry a secret are refused before any network call: credentials in the
//! authority (`https://user:password@host/`) or a key in the query string (`?api-key=…`,
//! a SAS `sig=`, a Functions `code=`…). Echoed into a report they would leak; sent along
//! with a bearer token they would hand both to whoever serves that URL. The refusal never
//! repeats the secret.

/// Query (or fragment) parameters whose value is a secret, compared case-insensitively.
const SECRET_PARAMETERS: &[&str] = &[
    "api-key",
    "api_key",
    "apikey",
    "key",
    "subscription-key",
    "ocp-apim-subscription-key",
    "sig",
    "signature",
    "code",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "client_secret",
    "secret",
    "password",
    "pwd",
];

/// Why `raw` must not be used, in words that do not repeat the secret; `None` if it carries
/// none. Works on the text, so it also catches URLs that do not parse.
pub fn refusal(flag: &str, raw: &str) -> Option<String> {
    let (scheme, rest) = match raw.trim().split_once("://") {
        Some((s, r)) => (s, r),
        None => ("https", raw.trim()),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    if let Some((_, host)) = authority.rsplit_once('@') {
        return Some(format!(
            "{flag} has credentials in it (user:password@ before {scheme}://{host}/): refusing to send or show them. \
             Remove them: Azure OpenAI authenticates with a token (or an api-key header), never with URL credentials."
        ));
    }
    let tail = &rest[authority_end..];
    let params = tail
        .split_once(['?', '#'])
        .map(|(_, p)| p)
        .unwrap_or("")
        .split(['&', ';', '#', '?']);
    for pair in params {
        let name = pair.split('=').next().unwrap_or("").trim();
        let name = percent_decode(name);
        if pair.contains('=') && SECRET_PARAMETERS.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
            return Some(format!(
                "{flag} carries a secret in its query string (`{name}=…`): refusing to send or show it. \
                 Give the endpoint without a query string (e.g. https://NAME.openai.azure.com/); a key belongs in the api-key header, never in a URL."
            ));
        }
    }
    None
}

/// `%2D` → `-`, enough to see through an encoded parameter name; invalid escapes stay.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_authority_are_refused_without_repeating_them() {
        for raw in [
            "https://user:hunter2@contoso.openai.azure.com/",
            "https://hunter2@contoso.openai.azure.com",
            "https://user:hunter2@",
            "user:hunter2@contoso.openai.azure.com",
            "https://us%40er:hun@ter2@contoso.openai.azure.com/openai?x=1",
        ] {
            let why = refusal("--endpoint", raw).unwrap_or_else(|| panic!("{raw} accepted"));
            assert!(
                !why.contains("hunter2") && !why.contains("ter2") && !why.contains("us%40er"),
                "{why}"
            );
            assert!(why.contains("credentials"), "{why}");
        }
        assert!(refusal("--endpoint", "https://contoso.openai.azure.com/openai/deployments/x@y").is_none());
    }

    #[test]
    fn secrets_in_the_query_are_refused_by_name_only() {
        for (raw, name) in [
            ("https://contoso.openai.azure.com/?api-key=0123abcd", "api-key"),
            ("https://contoso.openai.azure.com/?API-KEY=0123abcd", "API-KEY"),
            ("https://contoso.openai.azure.com/?api%2Dkey=0123abcd", "api-key"),
            ("https://acct.blob.core.windows.net/c?sv=2022&sig=0123abcd", "sig"),
            ("https://fn.azurewebsites.net/api/x?code=0123abcd", "code"),
            (
                "https://contoso.openai.azure.com/#access_token=0123abcd",
                "access_token",
            ),
        ] {
            let why = refusal("AZURE_OPENAI_ENDPOINT", raw).unwrap_or_else(|| panic!("{raw} accepted"));
            assert!(!why.contains("0123abcd"), "{why}");
            assert!(why.contains(&format!("`{name}=…`")), "{why}");
        }
        for fine in [
            "https://contoso.openai.azure.com/",
            "https://contoso.openai.azure.com/?api-version=2024-10-21",
            "http://127.0.0.1:8080",
            "https://contoso.openai.azure.com/?keyword=x",
        ] {
            assert_eq!(refusal("--endpoint", fine), None, "{fine}");
        }
    }
}
