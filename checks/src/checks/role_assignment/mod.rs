//! `role-assignment`: does the principal hold, on this Azure OpenAI account, a role whose
//! *data actions* allow the call the app makes? Owner, Contributor and Reader do not (they are
//! management roles), and neither does the right role on the wrong account: both end in a
//! bare 401 PermissionDenied on the data plane.
//!
//! Gather (ARM through [`crate::azure::arm`], with an ARM token from the credential the chain
//! picked): the account (from `--resource-id`, or found by its endpoint in the subscriptions
//! the identity can list), the principal (the token's `oid`, or `--assignee`), its role
//! assignments at the account (inherited and through groups) with their role definitions,
//! deny assignments, the caller's effective permissions, and — when nothing grants the action
//! — its assignments elsewhere. Judge: [`judge`], pure, in two steps: [`outcome::assess`] turns what was gathered into one
//! typed [`RoleOutcome`] (with [`crate::diagnose::rbac`]), and [`findings`] words it: the
//! messages, fixes and `az`/Bicep/Terraform commands live there, beside the outcome they render.
//!
//! Files: [`gather`] (ARM I/O), [`outcome`] (what was found), [`findings`] (what to say).
//!
//! Which data action: [`crate::diagnose::data_actions::required_data_actions`], the table
//! shared with the probe and `explain` — by the endpoint's [`crate::surface::Surface`] (classic,
//! v1, a Foundry project, `/models`, an agent application), the call, and the deployment's
//! model format. A Foundry project
//! endpoint is authorized at the project (`…/accounts/{a}/projects/{p}`): assignments there and
//! above count; a project's assignments do not count for the account's own routes.
//!
//! A 403 on the role-assignment read is "could not verify" (`warn`), never "missing".

mod findings;
mod gather;
mod outcome;

pub use gather::{Discovery, RoleDrift, account_matches, caller_principal, classify_assignee};
pub use outcome::{Assessment, NotGranted, RoleOutcome, Subject, Unreadable, assess};

use super::Check;
use crate::azure::arm::{Account, ArmError};
use crate::checks::Outcome;
use crate::context::{Cloud, RunContext};
use crate::diagnose::data_actions::Requirement;
use crate::diagnose::rbac::{AssignedRole, DenyRule, Permission};
use crate::facts::{Fact, Facts, RoleFacts};
use crate::model::Judgement;
use async_trait::async_trait;
use serde_json::{Value, json};

pub struct RoleAssignmentCheck;

/// The role the doctor recommends for OpenAI models on the account's own routes (the table in
/// [`crate::diagnose::data_actions`] picks another for projects and non-OpenAI models).
pub const RECOMMENDED_ROLE: &str = "Cognitive Services OpenAI User";

#[async_trait]
impl Check for RoleAssignmentCheck {
    fn id(&self) -> &'static str {
        "role-assignment"
    }
    fn title(&self) -> &'static str {
        "Role grants the data action"
    }
    fn provides(&self) -> &'static [Fact] {
        &[Fact::Roles]
    }
    fn needs(&self) -> &'static [Fact] {
        &[Fact::Claims, Fact::Credential]
    }
    async fn run(&self, ctx: &RunContext, facts: &Facts) -> Outcome {
        let g = gather::gather(ctx, facts).await;
        let (mut judgement, roles) = judge(&g, ctx.now());
        // How the account was found changes no verdict; only the slow way is worth a line.
        judgement.findings.extend(gather::discovery_finding(&g));
        judgement.findings.extend(gather::drift_findings(&g));
        Outcome::with_facts(
            judgement,
            Facts {
                roles,
                ..Default::default()
            },
        )
    }
}

/// The pure judge: what was gathered → the result, and the role fact for the probe (and `fix`).
pub fn judge(g: &Gathered, now: i64) -> (Judgement, Option<RoleFacts>) {
    let assessment = assess(g, now);
    let judgement = findings::judgement(&assessment);
    (judgement, assessment.fact)
}

/// Whose roles are checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrincipalInfo {
    /// `--assignee` as given.
    pub given: Option<String>,
    /// Object id, lowercased.
    pub object_id: Option<String>,
    /// `User`, `ServicePrincipal` or `Group`, when known.
    pub kind: Option<String>,
    /// The principal is the token's holder (effective permissions apply).
    pub is_caller: bool,
    /// For people: UPN, app id or managed-identity resource id.
    pub display: Option<String>,
    /// How the object id was found.
    pub how: String,
    /// Why `--assignee` could not be resolved.
    pub unresolved: Option<String>,
    /// A GUID that is not the caller's: an object id, or maybe a client id ARM cannot resolve.
    pub maybe_client_id: bool,
}

/// Where the account stands.
#[derive(Debug, Clone, Default)]
pub enum ResourceState {
    #[default]
    NotSearched,
    /// Neither an endpoint nor `--resource-id`.
    NoEndpoint,
    Found {
        account: AccountSummary,
        /// `--resource-id` or `endpoint`.
        via: &'static str,
        tenant: Option<String>,
    },
    /// Not among the accounts the identity can read.
    NotFound {
        host: String,
        subscriptions: usize,
    },
    /// `--resource-id` is not an account id, or ARM says it does not exist.
    BadId {
        id: String,
        why: String,
    },
    OtherTenant {
        id: Option<String>,
        tenant: Option<String>,
    },
    /// ARM refused or failed the search.
    Failed(ArmError),
}

/// What the report shows about the account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountSummary {
    pub id: String,
    pub name: String,
    pub kind: Option<String>,
    pub location: Option<String>,
    pub endpoint: Option<String>,
    pub disable_local_auth: Option<bool>,
    pub public_network_access: Option<String>,
    pub network_acls: Option<Value>,
    pub private_endpoints: Option<usize>,
    /// `false` when only the id is known (the account's properties were not readable).
    pub readable: bool,
}

impl AccountSummary {
    fn from_account(a: &Account) -> Self {
        AccountSummary {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: a.kind.clone(),
            location: a.location.clone(),
            endpoint: a.properties.endpoint.clone(),
            disable_local_auth: a.properties.disable_local_auth,
            public_network_access: a.properties.public_network_access.clone(),
            network_acls: a.properties.network_acls.clone(),
            private_endpoints: a.properties.private_endpoint_connections.as_ref().map(Vec::len),
            readable: true,
        }
    }
    fn evidence(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "kind": self.kind, "location": self.location,
            "endpoint": self.endpoint, "disableLocalAuth": self.disable_local_auth,
            "publicNetworkAccess": self.public_network_access, "networkAcls": self.network_acls,
            "privateEndpointConnections": self.private_endpoints, "properties_readable": self.readable,
        })
    }
}

/// The Foundry project a project endpoint names, as ARM knows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ProjectState {
    /// The endpoint is not a project's.
    #[default]
    NotAProject,
    Found {
        id: String,
        name: String,
    },
    /// Its GET was refused or failed: its id is still known, so roles are read there.
    Unreadable {
        id: String,
        name: String,
        error: String,
    },
    /// ARM says the account has no such project.
    NotFound {
        name: String,
        account: String,
        /// The account's projects, when they could be listed.
        existing: Vec<String>,
    },
    /// Not a name ARM could have (the endpoint's path is malformed).
    BadName {
        name: String,
    },
}

/// Whether ARM could be used at all.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum ArmAccess {
    #[default]
    Ok,
    /// No ARM token (the credential's failure, described).
    NoToken(String),
    /// ARM not reachable (transport or timeout), described.
    Unreachable(String),
}

/// Everything the gather step saw.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    /// The data action(s) the app's call needs, and why.
    pub requirement: Requirement,
    /// The project of a project endpoint.
    pub project: ProjectState,
    /// Why the deployment's model format could not be read, when it was looked for.
    pub model_format_unread: Option<String>,
    pub token_tenant: Option<String>,
    pub principal: PrincipalInfo,
    pub arm: ArmAccess,
    pub resource: ResourceState,
    pub subscriptions_searched: usize,
    /// How the account was found by its endpoint (`None` with `--resource-id`).
    pub discovery: Option<Discovery>,
    /// Built-in roles whose live definition differs from the bundled copy.
    pub definition_drift: Vec<RoleDrift>,
    /// Assignments at the account (atScope, through groups) with their roles.
    pub assignments: Option<Result<Vec<AssignedRole>, ArmError>>,
    pub denies: Option<Result<Vec<DenyRule>, ArmError>>,
    /// The caller's effective permissions on the account.
    pub effective: Option<Result<Vec<Permission>, ArmError>>,
    /// The principal's assignments elsewhere in the subscriptions searched.
    pub elsewhere: Vec<AssignedRole>,
    /// The cloud, for the ARM host the advice names (`None`: the public cloud).
    pub cloud: Option<Cloud>,
}

impl Gathered {
    /// The cloud's ARM endpoint without its trailing `/`, as `az rest --url` wants it. Never an
    /// overridden `--arm-endpoint`: the advice is for the user's own shell.
    pub fn arm_endpoint(&self) -> &'static str {
        self.cloud
            .unwrap_or(Cloud::AzureCloud)
            .arm_endpoint()
            .trim_end_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::gather::{account_id, scope_of_assignment_id};
    use super::*;
    use crate::azure::arm::AccountProperties;
    use crate::diagnose::rbac::{self, roles};
    use crate::facts::RoleVerdict;
    use crate::model::Status;

    const RID: &str =
        "/subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";
    const ALICE: &str = "0f8e2d4c-6b1a-4c9e-8d7f-3a5b2c1e9f70";
    const NOW: i64 = 1_767_225_600;

    fn alice() -> PrincipalInfo {
        PrincipalInfo {
            object_id: Some(ALICE.into()),
            kind: Some("User".into()),
            is_caller: true,
            display: Some("alice@contoso.onmicrosoft.com".into()),
            ..Default::default()
        }
    }

    fn found(assignments: Result<Vec<AssignedRole>, ArmError>) -> Gathered {
        Gathered {
            token_tenant: Some("t".into()),
            principal: alice(),
            resource: ResourceState::Found {
                account: AccountSummary {
                    id: RID.into(),
                    name: "contoso-aoai".into(),
                    readable: true,
                    ..Default::default()
                },
                via: "endpoint",
                tenant: Some("t".into()),
            },
            assignments: Some(assignments),
            denies: Some(Ok(vec![])),
            ..Default::default()
        }
    }

    fn assigned(role: &str, scope: &str, age: i64) -> AssignedRole {
        AssignedRole {
            id: format!("{scope}/providers/Microsoft.Authorization/roleAssignments/x"),
            scope: scope.into(),
            principal_id: ALICE.into(),
            principal_type: Some("User".into()),
            role_id: role.into(),
            role: rbac::builtin_role(role),
            condition: None,
            created_on: Some(NOW - age),
        }
    }

    fn codes_of(j: &Judgement) -> Vec<&'static str> {
        j.findings.iter().map(|f| f.code.id).collect()
    }

    fn forbidden() -> ArmError {
        let body = r#"{"error":{"code":"AuthorizationFailed","message":"The client 'x' with object id 'y' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/read' over scope '/s' or the scope is invalid."}}"#;
        let verdict = crate::diagnose::arm::classify_arm_response(403, &[], body);
        ArmError::Status {
            status: 403,
            code: Some("AuthorizationFailed".into()),
            message: "no".into(),
            verdict: Box::new(verdict),
        }
    }

    #[test]
    fn granted_passes_and_tells_the_probe() {
        let (j, f) = judge(&found(Ok(vec![assigned(roles::OPENAI_USER, RID, 7 * 86400)])), NOW);
        assert_eq!(j.status, Status::Pass, "{j:?}");
        let f = f.unwrap();
        assert_eq!(
            (f.verdict, f.newest_grant_age_secs, f.resource_id.as_deref()),
            (RoleVerdict::Granted, Some(7 * 86400), Some(RID))
        );
        assert!(j.summary.contains("Cognitive Services OpenAI User"), "{}", j.summary);
    }

    #[test]
    fn owner_is_control_plane_only_with_the_exact_fix() {
        let (j, f) = judge(
            &found(Ok(vec![assigned(roles::OWNER, "/subscriptions/s1", 86400)])),
            NOW,
        );
        assert_eq!(
            (j.status, codes_of(&j)),
            (Status::Fail, vec!["role-control-plane-only"])
        );
        assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);
        let cmd = &j.findings[0].remediation.commands[0];
        assert_eq!(
            cmd,
            &format!(
                "az role assignment create --assignee-object-id {ALICE} --assignee-principal-type User --role \"Cognitive Services OpenAI User\" --scope {RID}"
            )
        );
        let text = &j.findings[0].remediation.text;
        assert!(
            text.contains("Bicep:") && text.contains("azurerm_role_assignment"),
            "{text}"
        );
        assert!(
            j.findings[0].message.contains("Owner on subscription s1"),
            "{}",
            j.findings[0].message
        );
    }

    #[test]
    fn wrong_scope_names_both_scopes() {
        let mut g = found(Ok(vec![assigned(
            roles::READER,
            "/subscriptions/s1/resourceGroups/rg-ai",
            86400,
        )]));
        g.elsewhere = vec![assigned(roles::OPENAI_USER, &format!("{RID}-eus2"), 86400)];
        let (j, _) = judge(&g, NOW);
        assert_eq!(codes_of(&j), vec!["role-wrong-scope", "role-control-plane-only"]);
        assert!(
            j.summary.contains("wrong scope (account contoso-aoai-eus2)"),
            "{}",
            j.summary
        );
        assert!(j.findings[0].remediation.commands[0].ends_with(&format!("--scope {RID}")));
        let m = &j.findings[0].message;
        assert!(m.contains("account contoso-aoai-eus2") && m.contains(RID), "{m}");
    }

    #[test]
    fn propagating_and_missing_and_forbidden() {
        let (j, f) = judge(&found(Ok(vec![assigned(roles::OPENAI_USER, RID, 60)])), NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Warn, vec!["role-propagating"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Propagating);
        assert!(j.findings[0].message.contains("probably still propagating"));

        let (j, f) = judge(&found(Ok(vec![])), NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Fail, vec!["role-missing"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);

        // Cannot verify is not missing.
        let (j, f) = judge(&found(Err(forbidden())), NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Warn, vec!["role-read-forbidden"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Unknown);
        assert!(
            j.findings[0]
                .remediation
                .text
                .contains("Role Based Access Control Administrator")
        );

        // …unless the caller's effective permissions settle it.
        let mut g = found(Err(forbidden()));
        g.effective = Some(Ok(vec![]));
        let (j, f) = judge(&g, NOW);
        assert_eq!(
            (j.status, codes_of(&j)),
            (Status::Fail, vec!["role-missing", "role-read-forbidden"])
        );
        assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);
        g.effective = Some(Ok(rbac::builtin_role(roles::OPENAI_USER).unwrap().permissions));
        let (j, f) = judge(&g, NOW);
        assert_eq!((j.status, codes_of(&j)), (Status::Warn, vec!["role-read-forbidden"]));
        assert_eq!(f.unwrap().verdict, RoleVerdict::Unknown);
    }

    #[test]
    fn the_fact_carries_the_outcome_kind_and_its_verdict() {
        use crate::facts::RoleOutcomeKind as K;
        let cases = [
            (
                found(Ok(vec![assigned(roles::OPENAI_USER, RID, 7 * 86400)])),
                K::Granted,
            ),
            (found(Ok(vec![assigned(roles::OPENAI_USER, RID, 60)])), K::Propagating),
            (
                found(Ok(vec![assigned(roles::OWNER, "/subscriptions/s1", 86400)])),
                K::ControlPlaneOnly,
            ),
            (found(Ok(vec![])), K::NoRole),
            (found(Err(forbidden())), K::AssignmentsUnreadable),
            (
                Gathered {
                    effective: Some(Ok(vec![])),
                    ..found(Err(forbidden()))
                },
                K::EffectivelyMissing,
            ),
            (
                Gathered {
                    arm: ArmAccess::Unreachable("x".into()),
                    ..found(Ok(vec![]))
                },
                K::ArmUnavailable,
            ),
        ];
        for (g, kind) in cases {
            let (_, fact) = judge(&g, NOW);
            let fact = fact.unwrap();
            assert_eq!((fact.outcome, fact.verdict), (kind, kind.verdict()), "{g:?}");
        }
        let nothing = Gathered {
            resource: ResourceState::NoEndpoint,
            ..found(Ok(vec![]))
        };
        let (j, fact) = judge(&nothing, NOW);
        assert_eq!((j.status, fact.is_none()), (Status::Skip, true));
    }

    #[test]
    fn sovereign_clouds_get_their_own_arm_host_in_advice() {
        let mut g = found(Ok(vec![]));
        g.effective = Some(Ok(rbac::builtin_role(roles::OPENAI_USER).unwrap().permissions));
        g.cloud = Some(Cloud::AzureChinaCloud);
        let (j, _) = judge(&g, NOW);
        let cmd = &j.findings[1].remediation.commands[0];
        assert!(
            cmd.starts_with(&format!(
                "az rest --method get --url \"https://management.chinacloudapi.cn{RID}/"
            )),
            "{cmd}"
        );
        g.arm = ArmAccess::NoToken("x".into());
        let (j, _) = judge(&g, NOW);
        let text = &j.findings[0].remediation.text;
        assert!(text.contains("Allow management.chinacloudapi.cn through"), "{text}");
    }

    #[test]
    fn effective_permissions_disagreeing_is_reported() {
        let mut g = found(Ok(vec![]));
        g.effective = Some(Ok(rbac::builtin_role(roles::OPENAI_USER).unwrap().permissions));
        let (j, _) = judge(&g, NOW);
        assert_eq!(
            codes_of(&j),
            vec!["role-missing", "role-effective-permissions-disagree"]
        );
    }

    #[test]
    fn cannot_reach_arm_or_resolve_is_a_warning() {
        let mut g = found(Ok(vec![]));
        g.arm = ArmAccess::NoToken("x".into());
        let (j, f) = judge(&g, NOW);
        assert_eq!(
            (j.status, codes_of(&j), f.unwrap().verdict),
            (Status::Warn, vec!["role-arm-unreachable"], RoleVerdict::Unknown)
        );
        let mut g = found(Ok(vec![]));
        g.principal.unresolved = Some("nope".into());
        let (j, _) = judge(&g, NOW);
        assert_eq!(codes_of(&j), vec!["role-assignee-unresolved"]);
        g.principal.unresolved = None;
        g.resource = ResourceState::OtherTenant {
            id: Some(RID.into()),
            tenant: Some("other".into()),
        };
        let (j, f) = judge(&g, NOW);
        assert_eq!(
            (j.status, codes_of(&j)),
            (Status::Fail, vec!["role-resource-other-tenant"])
        );
        assert_eq!(f.unwrap().resource_tenant.as_deref(), Some("other"));
    }

    #[test]
    fn assignee_forms() {
        let claims = json!({"oid": ALICE, "tid": "t", "idtyp": "app", "appid": "c5d3a1f7-2e8b-4d6c-9f0a-7b1e3c5d8a92", "xms_mirid": "/subscriptions/s/resourcegroups/r/providers/Microsoft.Web/sites/chat-app"});
        let p = classify_assignee(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Web/sites/chat-app",
            &claims,
        )
        .unwrap();
        assert_eq!((p.object_id.as_deref(), p.is_caller), (Some(ALICE), true));
        let p = classify_assignee("C5D3A1F7-2E8B-4D6C-9F0A-7B1E3C5D8A92", &claims).unwrap();
        assert_eq!(
            (p.object_id.as_deref(), p.kind.as_deref()),
            (Some(ALICE), Some("ServicePrincipal"))
        );
        let p = classify_assignee("2E4A6C8E-0B1D-4F3A-9C5E-7A9B1D3F5E86", &claims).unwrap();
        assert_eq!(
            (p.object_id.as_deref(), p.is_caller, p.maybe_client_id),
            (Some("2e4a6c8e-0b1d-4f3a-9c5e-7a9b1d3f5e86"), false, true)
        );
        assert!(
            classify_assignee(
                "/subscriptions/s/resourcegroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id",
                &claims
            )
            .is_none()
        );
        assert!(
            classify_assignee("alice@contoso.com", &claims)
                .unwrap()
                .unresolved
                .is_some()
        );
    }

    #[test]
    fn account_matching_by_endpoint_or_subdomain() {
        let a = Account {
            id: RID.into(),
            name: "contoso-aoai".into(),
            kind: Some("OpenAI".into()),
            location: None,
            properties: AccountProperties {
                endpoint: Some("https://contoso-aoai.openai.azure.com/".into()),
                custom_sub_domain_name: Some("contoso-aoai".into()),
                ..Default::default()
            },
        };
        assert!(account_matches(&a, "contoso-aoai.openai.azure.com", Some(443), None));
        assert!(account_matches(
            &a,
            "contoso-aoai.cognitiveservices.azure.com",
            Some(443),
            Some("CONTOSO-AOAI")
        ));
        assert!(!account_matches(&a, "contoso-aoai.openai.azure.com", Some(8443), None));
        // A Foundry (AIServices) account: its `properties.endpoint` is the cognitiveservices
        // host; a project endpoint's `*.services.ai.azure.com` host is only in `endpoints`.
        let foundry = Account {
            id: RID.into(),
            name: "contoso-foundry".into(),
            kind: Some("AIServices".into()),
            location: None,
            properties: AccountProperties {
                endpoint: Some("https://contoso-foundry.cognitiveservices.azure.com/".into()),
                endpoints: serde_json::from_value(json!({
                    "AI Foundry API": "https://contoso-foundry.services.ai.azure.com/",
                    "OpenAI Language Model Instance API": "https://contoso-foundry.openai.azure.com/",
                }))
                .ok(),
                ..Default::default()
            },
        };
        assert!(account_matches(
            &foundry,
            "contoso-foundry.services.ai.azure.com",
            Some(443),
            None
        ));
        assert!(account_matches(
            &foundry,
            "CONTOSO-FOUNDRY.openai.azure.com",
            Some(443),
            None
        ));
        assert!(!account_matches(
            &foundry,
            "other.services.ai.azure.com",
            Some(443),
            None
        ));
        assert!(!account_matches(&a, "other.openai.azure.com", Some(443), Some("other")));
        assert_eq!(account_id(RID).unwrap().subscription(), Some("s1"));
        assert!(account_id("/subscriptions/s1/resourceGroups/rg").is_none());
        assert!(account_id("/subscriptions/s1/providers/Microsoft.CognitiveServices/accounts/a").is_none());
        assert_eq!(
            scope_of_assignment_id(&format!("{RID}/providers/Microsoft.Authorization/roleAssignments/abc")),
            RID
        );
        assert_eq!(
            scope_of_assignment_id("/providers/Microsoft.Authorization/roleAssignments/abc"),
            "/"
        );
    }

    #[test]
    fn the_requirement_follows_the_surface_the_endpoint_means() {
        use crate::diagnose::data_actions::{self as da, Call, required_data_actions};
        let requirement = |endpoint: &str| {
            let ctx = crate::checks::test_support::context_with(Default::default(), Some(endpoint));
            required_data_actions(&gather::request_surface(&ctx), Call::Chat, None)
        };
        let host = "https://c.services.ai.azure.com";
        // A project, also when a request path was pasted after it: the project's actions.
        for path in ["/api/projects/p", "/api/projects/p/openai/v1/chat/completions"] {
            let r = requirement(&format!("{host}{path}"));
            assert_eq!(r.grants, vec![da::AGENTS_WRITE, da::AI_RESPONSES_WRITE], "{path}");
            assert_eq!(r.surface.project(), Some("p"));
        }
        // An agent application: its own invoke action, the one the probe names on a denial.
        let app = requirement(&format!("{host}/api/projects/p/applications/bot/protocols/openai"));
        assert_eq!(app.grants, vec![da::APPLICATION_INVOKE]);
        // A pasted v1 request is v1 (assumed), a pasted classic request the classic root
        // (confirmed by live 401s).
        let v1 = requirement("https://c.openai.azure.com/openai/v1/chat/completions");
        assert_eq!((v1.surface.id(), v1.certainty), ("v1", da::Certainty::Assumed));
        let classic = requirement("https://c.openai.azure.com/openai/deployments/d/chat/completions");
        assert_eq!(
            (classic.surface.id(), classic.certainty),
            ("resource-root", da::Certainty::Confirmed)
        );
    }

    mod foundry {
        use super::*;
        use crate::diagnose::data_actions::{self as da, Call, required_data_actions};
        use crate::surface::Surface;

        const FOUNDRY: &str =
            "/subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-foundry";

        fn project_id() -> String {
            format!("{FOUNDRY}/projects/chat-proj")
        }

        /// Alice calls `surface` on an AIServices account with `assignments` (read at the
        /// scope the gather step reads: the project for a project endpoint).
        fn at(surface: Surface, format: Option<&str>, assignments: Vec<AssignedRole>) -> Gathered {
            let mut g = found(Ok(assignments));
            if let ResourceState::Found { account, .. } = &mut g.resource {
                account.id = FOUNDRY.into();
                account.name = "contoso-foundry".into();
                account.kind = Some("AIServices".into());
            }
            if let Some(p) = surface.project() {
                g.project = ProjectState::Found {
                    id: project_id(),
                    name: p.to_string(),
                };
            }
            g.requirement = required_data_actions(&surface, Call::Chat, format);
            g
        }

        fn project() -> Surface {
            Surface::Project {
                project: "chat-proj".into(),
            }
        }

        fn all_text(j: &Judgement) -> String {
            j.findings
                .iter()
                .map(|f| {
                    format!(
                        "{} | {} | {}",
                        f.message,
                        f.remediation.text,
                        f.remediation.commands.join(" | ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        }

        #[test]
        fn foundry_user_on_the_project_grants_the_project_endpoint() {
            let g = at(
                project(),
                None,
                vec![assigned(roles::FOUNDRY_USER, &project_id(), 7 * 86400)],
            );
            let (j, f) = judge(&g, NOW);
            assert_eq!(j.status, Status::Pass, "{j:?}");
            assert_eq!(
                j.summary,
                "alice@contoso.onmicrosoft.com holds Foundry User on the project, assigned 7d 0h ago: allows AIServices/agents/write"
            );
            let f = f.unwrap();
            assert_eq!(
                (f.verdict, f.resource_id.clone()),
                (RoleVerdict::Granted, Some(project_id()))
            );
            // Unverified which action: the evidence says so.
            let note = j.evidence["requirement"]["note"].as_str().unwrap();
            assert!(note.contains("unverified"), "{note}");
            assert_eq!(
                j.evidence["requirement"]["granted_by_any_of"][1],
                da::AI_RESPONSES_WRITE
            );
            // An assignment on the account (or above) counts for the project too.
            let g = at(project(), None, vec![assigned(roles::FOUNDRY_USER, FOUNDRY, 7 * 86400)]);
            assert_eq!(judge(&g, NOW).0.status, Status::Pass);
        }

        #[test]
        fn either_project_action_is_enough() {
            // A custom role with only the documented AIServices/responses/* passes too.
            let mut custom = assigned(roles::OPENAI_USER, &project_id(), 7 * 86400);
            custom.role_id = "c0ffee00-0000-0000-0000-000000000001".into();
            custom.role = Some(rbac::RoleDef {
                id: custom.role_id.clone(),
                name: "Project Responses Only".into(),
                builtin: false,
                permissions: vec![rbac::Permission {
                    data_actions: vec!["Microsoft.CognitiveServices/accounts/AIServices/responses/*".into()],
                    ..Default::default()
                }],
                source: "arm",
            });
            let (j, f) = judge(&at(project(), None, vec![custom]), NOW);
            assert_eq!(j.status, Status::Pass, "{j:?}");
            assert_eq!(f.unwrap().data_action, da::AI_RESPONSES_WRITE);
        }

        #[test]
        fn project_assignments_do_not_count_for_resource_level_paths() {
            let g = at(
                Surface::V1,
                Some("OpenAI"),
                vec![assigned(roles::FOUNDRY_USER, &project_id(), 7 * 86400)],
            );
            let (j, f) = judge(&g, NOW);
            assert_eq!((j.status, codes_of(&j)), (Status::Fail, vec!["role-missing"]), "{j:?}");
            assert_eq!(f.unwrap().resource_id.as_deref(), Some(FOUNDRY));
            // Found elsewhere, it is the right role on the wrong scope.
            let mut g = at(Surface::V1, Some("OpenAI"), vec![]);
            g.elsewhere = vec![assigned(roles::FOUNDRY_USER, &project_id(), 7 * 86400)];
            let (j, _) = judge(&g, NOW);
            assert_eq!(codes_of(&j), vec!["role-wrong-scope"]);
            assert!(
                j.findings[0].message.contains("Foundry User on project chat-proj"),
                "{}",
                j.findings[0].message
            );
        }

        #[test]
        fn openai_user_alone_on_a_project_is_not_enough() {
            let g = at(project(), None, vec![assigned(roles::OPENAI_USER, FOUNDRY, 7 * 86400)]);
            let (j, f) = judge(&g, NOW);
            assert_eq!((j.status, codes_of(&j)), (Status::Fail, vec!["role-missing"]), "{j:?}");
            assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);
            let text = all_text(&j);
            for want in [
                "AIServices/agents/write or AIServices/responses/write (which one the service checks is unverified",
                "Assign \"Foundry User (formerly Azure AI User)\" (role id 53ca6127-db72-4b80-b1b0-d745d6d5456d) to the principal on the project",
                "it also grants every other Cognitive Services data action",
                "Cognitive Services OpenAI User is built in and cannot be changed",
                "its data actions cover only OpenAI/*",
            ] {
                assert!(text.contains(want), "{want}\n{text}");
            }
            let cmd = &j.findings[0].remediation.commands[0];
            assert_eq!(
                cmd,
                &format!(
                    "az role assignment create --assignee-object-id {ALICE} --assignee-principal-type User --role \"Foundry User\" --scope {}",
                    project_id()
                )
            );
            assert!(!text.contains("custom role"), "{text}");
        }

        #[test]
        fn foundry_account_owner_only_is_control_plane_only() {
            let g = at(
                project(),
                None,
                vec![assigned(roles::FOUNDRY_ACCOUNT_OWNER, FOUNDRY, 7 * 86400)],
            );
            let (j, f) = judge(&g, NOW);
            assert_eq!(
                (j.status, codes_of(&j)),
                (Status::Fail, vec!["role-control-plane-only"])
            );
            assert_eq!(f.unwrap().outcome, crate::facts::RoleOutcomeKind::ControlPlaneOnly);
            let m = &j.findings[0].message;
            assert!(
                m.contains("Foundry Account Owner (formerly Azure AI Account Owner) on the project's account"),
                "{m}"
            );
            assert!(j.findings[0].remediation.commands[0].contains("--role \"Foundry User\" --scope"));
        }

        #[test]
        fn a_non_openai_model_needs_maas() {
            // On /models: confirmed, a failure naming the MaaS action.
            let g = at(
                Surface::ModelInference,
                Some("DeepSeek"),
                vec![assigned(roles::OPENAI_USER, FOUNDRY, 7 * 86400)],
            );
            let (j, f) = judge(&g, NOW);
            assert_eq!((j.status, codes_of(&j)), (Status::Fail, vec!["role-missing"]), "{j:?}");
            assert_eq!(f.unwrap().data_action, da::MAAS_CHAT);
            let text = all_text(&j);
            assert!(text.contains("MaaS/chat/completions/action"), "{text}");
            assert!(text.contains("--role \"Foundry User\" --scope /subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-foundry"), "{text}");
            // Through /openai/v1: unverified, a warning.
            let g = at(
                Surface::V1,
                Some("DeepSeek"),
                vec![assigned(roles::OPENAI_USER, FOUNDRY, 7 * 86400)],
            );
            let (j, f) = judge(&g, NOW);
            assert_eq!(
                (j.status, codes_of(&j)),
                (Status::Warn, vec!["role-data-action-unverified"]),
                "{j:?}"
            );
            // Waiting for propagation would not help: the probe should not wait.
            assert_eq!(f.unwrap().verdict, RoleVerdict::Missing);
            assert!(
                j.findings[0].message.contains("unverified"),
                "{}",
                j.findings[0].message
            );
            // Foundry User grants MaaS: a pass either way.
            for s in [Surface::ModelInference, Surface::V1] {
                let g = at(s, Some("Meta"), vec![assigned(roles::FOUNDRY_USER, FOUNDRY, 7 * 86400)]);
                assert_eq!(judge(&g, NOW).0.status, Status::Pass);
            }
        }

        #[test]
        fn project_and_deployment_names_stay_one_path_segment() {
            use super::super::gather::plain_segment;
            for ok in ["chat-proj", "_project", "proj.v2", "DeepSeek-R1"] {
                assert!(plain_segment(ok), "{ok}");
            }
            for bad in ["", ".", "..", "a/b", "a%2Fb", "a?b", "a b", &"x".repeat(129)] {
                assert!(!plain_segment(bad), "{bad}");
            }
        }

        #[test]
        fn a_missing_project_is_its_own_finding() {
            let mut g = at(project(), None, vec![]);
            g.project = ProjectState::NotFound {
                name: "chat-prj".into(),
                account: FOUNDRY.into(),
                existing: vec!["chat-proj".into()],
            };
            let (j, f) = judge(&g, NOW);
            assert_eq!((j.status, codes_of(&j)), (Status::Fail, vec!["role-project-not-found"]));
            assert_eq!(j.summary, "project chat-prj not found on account contoso-foundry");
            assert!(j.findings[0].message.contains("its projects: chat-proj"));
            assert!(j.findings[0].remediation.commands[0].contains(&format!("{FOUNDRY}/projects?api-version=")));
            assert_eq!(f.unwrap().outcome, crate::facts::RoleOutcomeKind::ProjectNotFound);
            g.project = ProjectState::BadName { name: "..".into() };
            let (j, _) = judge(&g, NOW);
            assert_eq!(codes_of(&j), vec!["role-project-not-found"]);
        }
    }
}
