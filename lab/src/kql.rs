//! The small subset of KQL the lab's Resource Graph runs (`resource_graph.rs`): enough for
//! a doctor that looks an account up by its endpoint's host. Anything else is refused with
//! Resource Graph's own 400 `InvalidQuery`, never silently ignored.
//!
//! ```text
//! query   := ("resources" | "Resources") ("|" stage)*
//! stage   := "where" expr | ("take" | "limit") NUMBER | "project" NAME ("," NAME)*   (project last)
//! expr    := and ("or" and)*
//! and     := atom ("and" atom)*
//! atom    := "(" expr ")" | "not" "(" expr ")" | value OP STRING | value ("in" | "in~") "(" STRING ("," STRING)* ")"
//! value   := field | ("tostring" | "tolower") "(" value ")"
//! field   := NAME ("." NAME | "[" STRING "]")*        e.g. properties.endpoints['Token Service API']
//! OP      := "==" | "!=" | "=~" | "!~" | "contains" | "!contains" | "contains_cs" | "has" | "!has"
//!          | "has_cs" | "startswith" | "endswith"
//! ```
//!
//! As in KQL: `=~`, `contains`, `has`, `startswith`, `endswith` ignore case; `has` matches a
//! whole term (bounded by non-alphanumerics); a field that holds an object or array
//! (`properties.endpoints`) compares as its JSON text, as `tostring()` would make it.

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare {
        value: Operand,
        op: String,
        rhs: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(Vec<String>),
    Call(String, Box<Operand>),
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub filters: Vec<Expr>,
    pub take: Option<usize>,
    /// `project a, b`: the top-level columns each row keeps (all when `None`).
    pub project: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(usize),
    Sym(String),
}

fn tokenize(q: &str) -> Result<Vec<Tok>> {
    let c: Vec<char> = q.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '\'' || ch == '\u{22}' {
            let mut s = String::new();
            i += 1;
            loop {
                match c.get(i) {
                    None => bail!("unterminated string literal"),
                    Some('\\') if i + 1 < c.len() => {
                        s.push(c[i + 1]);
                        i += 2;
                    }
                    Some(x) if *x == ch => break,
                    Some(x) => {
                        s.push(*x);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if ch.is_ascii_digit() {
            let start = i;
            while i < c.len() && c[i].is_ascii_digit() {
                i += 1;
            }
            let n: String = c[start..i].iter().collect();
            out.push(Tok::Num(n.parse().map_err(|_| anyhow!("number '{n}' is too large"))?));
        } else if ch.is_alphabetic() || ch == '_' || (ch == '!' && c.get(i + 1).is_some_and(|x| x.is_alphabetic())) {
            let start = i;
            i += 1;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_' || (c[i] == '~' && c[start..i] == ['i', 'n'])) {
                i += 1;
            }
            out.push(Tok::Word(c[start..i].iter().collect()));
        } else {
            let two: String = c[i..(i + 2).min(c.len())].iter().collect();
            if ["==", "!=", "=~", "!~"].contains(&two.as_str()) {
                out.push(Tok::Sym(two));
                i += 2;
            } else if "|()[].,".contains(ch) {
                out.push(Tok::Sym(ch.to_string()));
                i += 1;
            } else {
                bail!("unexpected character '{ch}'");
            }
        }
    }
    Ok(out)
}

const STRING_OPS: [&str; 12] = [
    "==",
    "!=",
    "=~",
    "!~",
    "contains",
    "!contains",
    "contains_cs",
    "has",
    "!has",
    "has_cs",
    "startswith",
    "endswith",
];

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn word_is(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn expect_sym(&mut self, s: &str) -> Result<()> {
        match self.next() {
            Some(Tok::Sym(x)) if x == s => Ok(()),
            other => bail!("expected '{s}', found {}", describe(other.as_ref())),
        }
    }

    /// `a, b, c` after `project`: plain column names.
    fn columns(&mut self) -> Result<Vec<String>> {
        let mut cols = vec![];
        loop {
            match self.next() {
                Some(Tok::Word(w)) => cols.push(w),
                other => bail!("'project' needs column names, found {}", describe(other.as_ref())),
            }
            if !matches!(self.peek(), Some(Tok::Sym(x)) if x == ",") {
                return Ok(cols);
            }
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            other => bail!("expected a string literal, found {}", describe(other.as_ref())),
        }
    }

    fn expr(&mut self) -> Result<Expr> {
        let mut parts = vec![self.and()?];
        while self.word_is("or") {
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr> {
        let mut parts = vec![self.atom()?];
        while self.word_is("and") {
            self.pos += 1;
            parts.push(self.atom()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn atom(&mut self) -> Result<Expr> {
        if self.peek() == Some(&Tok::Sym("(".into())) {
            self.pos += 1;
            let e = self.expr()?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        if self.word_is("not") {
            self.pos += 1;
            self.expect_sym("(")?;
            let e = self.expr()?;
            self.expect_sym(")")?;
            return Ok(Expr::Not(Box::new(e)));
        }
        let value = self.operand()?;
        let op = match self.next() {
            Some(Tok::Sym(s)) | Some(Tok::Word(s)) => s.to_ascii_lowercase(),
            other => bail!("expected an operator, found {}", describe(other.as_ref())),
        };
        let rhs = if op == "in" || op == "in~" {
            self.expect_sym("(")?;
            let mut v = vec![self.string()?];
            while self.peek() == Some(&Tok::Sym(",".into())) {
                self.pos += 1;
                v.push(self.string()?);
            }
            self.expect_sym(")")?;
            v
        } else if STRING_OPS.contains(&op.as_str()) {
            vec![self.string()?]
        } else {
            bail!("operator '{op}' is not supported by the lab's Resource Graph");
        };
        Ok(Expr::Compare { value, op, rhs })
    }

    fn operand(&mut self) -> Result<Operand> {
        let Some(Tok::Word(name)) = self.next() else {
            bail!("expected a column name");
        };
        let lower = name.to_ascii_lowercase();
        if lower == "tostring" || lower == "tolower" {
            self.expect_sym("(")?;
            let inner = self.operand()?;
            self.expect_sym(")")?;
            return Ok(Operand::Call(lower, Box::new(inner)));
        }
        let mut path = vec![name];
        loop {
            match self.peek() {
                Some(Tok::Sym(s)) if s == "." => {
                    self.pos += 1;
                    match self.next() {
                        Some(Tok::Word(w)) => path.push(w),
                        other => bail!("expected a property name, found {}", describe(other.as_ref())),
                    }
                }
                Some(Tok::Sym(s)) if s == "[" => {
                    self.pos += 1;
                    path.push(self.string()?);
                    self.expect_sym("]")?;
                }
                _ => return Ok(Operand::Field(path)),
            }
        }
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the query".into(),
        Some(Tok::Word(w)) => format!("'{w}'"),
        Some(Tok::Str(s)) => format!("the string '{s}'"),
        Some(Tok::Num(n)) => format!("{n}"),
        Some(Tok::Sym(s)) => format!("'{s}'"),
    }
}

/// Parse a query of the supported subset (see the module comment).
pub fn parse(q: &str) -> Result<Query> {
    let mut p = Parser {
        toks: tokenize(q)?,
        pos: 0,
    };
    if !p.word_is("resources") {
        bail!("the lab's Resource Graph has only the 'resources' table");
    }
    p.pos += 1;
    let mut out = Query::default();
    while p.peek().is_some() {
        p.expect_sym("|")?;
        if out.project.is_some() {
            bail!("the lab's Resource Graph takes `project` only as the last stage");
        }
        match p.next() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("project") => out.project = Some(p.columns()?),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("where") => out.filters.push(p.expr()?),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("take") || w.eq_ignore_ascii_case("limit") => match p.next() {
                Some(Tok::Num(n)) => out.take = Some(out.take.map_or(n, |t| t.min(n))),
                other => bail!("'{w}' needs a number, found {}", describe(other.as_ref())),
            },
            other => bail!(
                "operator {} is not supported by the lab's Resource Graph (where, take, limit, project)",
                describe(other.as_ref())
            ),
        }
    }
    Ok(out)
}

/// The row with only the `columns` a `project` stage keeps (a missing column is null).
pub fn project(row: Value, columns: &[String]) -> Value {
    let kept: serde_json::Map<String, Value> = columns
        .iter()
        .map(|c| {
            (
                c.clone(),
                lookup(&row, std::slice::from_ref(c)).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    Value::Object(kept)
}

fn lookup<'a>(row: &'a Value, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    // Top-level column names are case-insensitive in Resource Graph; property keys are not.
    let mut v = row
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(first))
        .map(|(_, v)| v)?;
    for key in rest {
        v = v.get(key.as_str())?;
    }
    Some(v)
}

fn text(row: &Value, o: &Operand) -> String {
    match o {
        Operand::Field(path) => match lookup(row, path) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        },
        Operand::Call(f, inner) if f == "tolower" => text(row, inner).to_lowercase(),
        Operand::Call(_, inner) => text(row, inner),
    }
}

/// `needle` occurs in `hay` as a whole term (case-insensitively).
fn has_term(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.to_lowercase(), needle.to_lowercase());
    if n.is_empty() {
        return true;
    }
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    h.match_indices(&n)
        .any(|(i, _)| boundary(h[..i].chars().next_back()) && boundary(h[i + n.len()..].chars().next()))
}

fn compare(v: &str, op: &str, r: &str) -> bool {
    let (lv, lr) = (v.to_lowercase(), r.to_lowercase());
    match op {
        "==" => v == r,
        "!=" => v != r,
        "=~" | "in~" => lv == lr,
        "!~" => lv != lr,
        "in" => v == r,
        "contains" => lv.contains(&lr),
        "!contains" => !lv.contains(&lr),
        "contains_cs" => v.contains(r),
        "has" => has_term(v, r),
        "!has" => !has_term(v, r),
        "has_cs" => has_term(v, r) && v.contains(r),
        "startswith" => lv.starts_with(&lr),
        "endswith" => lv.ends_with(&lr),
        _ => false,
    }
}

pub fn matches(row: &Value, e: &Expr) -> bool {
    match e {
        Expr::Or(v) => v.iter().any(|x| matches(row, x)),
        Expr::And(v) => v.iter().all(|x| matches(row, x)),
        Expr::Not(x) => !matches(row, x),
        Expr::Compare { value, op, rhs } => {
            let v = text(row, value);
            rhs.iter().any(|r| compare(&v, op, r))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> Value {
        json!({"type": "microsoft.cognitiveservices/accounts", "name": "contoso-aoai",
               "properties": {"endpoint": "https://contoso-aoai.openai.azure.com/",
                              "endpoints": {"OpenAI Language Model Instance API": "https://contoso-aoai.openai.azure.com/",
                                            "AI Foundry API": "https://contoso-aoai.services.ai.azure.com/"}}})
    }

    fn run(q: &str) -> bool {
        let q = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        q.filters.iter().all(|f| matches(&row(), f))
    }

    #[test]
    fn the_doctor_s_host_query_matches_by_endpoint_or_endpoints() {
        let q = |host: &str| {
            format!(
                "resources | where type =~ 'Microsoft.CognitiveServices/accounts' | where properties.endpoint =~ 'https://{host}/' or tostring(properties.endpoints) contains '{host}' | take 5"
            )
        };
        assert!(run(&q("contoso-aoai.openai.azure.com")));
        assert!(run(&q("CONTOSO-AOAI.services.ai.azure.com")));
        assert!(!run(&q("fabrikam.openai.azure.com")));
        assert_eq!(parse(&q("x")).unwrap().take, Some(5));
    }

    #[test]
    fn operators_follow_kql() {
        assert!(run("Resources | where name == 'contoso-aoai'"));
        assert!(!run("Resources | where name == 'CONTOSO-AOAI'"));
        assert!(run(
            "Resources | where name =~ 'CONTOSO-AOAI' and not(name has 'aoai2')"
        ));
        assert!(run(
            "resources | where properties.endpoints has 'contoso-aoai.openai.azure.com'"
        ));
        // Terms split at punctuation: 'aoai' is a term of contoso-aoai…, 'oai' is not.
        assert!(run(
            "resources | where properties.endpoints has 'aoai.openai.azure.com'"
        ));
        assert!(!run(
            "resources | where properties.endpoints has 'oai.openai.azure.com'"
        ));
        assert!(run(
            "resources | where properties.endpoints['AI Foundry API'] startswith 'https://contoso'"
        ));
        assert!(run("resources | where name in~ ('x', 'Contoso-AOAI')"));
        assert!(!run("resources | where name in ('x', 'Contoso-AOAI')"));
        assert!(run(
            "resources | where (name endswith 'aoai' or name == 'x') and type !~ 'foo'"
        ));
        assert!(!run("resources | where properties.missing contains 'a'"));
    }

    #[test]
    fn what_is_outside_the_subset_is_refused() {
        for q in [
            "resources | project name, | where name == 'x'",
            "resourcecontainers",
            "resources | where name matches regex 'x'",
            "resources | where name == 'unterminated",
            "resources | where name ==",
            "resources | take many",
            "resources | where name == 'a' | summarize count()",
        ] {
            assert!(parse(q).is_err(), "{q}");
        }
    }

    #[test]
    fn project_keeps_the_named_columns_last() {
        let q = parse("resources | where type =~ 'x' | project id, name, properties").unwrap();
        assert_eq!(
            q.project.as_deref(),
            Some(&["id".to_string(), "name".into(), "properties".into()][..])
        );
        let row = serde_json::json!({"id": "i", "Name": "n", "type": "x", "properties": {"a": 1}});
        assert_eq!(
            project(row, q.project.as_ref().unwrap()),
            serde_json::json!({"id": "i", "name": "n", "properties": {"a": 1}})
        );
        assert!(parse("resources | project id | where id == 'i'").is_err());
        assert!(parse("resources | project").is_err());
    }
}
