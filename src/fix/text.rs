//! What `fix` prints besides the report: the plan, the plan as JSON (`--dry-run`), and what an
//! owner must run when the caller may not write the assignment.

use aoai_doctor_checks::fix::{Plan, WriteAccess};
use serde_json::json;

pub fn plan_text(plan: &Plan) -> String {
    let who = match &plan.principal_display {
        Some(d) => format!("{d} ({}, object id {})", plan.principal_type, plan.principal_id),
        None => format!("{} {}", plan.principal_type, plan.principal_id),
    };
    let tested = if plan.principal_is_caller {
        "wait until the live call passes"
    } else {
        "read it back (the live call runs as the caller, not as this principal)"
    };
    format!(
        "aoai-doctor fix plans ONE role assignment:\n  role:      {} ({})\n  principal: {who}\n  scope:     {}\n  name:      {}\n  why:       {}\n  then:      {tested}\n  undo:      {}\n",
        plan.role,
        plan.role_definition_guid,
        plan.scope,
        plan.assignment_name,
        plan.role_reason,
        plan.undo_command()
    )
}

/// `--dry-run`: the plan, whether the caller may write it (`null`: could not be read), and
/// every way to apply it, as one JSON document.
pub fn plan_json(plan: &Plan, access: Option<&WriteAccess>) -> String {
    let v = json!({
        "caller_may_write": access.map(|a| *a == WriteAccess::Allowed),
        "write_access": access,
        "plan": plan,
        "request": {
            "method": "PUT",
            "path": plan.assignment_id,
            "api_version": aoai_doctor_checks::azure::arm::AUTHORIZATION_API,
            "body": aoai_doctor_checks::azure::arm_write::body(plan),
        },
        "commands": {
            "az": plan.az_command(),
            "bicep": plan.bicep(),
            "terraform": plan.terraform(),
            "undo": plan.undo_command(),
        },
        "written": false,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// Why the caller may not write it, in one sentence.
pub fn refusal(access: &WriteAccess, plan: &Plan) -> String {
    match access {
        WriteAccess::Allowed => String::new(),
        WriteAccess::NoWrite => format!(
            "Your effective permissions on {} do not include Microsoft.Authorization/roleAssignments/write (Contributor and Cognitive Services Contributor exclude it), so fix created nothing.",
            plan.scope
        ),
        WriteAccess::ConditionForbids { allowed } => format!(
            "You may assign roles on {} only under a condition that allows {} — not {} ({}), so fix created nothing.",
            plan.scope,
            if allowed.is_empty() {
                "no role the doctor can read".to_string()
            } else {
                allowed
                    .iter()
                    .map(|g| aoai_doctor_checks::diagnose::rbac::builtin_name(g).unwrap_or_else(|| g.clone()))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            plan.role,
            plan.role_definition_guid
        ),
    }
}

/// What an owner runs: az, Bicep, Terraform, and a message to forward.
pub fn for_an_owner(access: &WriteAccess, plan: &Plan) -> String {
    format!(
        "{}\n\nAsk someone who may assign roles there (Owner, User Access Administrator or Role Based Access Control Administrator) to run:\n\n  {}\n\nBicep:\n\n{}\n\nTerraform:\n\n{}\n\nMessage to forward:\n\n{}\n\nIf you are Owner only through Privileged Identity Management (eligible, not active), activate the role first (Azure portal > Privileged Identity Management > My roles > Azure resources > Activate), then run aoai-doctor fix again.\n",
        refusal(access, plan),
        plan.az_command(),
        indent(&plan.bicep()),
        indent(&plan.terraform()),
        indent(&plan.message_for_owner())
    )
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n")
}
