//! Whose assignment `fix` plans, and where: the token's principal or `--assignee` (its type
//! from the token, or `--assignee-type` — never guessed), and the project a Foundry project
//! endpoint names.

use super::args::AssigneeType;
use aoai_doctor_checks::checks::role_assignment::{caller_principal, classify_assignee};
use aoai_doctor_checks::facts::Facts;
use aoai_doctor_checks::fix::PrincipalChoice;
use aoai_doctor_checks::surface::Surface;

pub fn choose(
    facts: &Facts,
    assignee: Option<&str>,
    assignee_type: Option<AssigneeType>,
) -> Result<PrincipalChoice, String> {
    let claims = facts
        .claims
        .as_ref()
        .map(|c| c.shown())
        .unwrap_or(serde_json::Value::Null);
    let caller = caller_principal(&claims);
    let assignee = assignee.map(str::trim).filter(|a| !a.is_empty());
    let Some(given) = assignee else {
        let object_id = caller
            .object_id
            .ok_or("the token carries no oid claim, so whose role to assign is unknown")?;
        let principal_type = caller.kind.ok_or(
            "the token does not say whether it is a user's or an application's, so the principal type is unknown",
        )?;
        return Ok(PrincipalChoice {
            object_id,
            principal_type,
            is_caller: true,
            display: caller.display,
        });
    };
    // The role check resolved --assignee (object id, client id, managed identity) when it could.
    let object_id = facts
        .roles
        .as_ref()
        .and_then(|r| r.principal_id.clone())
        .ok_or_else(|| format!("--assignee {given} could not be resolved to an object id; pass its object id"))?;
    let known = classify_assignee(given, &claims);
    let principal_type = match (assignee_type, known.as_ref().and_then(|k| k.kind.clone())) {
        (Some(t), _) => t.arm_name().to_string(),
        (None, Some(kind)) => kind,
        (None, None) => {
            return Err(format!(
                "the principal type of --assignee {given} is unknown: pass --assignee-type user|service-principal|group (fix does not guess)"
            ));
        }
    };
    let is_caller = caller.object_id.as_deref() == Some(object_id.as_str());
    Ok(PrincipalChoice {
        object_id,
        principal_type,
        is_caller,
        display: known.and_then(|k| k.display).or_else(|| Some(given.to_string())),
    })
}

/// `https://…/api/projects/{name}` → `{name}`.
pub fn project_of(endpoint: Option<&url::Url>) -> Option<String> {
    // The role check's own reading of the endpoint, so fix plans for the project it judged.
    Surface::meant_by(endpoint?).project().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_comes_from_the_endpoint_path() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            project_of(Some(&u("https://x.services.ai.azure.com/api/projects/chat-proj"))).as_deref(),
            Some("chat-proj")
        );
        assert_eq!(
            project_of(Some(&u(
                "https://x.services.ai.azure.com/api/projects/p/openai/v1/responses"
            )))
            .as_deref(),
            Some("p")
        );
        assert_eq!(project_of(Some(&u("https://x.openai.azure.com/"))), None);
        // Only a leading `/api/projects/NAME` names a project, as for the role check.
        assert_eq!(project_of(Some(&u("https://gw.contoso.com/aoai/api/projects/p"))), None);
        assert_eq!(project_of(None), None);
    }
}
