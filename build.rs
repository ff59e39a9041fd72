//! Turns the explicit test-skip variables into cfgs, so a test whose real dependency is
//! deliberately skipped is reported by name as `ignored, <reason>` instead of passing
//! silently (tests/real_sdk.rs, tests/ci.rs). Without the variable such a test fails when its
//! dependency is missing. Only the exact value `1` skips.
fn main() {
    for (var, cfg) in [
        ("AOAI_DOCTOR_SKIP_REAL_SDK", "skip_real_sdk"),
        ("AOAI_DOCTOR_SKIP_XMLLINT", "skip_xmllint"),
    ] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        if std::env::var(var).is_ok_and(|v| v == "1") {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
