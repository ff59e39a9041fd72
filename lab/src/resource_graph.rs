//! Azure Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources?api-version=…`
//! (2021-03-01 and later: the object-array answer). The lab runs the query it is sent (the
//! KQL subset in `kql.rs`) over the Cognitive Services accounts the caller can read, in the
//! subscriptions it can see (or those the body names), and pages as the service does:
//! at most 1,000 rows a page (`options.$top`, default 1,000), `options.$skip`, and a
//! `$skipToken` in the answer while rows remain, which the next request passes back in
//! `options.$skipToken`.
//!
//! Answer: `{"totalRecords", "count", "data": [{id, name, type (lower case, as Resource
//! Graph reports it), location, resourceGroup, subscriptionId, tenantId, kind, sku,
//! properties, …}], "facets": [], "resultTruncated": "false", "$skipToken"?}`. A query
//! outside the subset gets 400 `BadRequest` with an `InvalidQuery` detail, as a KQL error
//! does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::arm::{Caller, account_json, accounts, error, ok, visible_subscriptions};
use super::http::{Resp, json as json_resp, q};
use super::state::LabState;

/// Resource Graph's largest page.
pub const MAX_PAGE: usize = 1000;

fn invalid_query(why: &str) -> Resp {
    let body = format!(
        "{{\"error\":{{\"code\":\"BadRequest\",\"message\":\"Please provide below info when asking for support: timestamp = {}, correlationId = {}.\",\"details\":[{{\"code\":\"InvalidQuery\",\"message\":\"Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.\"}},{{\"code\":\"ParserFailure\",\"message\":{}}}]}}}}",
        super::util::arm_timestamp(super::util::now_unix()),
        super::util::guid(),
        q(why)
    );
    json_resp(400, body, &super::arm::headers())
}

/// `$skipToken`s are opaque to clients; the lab's carries the offset of the next row.
fn skip_token(offset: usize) -> String {
    STANDARD.encode(format!("lab-resource-graph:{offset}"))
}

fn parse_skip_token(t: &str) -> Option<usize> {
    let raw = STANDARD.decode(t).ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("lab-resource-graph:")?
        .parse()
        .ok()
}

/// The caller's readable accounts, as Resource Graph rows, in the subscriptions in scope.
fn rows(st: &LabState, c: &Caller, only: Option<&[Value]>) -> Vec<Value> {
    let subs: Vec<String> = visible_subscriptions(st, c)
        .into_iter()
        .map(|s| s.id.to_ascii_lowercase())
        .filter(|id| only.is_none_or(|o| o.iter().any(|x| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(id)))))
        .collect();
    accounts(st)
        .iter()
        .filter(|a| subs.contains(&a.sub_id.to_ascii_lowercase()))
        .filter(|a| {
            st.rbac()
                .action_allowed(&c.oid, &a.id(), "Microsoft.CognitiveServices/accounts/read")
        })
        .map(|a| {
            let mut v = account_json(st, a);
            v["type"] = json!("microsoft.cognitiveservices/accounts");
            v["subscriptionId"] = json!(a.sub_id);
            v["resourceGroup"] = json!(a.rg.to_ascii_lowercase());
            v["tenantId"] = json!(c.tid);
            v["managedBy"] = json!("");
            v["plan"] = Value::Null;
            v["zones"] = Value::Null;
            v["extendedLocation"] = Value::Null;
            if let Some(o) = v.as_object_mut() {
                // ARM's account fields that Resource Graph does not carry.
                o.remove("etag");
                o.remove("systemData");
            }
            v
        })
        .collect()
}

/// Which rows this request gets: `$skipToken` wins over `$skip`; `$top` at most 1,000.
fn window(options: &Value) -> Result<(usize, usize), &'static str> {
    let top = match options.get("$top") {
        None | Some(Value::Null) => MAX_PAGE,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_PAGE as u64).contains(&n) => n as usize,
            _ => return Err("The $top option must be an integer between 1 and 1000."),
        },
    };
    let skip = match options.get("$skipToken").and_then(Value::as_str) {
        Some(t) => parse_skip_token(t).ok_or("The $skipToken is invalid.")?,
        None => options.get("$skip").and_then(Value::as_u64).unwrap_or(0) as usize,
    };
    Ok((skip, top))
}

pub fn resources(st: &LabState, c: &Caller, body: &[u8]) -> Resp {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(400, "BadRequest", "Please provide a valid query.");
    };
    let Some(text) = req.get("query").and_then(Value::as_str) else {
        return error(400, "BadRequest", "Please provide a valid query.");
    };
    let query = match super::kql::parse(text) {
        Ok(q) => q,
        Err(e) => return invalid_query(&e.to_string()),
    };
    let (skip, top) = match window(req.get("options").unwrap_or(&Value::Null)) {
        Ok(w) => w,
        Err(why) => return error(400, "BadRequest", why),
    };
    let only = req.get("subscriptions").and_then(Value::as_array).map(Vec::as_slice);
    let mut matched: Vec<Value> = rows(st, c, only)
        .into_iter()
        .filter(|r| query.filters.iter().all(|f| super::kql::matches(r, f)))
        .collect();
    if let Some(n) = query.take {
        matched.truncate(n);
    }
    let total = matched.len();
    let page: Vec<Value> = matched
        .into_iter()
        .skip(skip)
        .take(top)
        .map(|r| match &query.project {
            Some(cols) => super::kql::project(r, cols),
            None => r,
        })
        .collect();
    let mut answer = json!({
        "totalRecords": total,
        "count": page.len(),
        "data": page,
        "facets": [],
        "resultTruncated": "false",
    });
    if skip + top < total {
        answer["$skipToken"] = json!(skip_token(skip + top));
    }
    ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_tokens_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(parse_skip_token(&skip_token(1000)), Some(1000));
        assert_eq!(parse_skip_token("ew0KICAiJGlkIjogIjEiDQp9"), None);
        assert_eq!(parse_skip_token("%%%"), None);
    }

    #[test]
    fn pages_are_at_most_a_thousand_rows() {
        assert_eq!(window(&json!({})).ok(), Some((0, 1000)));
        assert_eq!(window(&json!({"$top": 2, "$skip": 4})).ok(), Some((4, 2)));
        assert_eq!(
            window(&json!({"$top": 2, "$skip": 4, "$skipToken": skip_token(6)})).ok(),
            Some((6, 2))
        );
        assert!(window(&json!({"$top": 1001})).is_err());
        assert!(window(&json!({"$top": 0})).is_err());
        assert!(window(&json!({"$skipToken": "bogus"})).is_err());
    }
}
