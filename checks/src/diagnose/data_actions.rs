//! A data action → the smallest built-in role that grants it, and why. One table, shared by the
//! data-plane probe, `explain` and (later) `fix`, so they never disagree on which role to grant.
//!
//! The roles' `dataActions` / `notDataActions` are the 2026 definitions (as `az role definition
//! list --name <guid>` returns them; sources in `fixtures/corpus/foundry-facts.md` §1–2). Roles are
//! named by GUID with their 2026 name; "Foundry User" was "Azure AI User" (same GUID). A role
//! grants an action when one of its `dataActions` matches and none of its `notDataActions` does
//! (matching as Azure RBAC does: `*` spans any run, case-insensitive; see [`super::rbac`]).

use super::rbac::pattern_matches;
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
}
