//! Is an answer an HTML page (a proxy's, a gateway's, a captive portal's) rather than what
//! the service sends, and what is its title? One home for every caller: the token, ARM and
//! data-plane answers are sniffed the same way.

/// An HTML page, by its content type or by its first bytes.
pub fn is_html(content_type: Option<&str>, body: &str) -> bool {
    let html_type = content_type.is_some_and(|ct| ct.to_ascii_lowercase().contains("text/html"));
    let t = body.trim_start();
    let head = t.get(..t.len().min(15)).unwrap_or(t).to_ascii_lowercase();
    html_type || head.starts_with("<!doctype html") || head.starts_with("<html")
}

/// The page's `<title>`, whitespace collapsed and cut to 80 characters (not redacted: the
/// caller decides what it shows).
pub fn title(body: &str) -> Option<String> {
    let t = body.trim_start();
    let lower = t.to_ascii_lowercase();
    lower
        .find("<title>")
        .map(|i| i + "<title>".len())
        .and_then(|a| lower[a..].find("</title>").map(|b| (a, a + b)))
        .and_then(|(a, b)| t.get(a..b))
        .map(|x| x.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|x| x.chars().take(80).collect::<String>())
        .filter(|x| !x.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_pages_by_type_or_first_bytes() {
        assert!(is_html(Some("text/html; charset=utf-8"), "x"));
        assert!(is_html(None, "  <!DOCTYPE html><html>"));
        assert!(is_html(None, "<HTML><body>"));
        assert!(!is_html(Some("application/json"), "{\"error\":{}}"));
        assert!(!is_html(None, "<?xml version=\"1.0\"?>"));
    }

    #[test]
    fn titles() {
        assert_eq!(
            title("<html><head><TITLE>502  Bad\n Gateway</TITLE></head></html>").as_deref(),
            Some("502 Bad Gateway")
        );
        assert_eq!(title("<html><title></title></html>"), None);
        assert_eq!(title("<html><body>no title</body></html>"), None);
        assert_eq!(
            title(&format!("<title>{}</title>", "x".repeat(200))).map(|t| t.len()),
            Some(80)
        );
    }
}
