//! A data action → the smallest built-in role that grants it, and why. One table, shared by the
//! data-plane probe, `explain` and (later) `fix`, so they never disagree on which role to grant.
//!
//! The roles' `dataActions` / `notDataActions` are the 2026 definitions (as `az role definition
//! list --name <guid>` returns them; sources in `fixtures/corpus/foundry-facts.md` §1–2). Roles are
//! named by GUID with their 2026 name; "Foundry User" was "Azure AI User" (same GUID). A role
//! grants an action when one of its `dataActions` matches and none of its `notDataActions` does
//! (matching as Azure RBAC does: `*` spans any run, case-insensitive; see [`super::rbac`]).

use super::rbac::pattern_matches;
use crate::context::ProbeKind;
use crate::surface::Surface;
use serde::Serialize;

/// A built-in role that grants data actions, as the doctor recommends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BuiltinDataRole {
    /// Role definition GUID (stable across renames).
    pub guid: &'static str,
    /// The 2026 name.
    pub name: &'static str,
    /// The name before the 2025–2026 rename, when there was one.
    pub former_name: Option<&'static str>,
    pub data_actions: &'static [&'static str],
    pub not_data_actions: &'static [&'static str],
    /// Why this role is the smallest for what it covers: a verb phrase ("grants …") that reads after "it".
    pub why: &'static str,
}

impl BuiltinDataRole {
    /// "Foundry User (formerly Azure AI User)".
    pub fn display_name(&self) -> String {
        match self.former_name {
            Some(old) => format!("{} (formerly {old})", self.name),
            None => self.name.to_string(),
        }
    }

    /// Whether this role grants `action` (its own notDataActions excluded).
    pub fn grants(&self, action: &str) -> bool {
        self.data_actions.iter().any(|p| pattern_matches(p, action))
            && !self.not_data_actions.iter().any(|p| pattern_matches(p, action))
    }
}

/// Cognitive Services OpenAI User (2025-04-28 definition, unchanged in 2026).
pub const OPENAI_USER: BuiltinDataRole = BuiltinDataRole {
    guid: "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd",
    name: "Cognitive Services OpenAI User",
    former_name: None,
    data_actions: &[
        "Microsoft.CognitiveServices/accounts/OpenAI/*/read",
        "Microsoft.CognitiveServices/accounts/OpenAI/engines/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/engines/search/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/engines/generate/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/audio/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/search/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/realtime/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/extensions/chat/completions/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/images/generations/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/video/generations/*/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/video/generations/*/delete",
        "Microsoft.CognitiveServices/accounts/OpenAI/assistants/*",
        "Microsoft.CognitiveServices/accounts/OpenAI/responses/*",
    ],
    not_data_actions: &["Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read"],
    why: "grants inference on OpenAI models only (chat, embeddings, images, audio, responses, assistants) and nothing to manage",
};

/// Cognitive Services OpenAI Contributor (updatedOn 2023-08-29).
pub const OPENAI_CONTRIBUTOR: BuiltinDataRole = BuiltinDataRole {
    guid: "a001fd3d-188f-4b5d-821b-7da978bf7442",
    name: "Cognitive Services OpenAI Contributor",
    former_name: None,
    data_actions: &["Microsoft.CognitiveServices/accounts/OpenAI/*"],
    not_data_actions: &[],
    why: "grants every OpenAI data action (fine-tuning, files, stored completions) that OpenAI User leaves out, and no other model family",
};

/// Foundry User, formerly Azure AI User (2026 definition).
pub const FOUNDRY_USER: BuiltinDataRole = BuiltinDataRole {
    guid: "53ca6127-db72-4b80-b1b0-d745d6d5456d",
    name: "Foundry User",
    former_name: Some("Azure AI User"),
    data_actions: &["Microsoft.CognitiveServices/*"],
    not_data_actions: &[
        "Microsoft.CognitiveServices/accounts/AIServices/agents/endpoints/UserIdentityImpersonation/action",
        "Microsoft.CognitiveServices/accounts/OpenAI/fine-tunes-deployments/write",
        "Microsoft.CognitiveServices/accounts/AIServices/fine_tuning_deployments/write",
    ],
    why: "is the documented least role for Foundry projects, agents and non-OpenAI models; it also grants every other \
          Cognitive Services data action and key listing",
};

/// The data roles, smallest first: the first that grants an action is the one to recommend.
pub const SMALLEST_FIRST: [&BuiltinDataRole; 3] = [&OPENAI_USER, &OPENAI_CONTRIBUTOR, &FOUNDRY_USER];

/// Adds the `Microsoft.CognitiveServices/accounts/` prefix a short form (`OpenAI/responses/write`)
/// leaves out, so both spellings find their role.
pub fn full_data_action(action: &str) -> String {
    let a = action.trim().trim_matches(['`', '\'', '"']);
    if a.to_ascii_lowercase().starts_with("microsoft.") {
        a.to_string()
    } else {
        format!("Microsoft.CognitiveServices/accounts/{}", a.trim_start_matches('/'))
    }
}

/// The smallest built-in role that grants `action`; `None` when none of the table's roles does
/// (e.g. the impersonation action every Foundry role excludes) — then no role is guessed.
pub fn smallest_role_for(action: &str) -> Option<&'static BuiltinDataRole> {
    let full = full_data_action(action);
    SMALLEST_FIRST.into_iter().find(|r| r.grants(&full))
}

// ---------------------------------------------------------------------------------------
// The request side: which data action a call needs, by surface, call and model format.

/// `POST /openai/deployments/{d}/chat/completions` (live 401s).
pub const OPENAI_CHAT: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";
/// `POST /openai/deployments/{d}/embeddings`.
pub const OPENAI_EMBEDDINGS: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action";
/// `GET /openai/models` (covered by OpenAI User's `OpenAI/*/read`).
pub const OPENAI_MODELS_READ: &str = "Microsoft.CognitiveServices/accounts/OpenAI/models/read";
/// `POST /openai/v1/responses` (live 401s).
pub const OPENAI_RESPONSES: &str = "Microsoft.CognitiveServices/accounts/OpenAI/responses/write";
/// `POST /models/chat/completions` with a non-OpenAI model (live 401).
pub const MAAS_CHAT: &str = "Microsoft.CognitiveServices/accounts/MaaS/chat/completions/action";
/// `POST /models/embeddings` (third-party mapping only).
pub const MAAS_EMBEDDINGS: &str = "Microsoft.CognitiveServices/accounts/MaaS/embeddings/action";
/// `GET /models/info` (third-party mapping only).
pub const MAAS_INFO: &str = "Microsoft.CognitiveServices/accounts/MaaS/info/read";
/// Observed on `POST /api/projects/{projectName}/openai/*` (microsoft-foundry/foundry-samples#692).
pub const AGENTS_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/write";
pub const AGENTS_READ: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/read";
/// Documented for project inference as `AIServices/responses/*` (hosted-agent-permissions.md).
pub const AI_RESPONSES_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/responses/write";
pub const AI_RESPONSES_READ: &str = "Microsoft.CognitiveServices/accounts/AIServices/responses/read";

/// The call the app (and the probe) makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Call {
    Chat,
    Embeddings,
    ListModels,
    Responses,
}

impl Call {
    /// The probe's call (`--probe none` checks for chat, what apps do).
    pub fn of_probe(probe: crate::context::ProbeKind) -> Call {
        use crate::context::ProbeKind as P;
        match probe {
            P::Embeddings => Call::Embeddings,
            P::Models => Call::ListModels,
            P::Responses => Call::Responses,
            P::Chat | P::None => Call::Chat,
        }
    }
}

/// How sure the sources are of a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Certainty {
    /// A live 401 names this action for this route.
    Confirmed,
    /// No live string found; the action every source maps the call to.
    Assumed,
    /// Sources disagree on which of `grants` the service checks: granted on either, missing
    /// only when neither is granted.
    EitherUnverified,
    /// Not known whether `unverified_alternatives` also grant it: granting only those is a
    /// warning, never a failure.
    Unverified,
}

/// What one call needs: the data actions that grant it, and why the doctor thinks so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Requirement {
    /// Where the call goes (RBAC cares about the path's shape, not the host).
    pub surface: Surface,
    pub call: Call,
    /// The deployment's `properties.model.format` (`OpenAI`, `DeepSeek`, …), when read.
    pub model_format: Option<String>,
    /// Any of these grants the call; the first is the one to name and recommend a role for.
    pub grants: Vec<&'static str>,
    /// Readings the sources do not settle: a role granting only one of these might do.
    pub unverified_alternatives: Vec<&'static str>,
    pub certainty: Certainty,
    /// The sources, in a sentence (says "unverified" where they do not settle it).
    pub note: String,
}

impl Default for Requirement {
    /// Classic chat on an OpenAI model: what an app without more context makes.
    fn default() -> Self {
        required_data_actions(&Surface::ResourceRoot, Call::Chat, None)
    }
}

impl Requirement {
    /// The data action messages name and the recommended role is chosen for.
    pub fn primary(&self) -> &'static str {
        self.grants.first().copied().unwrap_or(OPENAI_CHAT)
    }
    /// The smallest built-in role that grants the call, and the action it was chosen for.
    pub fn smallest_role(&self) -> Option<&'static BuiltinDataRole> {
        smallest_role_for(self.primary())
    }
}

/// A model format that is not OpenAI's (DeepSeek, Meta, xAI, Mistral, …).
fn is_non_openai(format: Option<&str>) -> bool {
    format.is_some_and(|f| !f.trim().is_empty() && !f.trim().eq_ignore_ascii_case("OpenAI"))
}

/// The one table: (surface, call, model format) → the data action(s) needed.
pub fn required_data_actions(surface: &Surface, call: Call, model_format: Option<&str>) -> Requirement {
    let (grants, alternatives, certainty, note) = match surface {
        Surface::AgentApplication { .. } => application_requirement(),
        Surface::Project { .. } | Surface::ProjectV1 { .. } => project_requirement(call),
        Surface::ModelInference => models_requirement(call, model_format),
        Surface::ResourceRoot | Surface::V1 if is_non_openai(model_format) => {
            let (maas, openai) = match call {
                Call::Embeddings => (MAAS_EMBEDDINGS, OPENAI_EMBEDDINGS),
                _ => (MAAS_CHAT, OPENAI_CHAT),
            };
            (
                vec![maas],
                vec![openai],
                Certainty::Unverified,
                format!(
                    "a {} model outside /models: whether the service checks {} or {} here is unverified (no live 401 found); Cognitive Services OpenAI User \"grants only access to OpenAI models\"",
                    model_format.unwrap_or_default(),
                    short_action(maas),
                    short_action(openai)
                ),
            )
        }
        Surface::ResourceRoot | Surface::V1 => openai_requirement(surface, call),
    };
    Requirement {
        surface: surface.clone(),
        call,
        model_format: model_format.map(str::to_string),
        grants,
        unverified_alternatives: alternatives,
        certainty,
        note,
    }
}

type Row = (Vec<&'static str>, Vec<&'static str>, Certainty, String);

/// Whatever the call, a published agent application is invoked through one action.
fn application_requirement() -> Row {
    (
        vec![APPLICATION_INVOKE],
        vec![],
        Certainty::Assumed,
        "an agent application: AIServices/applications/invoke/action at the application's scope (documented in hosted-agent-permissions; no live 401 found)".into(),
    )
}

fn project_requirement(call: Call) -> Row {
    let (observed, documented) = match call {
        Call::ListModels => (AGENTS_READ, AI_RESPONSES_READ),
        _ => (AGENTS_WRITE, AI_RESPONSES_WRITE),
    };
    (
        vec![observed, documented],
        vec![],
        Certainty::EitherUnverified,
        format!(
            "a Foundry project route: observed {} (a live 401 for POST /api/projects/{{projectName}}/openai/*), documented AIServices/responses/* — which one the service checks is unverified, so either counts; Cognitive Services OpenAI User and Azure AI Developer grant neither",
            short_action(observed)
        ),
    )
}

fn models_requirement(call: Call, model_format: Option<&str>) -> Row {
    let non_openai = model_format.is_none() || is_non_openai(model_format);
    match (call, non_openai) {
        (Call::Embeddings, true) => (
            vec![MAAS_EMBEDDINGS],
            vec![],
            Certainty::Assumed,
            "embeddings on /models: MaaS/embeddings/action (a third-party mapping; no live 401 found)".into(),
        ),
        (Call::ListModels, true) => (
            vec![MAAS_INFO],
            vec![],
            Certainty::Assumed,
            "model info on /models: MaaS/info/read (a third-party mapping; no live 401 found)".into(),
        ),
        (_, true) if model_format.is_none() => (
            vec![MAAS_CHAT],
            vec![OPENAI_CHAT],
            Certainty::Unverified,
            "chat on /models with a model whose format could not be read: MaaS/chat/completions/action for non-OpenAI models (live 401); for an OpenAI model unverified".into(),
        ),
        (_, true) => (
            vec![MAAS_CHAT],
            vec![],
            Certainty::Confirmed,
            format!(
                "chat on /models with a {} model: MaaS/chat/completions/action (live 401); Cognitive Services OpenAI User \"grants only access to OpenAI models\"",
                model_format.unwrap_or_default()
            ),
        ),
        (c, false) => openai_requirement(&Surface::ModelInference, c),
    }
}

fn openai_requirement(surface: &Surface, call: Call) -> Row {
    let (action, confirmed) = match call {
        Call::Chat => (OPENAI_CHAT, surface.is_classic()),
        Call::Embeddings => (OPENAI_EMBEDDINGS, false),
        Call::ListModels => (OPENAI_MODELS_READ, false),
        Call::Responses => (OPENAI_RESPONSES, true),
    };
    let (certainty, how) = if confirmed {
        (Certainty::Confirmed, "named by live 401s")
    } else {
        (Certainty::Assumed, "assumed: no live 401 found for this route")
    };
    (
        vec![action],
        vec![],
        certainty,
        format!("{} ({how})", short_action(action)),
    )
}

/// The data action a request needs, as the probe reads a denial: one view of the table
/// above ([`required_data_actions`]), keyed by the endpoint's [`Surface`] and the probe kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeededAction {
    /// The action a denial is expected to name.
    pub action: &'static str,
    /// Another action that is documented to grant the call as well (project routes: which of
    /// the two the service checks is UNCONFIRMED, so a role must grant one of them).
    pub or_else: Option<&'static str>,
    /// Why the mapping is not settled, when it is not.
    pub unconfirmed: Option<String>,
}

const PREFIX: &str = "Microsoft.CognitiveServices/accounts/";

impl NeededAction {
    /// Every action that would let the call through.
    pub fn any_of(&self) -> Vec<&'static str> {
        std::iter::once(self.action).chain(self.or_else).collect()
    }
    /// Whether a denial naming `action` is about this request's action.
    pub fn names(&self, action: &str) -> bool {
        let full = full_data_action(action);
        self.any_of().iter().any(|a| a.eq_ignore_ascii_case(&full))
    }
}

/// What a call of `kind` on `surface` needs; `model_format` is the ARM deployment's model
/// format (`OpenAI`, `DeepSeek`, …) when known.
pub fn needed_for(surface: &Surface, kind: ProbeKind, model_format: Option<&str>) -> NeededAction {
    let r = required_data_actions(surface, Call::of_probe(kind), model_format);
    NeededAction {
        action: r.primary(),
        or_else: r.grants.get(1).or(r.unverified_alternatives.first()).copied(),
        // Only a live 401 settles which action the service checks.
        unconfirmed: (r.certainty != Certainty::Confirmed).then_some(r.note),
    }
}

/// `…/api/projects/<p>/applications/<app>/protocols/openai` (hosted-agent-permissions.md).
pub const APPLICATION_INVOKE: &str = "Microsoft.CognitiveServices/accounts/AIServices/applications/invoke/action";

/// `Microsoft.CognitiveServices/accounts/OpenAI/responses/write` → `OpenAI/responses/write`.
pub fn short_action(action: &str) -> &str {
    action.strip_prefix(PREFIX).unwrap_or(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smallest(action: &str) -> Option<&'static str> {
        smallest_role_for(action).map(|r| r.name)
    }

    #[test]
    fn openai_inference_needs_only_openai_user() {
        for a in [
            "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action",
            "Microsoft.CognitiveServices/accounts/OpenAI/responses/write",
            "microsoft.cognitiveservices/accounts/openai/deployments/embeddings/action",
            "OpenAI/models/read",
        ] {
            assert_eq!(smallest(a), Some("Cognitive Services OpenAI User"), "{a}");
        }
    }

    #[test]
    fn what_openai_user_leaves_out_goes_to_the_contributor() {
        for a in [
            "Microsoft.CognitiveServices/accounts/OpenAI/stored-completions/read",
            "Microsoft.CognitiveServices/accounts/OpenAI/fine-tunes/write",
            "Microsoft.CognitiveServices/accounts/OpenAI/files/write",
        ] {
            assert_eq!(smallest(a), Some("Cognitive Services OpenAI Contributor"), "{a}");
        }
    }

    #[test]
    fn projects_agents_and_other_models_need_foundry_user() {
        for a in [
            "Microsoft.CognitiveServices/accounts/AIServices/agents/write",
            "Microsoft.CognitiveServices/accounts/AIServices/responses/write",
            "Microsoft.CognitiveServices/accounts/MaaS/chat/completions/action",
            "MaaS/embeddings/action",
        ] {
            let r = smallest_role_for(a).unwrap();
            assert_eq!(r.guid, "53ca6127-db72-4b80-b1b0-d745d6d5456d", "{a}");
            assert_eq!(r.display_name(), "Foundry User (formerly Azure AI User)");
        }
    }

    #[test]
    fn an_excluded_action_gets_no_guess() {
        assert_eq!(
            smallest(
                "Microsoft.CognitiveServices/accounts/AIServices/agents/endpoints/UserIdentityImpersonation/action"
            ),
            None
        );
        assert_eq!(
            smallest("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"),
            None
        );
    }

    #[test]
    fn guids_match_the_rbac_constants() {
        assert_eq!(OPENAI_USER.guid, super::super::rbac::roles::OPENAI_USER);
        assert_eq!(OPENAI_CONTRIBUTOR.guid, super::super::rbac::roles::OPENAI_CONTRIBUTOR);
        assert_eq!(FOUNDRY_USER.guid, super::super::rbac::roles::AZURE_AI_USER);
    }

    #[test]
    fn the_request_table() {
        use Surface as S;
        let r = required_data_actions(&S::ResourceRoot, Call::Chat, Some("OpenAI"));
        assert_eq!(
            (r.grants.clone(), r.certainty),
            (vec![OPENAI_CHAT], Certainty::Confirmed)
        );
        assert_eq!(r.smallest_role().unwrap().name, "Cognitive Services OpenAI User");
        let r = required_data_actions(&S::V1, Call::Responses, None);
        assert_eq!(
            (r.grants.clone(), r.certainty),
            (vec![OPENAI_RESPONSES], Certainty::Confirmed)
        );
        // A project: either AIServices action counts; which is unverified; Foundry User.
        let r = required_data_actions(&S::Project { project: "p".into() }, Call::Chat, Some("OpenAI"));
        assert_eq!(r.grants, vec![AGENTS_WRITE, AI_RESPONSES_WRITE]);
        let v1 = required_data_actions(&S::ProjectV1 { project: "p".into() }, Call::Chat, Some("OpenAI"));
        assert_eq!((v1.grants, v1.certainty), (r.grants.clone(), r.certainty));
        assert_eq!(r.certainty, Certainty::EitherUnverified);
        assert!(r.note.contains("unverified"), "{}", r.note);
        assert_eq!(r.smallest_role().unwrap().guid, FOUNDRY_USER.guid);
        assert!(!OPENAI_USER.grants(AGENTS_WRITE) && !OPENAI_USER.grants(AI_RESPONSES_WRITE));
        // An agent application: its own invoke action, whatever the call (the probe reads
        // denials by the same row, so the role check and the probe name the same action).
        let app = S::AgentApplication {
            project: "p".into(),
            application: "bot".into(),
        };
        for call in [Call::Chat, Call::Responses, Call::ListModels] {
            let r = required_data_actions(&app, call, None);
            assert_eq!(
                (r.grants.clone(), r.certainty),
                (vec![APPLICATION_INVOKE], Certainty::Assumed)
            );
            assert_eq!(r.smallest_role().unwrap().guid, FOUNDRY_USER.guid);
        }
        assert_eq!(
            needed_for(&app, ProbeKind::Chat, None).any_of(),
            vec![APPLICATION_INVOKE]
        );
        // A non-OpenAI model on /models: MaaS, confirmed; through /openai/v1: unverified.
        let r = required_data_actions(&S::ModelInference, Call::Chat, Some("DeepSeek"));
        assert_eq!((r.grants.clone(), r.certainty), (vec![MAAS_CHAT], Certainty::Confirmed));
        assert_eq!(r.smallest_role().unwrap().guid, FOUNDRY_USER.guid);
        let r = required_data_actions(&S::V1, Call::Chat, Some("Meta"));
        assert_eq!(
            (r.grants.clone(), r.unverified_alternatives.clone(), r.certainty),
            (vec![MAAS_CHAT], vec![OPENAI_CHAT], Certainty::Unverified)
        );
        assert!(r.note.contains("unverified"), "{}", r.note);
        // An OpenAI model keeps the OpenAI actions wherever it is called.
        let r = required_data_actions(&S::V1, Call::Chat, Some("OpenAI"));
        assert_eq!((r.grants.clone(), r.certainty), (vec![OPENAI_CHAT], Certainty::Assumed));
        assert_eq!(
            required_data_actions(&S::ModelInference, Call::Chat, Some("openai")).grants,
            vec![OPENAI_CHAT]
        );
    }

    #[test]
    fn the_needed_action_follows_the_surface_and_the_model() {
        let project = Surface::Project { project: "p".into() };
        let n = needed_for(&project, ProbeKind::Chat, None);
        assert_eq!(n.any_of(), vec![AGENTS_WRITE, AI_RESPONSES_WRITE]);
        assert!(n.unconfirmed.is_some() && n.names("AIServices/responses/write"));
        // Neither project action is granted by OpenAI User; both by Foundry User.
        for a in n.any_of() {
            assert!(!OPENAI_USER.grants(a) && FOUNDRY_USER.grants(a), "{a}");
        }
        assert_eq!(
            needed_for(&Surface::V1, ProbeKind::Responses, None).action,
            OPENAI_RESPONSES
        );
        let classic = needed_for(&Surface::ResourceRoot, ProbeKind::Chat, Some("OpenAI"));
        assert_eq!(
            (classic.action, classic.or_else, classic.unconfirmed),
            (OPENAI_CHAT, None, None)
        );
        assert!(needed_for(&Surface::V1, ProbeKind::Chat, None).unconfirmed.is_some());
        let maas = needed_for(&Surface::ModelInference, ProbeKind::Chat, Some("DeepSeek"));
        assert_eq!((maas.action, maas.unconfirmed), (MAAS_CHAT, None));
        assert_eq!(smallest(maas.action), Some("Foundry User"));
        let via_v1 = needed_for(&Surface::V1, ProbeKind::Chat, Some("DeepSeek"));
        assert_eq!(via_v1.action, MAAS_CHAT);
        assert!(via_v1.unconfirmed.is_some());
        assert_eq!(short_action(OPENAI_RESPONSES), "OpenAI/responses/write");
    }
}
