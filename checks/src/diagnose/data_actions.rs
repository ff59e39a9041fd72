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
    let a = action.trim().trim_matches(['`', '\u{27}', '\u{22}']); // escaped: quote characters in char literals trip naive line counters
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

/// The data action a request needs, by surface and kind (fixtures/corpus/foundry-facts.md §1c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NeededAction {
    /// The action a denial is expected to name.
    pub action: &'static str,
    /// Another action that is documented to grant the call as well (project routes: which of
    /// the two the service checks is UNCONFIRMED, so a role must grant one of them).
    pub or_else: Option<&'static str>,
    /// Why the mapping is not settled, when it is not.
    pub unconfirmed: Option<&'static str>,
}

const PREFIX: &str = "Microsoft.CognitiveServices/accounts/";

impl NeededAction {
    const fn sure(action: &'static str) -> Self {
        NeededAction {
            action,
            or_else: None,
            unconfirmed: None,
        }
    }
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
    let openai_model = model_format.is_none_or(|f| f.eq_ignore_ascii_case("OpenAI"));
    let read = kind == ProbeKind::Models;
    match surface {
        Surface::Project { .. } | Surface::ProjectV1 { .. } => NeededAction {
            action: if read { AGENTS_READ } else { AGENTS_WRITE },
            or_else: Some(if read { AI_RESPONSES_READ } else { AI_RESPONSES_WRITE }),
            unconfirmed: Some(
                "observed: AIServices/agents/* for /api/projects/{projectName}/openai/*; documented: AIServices/responses/*; \
                 which one the service checks is unverified",
            ),
        },
        Surface::AgentApplication { .. } => NeededAction::sure(APPLICATION_INVOKE),
        Surface::ModelInference if !openai_model || model_format.is_none() => match kind {
            ProbeKind::Embeddings => NeededAction::sure(MAAS_EMBEDDINGS),
            _ => NeededAction::sure(MAAS_CHAT),
        },
        _ if !openai_model && matches!(kind, ProbeKind::Chat | ProbeKind::Responses) => NeededAction {
            action: MAAS_CHAT,
            or_else: None,
            unconfirmed: Some("a non-OpenAI model through /openai/v1: MaaS or OpenAI data action is unverified"),
        },
        _ => match kind {
            ProbeKind::Responses => NeededAction::sure(RESPONSES_WRITE),
            ProbeKind::Embeddings => NeededAction::sure(EMBEDDINGS),
            ProbeKind::Models => NeededAction::sure(MODELS_READ),
            ProbeKind::Chat | ProbeKind::None => NeededAction {
                unconfirmed: (surface == &Surface::V1)
                    .then_some("no denial naming the /openai/v1/chat/completions action was found; assumed the classic chat action"),
                ..NeededAction::sure(CHAT)
            },
        },
    }
}

pub const CHAT: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";
pub const EMBEDDINGS: &str = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/embeddings/action";
pub const MODELS_READ: &str = "Microsoft.CognitiveServices/accounts/OpenAI/models/read";
pub const RESPONSES_WRITE: &str = "Microsoft.CognitiveServices/accounts/OpenAI/responses/write";
pub const MAAS_CHAT: &str = "Microsoft.CognitiveServices/accounts/MaaS/chat/completions/action";
pub const MAAS_EMBEDDINGS: &str = "Microsoft.CognitiveServices/accounts/MaaS/embeddings/action";
pub const AGENTS_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/write";
pub const AGENTS_READ: &str = "Microsoft.CognitiveServices/accounts/AIServices/agents/read";
pub const AI_RESPONSES_WRITE: &str = "Microsoft.CognitiveServices/accounts/AIServices/responses/write";
pub const AI_RESPONSES_READ: &str = "Microsoft.CognitiveServices/accounts/AIServices/responses/read";
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
            RESPONSES_WRITE
        );
        assert_eq!(
            needed_for(&Surface::ResourceRoot, ProbeKind::Chat, Some("OpenAI")),
            NeededAction::sure(CHAT)
        );
        assert!(needed_for(&Surface::V1, ProbeKind::Chat, None).unconfirmed.is_some());
        let maas = needed_for(&Surface::ModelInference, ProbeKind::Chat, Some("DeepSeek"));
        assert_eq!((maas.action, maas.unconfirmed), (MAAS_CHAT, None));
        assert_eq!(smallest(maas.action), Some("Foundry User"));
        let via_v1 = needed_for(&Surface::V1, ProbeKind::Chat, Some("DeepSeek"));
        assert_eq!(via_v1.action, MAAS_CHAT);
        assert!(via_v1.unconfirmed.is_some());
        assert_eq!(short_action(RESPONSES_WRITE), "OpenAI/responses/write");
    }

    #[test]
    fn guids_match_the_rbac_constants() {
        assert_eq!(OPENAI_USER.guid, super::super::rbac::roles::OPENAI_USER);
        assert_eq!(OPENAI_CONTRIBUTOR.guid, super::super::rbac::roles::OPENAI_CONTRIBUTOR);
        assert_eq!(FOUNDRY_USER.guid, super::super::rbac::roles::AZURE_AI_USER);
    }
}
