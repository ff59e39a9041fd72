//! The write: the caller's effective permissions first (nothing is attempted that ARM would
//! refuse anyway, and an owner gets the commands instead), then the idempotent PUT, and — for
//! `--assignee` — the read-back.

use super::{FixRow, finding, text};
use aoai_doctor_checks::azure::arm::{AUTHORIZATION_API, ArmClient, RoleAssignment};
use aoai_doctor_checks::azure::arm_write::{WriteFailure, WriteOutcome, put_role_assignment};
use aoai_doctor_checks::azure::credentials;
use aoai_doctor_checks::codes;
use aoai_doctor_checks::facts::Facts;
use aoai_doctor_checks::fix::{Plan, WriteAccess, write_access};
use aoai_doctor_checks::model::{Change, Severity::*};
use aoai_doctor_checks::secret::Secret;

/// An ARM token for the credential the app uses (the caller writes as itself).
async fn arm_token(p: &crate::Prepared, facts: &Facts, row: &mut FixRow) -> Option<Secret> {
    let Some(cred) = &facts.credential else {
        row.add(finding(
            &codes::FIX_ARM_FAILED,
            Error,
            "no credential: fix cannot call ARM",
        ));
        return None;
    };
    match credentials::acquire(&p.ctx, &cred.config, &p.ctx.target.cloud.arm_scope()).await {
        Ok(t) => Some(t.token),
        Err(e) => {
            let why = e.describe();
            // Conditional Access asking for MFA (or another fresh sign-in) before ARM.
            let challenge = ["AADSTS50076", "AADSTS50079", "AADSTS50158", "interaction_required"]
                .iter()
                .any(|m| why.contains(m));
            let code = if challenge {
                &codes::FIX_CLAIMS_CHALLENGE
            } else {
                &codes::FIX_ARM_FAILED
            };
            row.add(finding(
                code,
                Error,
                format!("{} could not get an ARM token: {why}", cred.name),
            ));
            None
        }
    }
}

/// The caller's right to write the planned assignment (read-only: the token, then
/// `GET {scope}/providers/Microsoft.Authorization/permissions`); `None` when it could not be
/// read (the finding says why).
pub async fn check_access(
    p: &crate::Prepared,
    facts: &Facts,
    plan: &Plan,
    row: &mut FixRow,
) -> Option<(Secret, WriteAccess)> {
    let token = arm_token(p, facts, row).await?;
    let arm = ArmClient::new(&p.ctx, token.clone());
    let blocks = match arm.permissions(&plan.scope).await {
        Ok(b) => b,
        Err(e) => {
            row.add(
                finding(
                    &codes::FIX_ARM_FAILED,
                    Error,
                    format!(
                        "the caller's effective permissions on {} could not be read: {}",
                        plan.scope,
                        e.describe()
                    ),
                )
                .command(plan.az_command()),
            );
            return None;
        }
    };
    let access = write_access(&blocks, &plan.role_definition_guid);
    row.note("write_access", serde_json::to_value(&access).unwrap_or_default());
    Some((token, access))
}

/// Checks the caller may write, then writes. `true` when the assignment exists afterwards.
pub async fn apply(p: &crate::Prepared, facts: &Facts, plan: &Plan, row: &mut FixRow) -> bool {
    let Some((token, access)) = check_access(p, facts, plan, row).await else {
        return false;
    };
    if access != WriteAccess::Allowed {
        refuse(&access, plan, row);
        return false;
    }
    let limit = credentials::http_limit(&p.ctx);
    match put_role_assignment(&p.ctx.http, &p.ctx.endpoints.arm, &token, plan, limit).await {
        Ok(WriteOutcome::Created { created_on }) => {
            let time = created_on.unwrap_or_else(now_rfc3339);
            row.changes.push(Change {
                kind: "role-assignment-created".into(),
                assignment_id: plan.assignment_id.clone(),
                role: plan.role.clone(),
                role_definition_id: plan.role_definition_id.clone(),
                scope: plan.scope.clone(),
                principal_id: plan.principal_id.clone(),
                principal_type: plan.principal_type.clone(),
                time,
                undo_command: plan.undo_command(),
            });
            row.add(
                finding(
                    &codes::FIX_APPLIED,
                    Info,
                    format!(
                        "created {} for {} on {} ({})",
                        plan.role, plan.principal_id, plan.scope, plan.assignment_id
                    ),
                )
                .fix("To undo it:")
                .command(plan.undo_command()),
            );
            true
        }
        Ok(WriteOutcome::AlreadyExists { message }) => {
            row.add(finding(
                &codes::FIX_ALREADY_DONE,
                Info,
                format!("ARM answered RoleAssignmentExists: {message} Nothing was written."),
            ));
            true
        }
        Err(f) => {
            write_failed(&f, plan, row);
            false
        }
    }
}

fn refuse(access: &WriteAccess, plan: &Plan, row: &mut FixRow) {
    let code = match access {
        WriteAccess::ConditionForbids { .. } => &codes::FIX_CONDITION_FORBIDS,
        _ => &codes::FIX_NOT_PERMITTED,
    };
    row.add(
        finding(code, Error, text::refusal(access, plan))
            .fix("Someone who may assign roles at this scope must run this (Bicep and Terraform equivalents are printed on stderr):")
            .command(plan.az_command()),
    );
    if *access == WriteAccess::NoWrite && plan.principal_type == "User" {
        row.add(finding(
            &codes::FIX_PIM_ACTIVATE,
            Info,
            "if you are Owner (or User Access Administrator) only through Privileged Identity Management, activate that role first, then run aoai-doctor fix again",
        ));
    }
    row.notes.push(text::for_an_owner(access, plan));
}

fn write_failed(f: &WriteFailure, plan: &Plan, row: &mut FixRow) {
    let what = f.describe();
    let (code, advice) = match f {
        WriteFailure::Status {
            claims_challenge: true, ..
        } => (
            &codes::FIX_CLAIMS_CHALLENGE,
            "ARM wants a fresh sign-in (a claims challenge, e.g. MFA for role-assignment writes): sign in again with MFA (az logout; az login) and rerun fix.",
        ),
        WriteFailure::Status { status: 403, .. } => (
            &codes::FIX_WRITE_FORBIDDEN,
            "ARM refused the write although your effective permissions allow it: a deny assignment, a condition or a policy blocks it. An owner can run the command below.",
        ),
        WriteFailure::Status { code: Some(c), .. } if c.eq_ignore_ascii_case("PrincipalNotFound") => (
            &codes::FIX_PRINCIPAL_NOT_FOUND,
            "Check the object id belongs to the account's tenant; for a just-created identity wait a minute for directory replication and rerun (the name stays the same).",
        ),
        WriteFailure::Status { code: Some(c), .. } if c.eq_ignore_ascii_case("RoleDefinitionDoesNotExist") => (
            &codes::FIX_ROLE_DEFINITION_NOT_FOUND,
            "The role is not available at this scope (a sovereign cloud without the role, or a mistyped id).",
        ),
        WriteFailure::Status { status: 404, .. } => (
            &codes::FIX_ROLE_DEFINITION_NOT_FOUND,
            "ARM answered 404: the role definition or the scope does not exist.",
        ),
        WriteFailure::Status { status: 409, .. } => (
            &codes::FIX_CONFLICT,
            "An assignment with this name exists with other properties; look at it before changing anything.",
        ),
        WriteFailure::Status { status: 429, .. } => (
            &codes::FIX_THROTTLED,
            "ARM is throttling this caller: wait a minute and rerun fix (it will not create a second assignment).",
        ),
        _ => (
            &codes::FIX_ARM_FAILED,
            "The write got no usable answer; rerun fix (the same name makes it safe to repeat) or run the command below.",
        ),
    };
    row.add(
        finding(
            code,
            Error,
            format!("the role-assignment write failed: {what}; nothing was created"),
        )
        .fix(advice)
        .command(plan.az_command()),
    );
}

/// `--assignee`: the live call runs as the caller, so the assignment is read back instead.
pub async fn read_back(p: &crate::Prepared, facts: &Facts, plan: &Plan, row: &mut FixRow) {
    let Some(token) = arm_token(p, facts, row).await else {
        return;
    };
    let arm = ArmClient::new(&p.ctx, token);
    let seen = arm
        .get::<RoleAssignment>(&plan.assignment_id, AUTHORIZATION_API, &[])
        .await;
    let how = match &seen {
        Ok(a) => format!("read back from ARM ({})", a.id),
        Err(e) => format!(
            "not readable under the planned name ({}), e.g. it exists under another name",
            e.describe()
        ),
    };
    row.add(finding(
        &codes::FIX_DATA_PLANE_UNTESTED,
        Warning,
        format!(
            "the assignment of {} to {} on {} was {how}. The live call runs as the caller, not as {}: the data plane was NOT tested as that principal.",
            plan.role, plan.principal_id, plan.scope, plan.principal_id
        ),
    ));
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
