//! Codes only `aoai-doctor explain` emits: a diagnosis of pasted text that no check makes.
//! Every other diagnosis of `explain` reuses the code a check gives the same problem.
use super::{codes, docs};

codes! {
    list = EXPLAIN_CODES;
    EXPLAIN_OK = ("explain-ok", docs::README,
        "`explain`: the pasted text is a success (a token, a completion, an ARM answer), not an error.");
    EXPLAIN_UNKNOWN = ("explain-unknown", docs::README,
        "`explain`: the doctor has no rule for this text; it says so instead of guessing.");
}
