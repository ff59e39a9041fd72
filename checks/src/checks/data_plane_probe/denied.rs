//! 401 PermissionDenied: the token was accepted, the principal lacks the data action. The
//! action is the one the body names (always quoted), else the one the surface needs
//! ([`needed_for`]); the role to assign is the smallest built-in one that grants it
//! ([`smallest_role_for`]), at the scope the surface is authorised at (a Foundry project's
//! calls at the project, or the account above it).

use super::input::Input;
use super::wait::short_duration;
use crate::codes;
use crate::diagnose::data_actions::{BuiltinDataRole, full_data_action, needed_for, short_action, smallest_role_for};
use crate::facts::RoleVerdict;
use crate::model::{Finding, Judgement, Status};
use crate::surface::AI_AZURE;

/// The role to recommend, as `az` and people spell it.
struct Advice {
    /// "Cognitive Services OpenAI User", "Foundry User (formerly Azure AI User)".
    display: String,
    /// What `--role` gets: the name of a role never renamed, else its GUID (a tenant may
    /// still list the old name).
    az_role: String,
    /// "on the resource", "on project `p` (or the account above it)".
    scope_words: String,
    scope: String,
}

fn advice(input: &Input, action: &str) -> Advice {
    let role: Option<&BuiltinDataRole> = smallest_role_for(action);
    let display = role.map_or_else(|| "a role that grants it".to_string(), BuiltinDataRole::display_name);
    let az_role = match role {
        Some(r) if r.former_name.is_none() => r.name.to_string(),
        Some(r) => r.guid.to_string(),
        None => "ROLE-WITH-THE-DATA-ACTION".to_string(),
    };
    let (scope_words, scope) = match (input.surface.project(), &input.resource.resource_id) {
        (Some(p), Some(id)) => (
            format!("on project `{p}` (or the account above it)"),
            format!("{id}/projects/{p}"),
        ),
        (Some(p), None) => (
            format!("on project `{p}` (or the account above it)"),
            input.resource.scope(),
        ),
        (None, _) => ("on the resource".to_string(), input.resource.scope()),
    };
    Advice {
        display,
        az_role,
        scope_words,
        scope,
    }
}

/// The data action the denial is about, and the one the role check looked at when that
/// was another (then its "granted" verdict does not apply to this call).
fn actions(input: &Input, action_from_body: Option<&str>) -> (String, Option<String>) {
    let needed = needed_for(input.surface, input.kind, None);
    let checked = input.roles.map(|r| r.data_action.clone()).filter(|a| !a.is_empty());
    let action = match (action_from_body, &checked) {
        (Some(a), _) => full_data_action(a),
        // A project's calls need an AIServices action whatever the role check looked at.
        (None, Some(c)) if !input.surface.is_project() => c.clone(),
        _ => needed.action.to_string(),
    };
    // A body naming another action than the one checked, or a check of an action this
    // surface does not need: the role check's verdict is about something else.
    let other =
        checked.filter(|c| !c.eq_ignore_ascii_case(&action) && (action_from_body.is_some() || !needed.names(c)));
    (action, other)
}

pub(super) fn permission_denied(
    input: &Input,
    principal_from_body: Option<&str>,
    action_from_body: Option<&str>,
) -> Judgement {
    let p = input.principal(principal_from_body);
    let (action, checked_other) = actions(input, action_from_body);
    let needed = needed_for(input.surface, input.kind, None);
    let a = advice(input, &action);
    let oid = p.oid.clone().unwrap_or_else(|| "PRINCIPAL-OBJECT-ID".into());
    let create = format!(
        "az role assignment create --assignee-object-id {oid} --assignee-principal-type {} --role \"{}\" --scope {}",
        p.kind.unwrap_or("User|ServicePrincipal"),
        a.az_role,
        a.scope
    );
    let list = format!("az role assignment list --assignee {oid} --all --include-inherited --include-groups -o table");
    let mut head = format!(
        "HTTP 401 PermissionDenied: {} lacks the data action `{action}`",
        p.describe
    );
    if action_from_body.is_none()
        && let Some(why) = needed.unconfirmed.clone().filter(|_| needed.or_else.is_some())
    {
        head.push_str(&format!(
            " or `{}` ({why}; {} grants both)",
            needed.or_else.unwrap_or_default(),
            a.display
        ));
    }
    let verdict = match (input.run.role_verdict, &checked_other) {
        // The role check judged another action: its "granted" says nothing about this call.
        (Some(RoleVerdict::Granted), Some(_)) => Some(RoleVerdict::Missing),
        (v, _) => v,
    };
    let checked_note = checked_other
        .as_deref()
        .map(|c| {
            format!(
                " role-assignment checked `{}`, but this call needs `{}`, which {} grants.",
                short_action(c),
                short_action(&action),
                a.display
            )
        })
        .unwrap_or_default();
    let (summary, message, fix, commands) = match (verdict, input.run.gave_up) {
        (_, true) => {
            let waited = short_duration(input.run.waited.unwrap_or(input.wait));
            (
                format!("still 401 PermissionDenied after waiting {waited}"),
                format!("{head}, still after waiting {waited} for a role to propagate."),
                format!("Propagation normally finishes within 10 minutes. Check the assignment is on this resource (or a scope above it), for this principal, and is a role with the data action ({}); a deny assignment also blocks it.", a.display),
                vec![list, create],
            )
        }
        (Some(RoleVerdict::Propagating), false) => (
            "401 PermissionDenied: a recent role assignment has not reached the data plane yet".to_string(),
            format!(
                "{head}; role-assignment found a recent assignment that grants it, so it is probably still propagating (up to about 10 minutes)."
            ),
            "Wait and run again, or let the doctor wait for it.".to_string(),
            vec!["aoai-doctor --wait-for-propagation 10m".to_string()],
        ),
        (Some(RoleVerdict::Granted), false) => (
            "401 PermissionDenied although a role seems to grant it".to_string(),
            format!(
                "{head}, although role-assignment found an assignment granting it: the token may belong to another principal than the one checked, a deny assignment may apply, or the assignment is on another resource."
            ),
            "Compare the token's principal (token-claims) with the assignment's, and look for deny assignments on the resource.".to_string(),
            vec![list, create],
        ),
        (Some(RoleVerdict::Missing) | None, false) => (
            format!("401 PermissionDenied: no role grants {} the data action", p.short()),
            format!(
                "{head} {}: assign a role that has it (Owner and Contributor do not; they grant no data actions).{checked_note}",
                if input.surface.is_project() { a.scope_words.clone() } else { "on this resource".to_string() }
            ),
            format!("Assign \"{}\" to the principal {}; it reaches the data plane within about 10 minutes (then run with --wait-for-propagation 10m).", a.display, a.scope_words),
            vec![create],
        ),
        (Some(RoleVerdict::Unknown), false) => (
            "401 PermissionDenied: no role grants the data action (or it has not propagated)".to_string(),
            format!(
                "{head} on this resource (the role assignments could not be read to tell a missing role from one still propagating).{checked_note}"
            ),
            format!("Assign \"{}\" to the principal {} if it has no such role; a new assignment takes up to about 10 minutes.", a.display, a.scope_words),
            vec![list, create],
        ),
    };
    Judgement::new(Status::Fail, summary).finding(
        Finding::error(&codes::PROBE_PERMISSION_DENIED, message)
            .fix(fix)
            .commands(commands),
    )
}

/// A 401 rejecting the token on a Foundry project endpoint because of its audience: blame the
/// scope, with the SDK versions that asked for the old one.
pub(super) fn project_audience(input: &Input) -> Judgement {
    let found = input
        .decoded
        .ok()
        .and_then(|c| c.aud.as_ref())
        .map(|a| a.values().join(", "))
        .unwrap_or_else(|| "no audience".to_string());
    let message = format!(
        "HTTP 401: the project endpoint rejected the token: its audience is {found}, and a Microsoft Foundry project endpoint accepts only {AI_AZURE} (the token was requested for `{}`).",
        input.scope
    );
    Judgement::new(Status::Fail, format!("HTTP 401: token rejected — a Foundry project needs a token for {AI_AZURE}"))
        .finding(
            Finding::error(&codes::PROBE_PROJECT_AUDIENCE, message)
                .fix(
                    "Request the token with the scope https://ai.azure.com/.default. azure-ai-projects 1.x and 2.0.0b2 requested \
                     https://cognitiveservices.azure.com/.default: upgrade to azure-ai-projects >= 2.0.0b3 and use \
                     project.get_openai_client(); with the plain OpenAI client pass \
                     get_bearer_token_provider(credential, \"https://ai.azure.com/.default\").",
                )
                .command("aoai-doctor --scope https://ai.azure.com/.default")
                .command("pip install --upgrade 'azure-ai-projects>=2.0.0'"),
        )
}

/// A 400 about the api-version on `/openai/v1` (which takes none): an `AzureOpenAI` client,
/// `OPENAI_API_VERSION` or a `default_query` pointed at the v1 API.
pub(super) fn api_version_on_v1(input: &Input, st: u16, message: &str) -> Judgement {
    let shown = if message.is_empty() {
        String::new()
    } else {
        format!(" (\"{}\")", crate::diagnose::redact::redact(message))
    };
    Judgement::new(Status::Fail, format!("HTTP {st}: an api-version was sent to the v1 API, which takes none")).finding(
        Finding::error(
            &codes::PROBE_API_VERSION_ON_V1,
            format!(
                "{} answered HTTP {st}{shown}: the /openai/v1 API takes no dated api-version; an AzureOpenAI client or a dated api-version is pointed at it.",
                input.request.describe()
            ),
        )
        .fix(
            "With base_url …/openai/v1/ use the plain OpenAI client (Python `OpenAI`, JS `new OpenAI`) and no api_version / \
             OPENAI_API_VERSION / default_query; or keep AzureOpenAI with azure_endpoint = the resource root (no /openai/v1) and a dated api-version.",
        )
        .command("unset OPENAI_API_VERSION"),
    )
}
