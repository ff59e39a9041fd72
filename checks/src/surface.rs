//! Which Azure OpenAI surface an endpoint addresses, read from the URL the app is configured
//! with (`AzureOpenAI`'s `azure_endpoint`, `OpenAI`'s `base_url`, `AIProjectClient`'s
//! endpoint), and what each surface needs: the token audiences it accepts, the scope to ask
//! for, the URL the probe extends, whether an api-version is sent.
//!
//! Sources (fixtures/corpus/foundry-facts.md §3–4): resource-level paths (classic and v1) accept
//! `https://cognitiveservices.azure.com` and `https://ai.azure.com` tokens (Learn
//! troubleshoot-errors and api-version-lifecycle, 2026); an `ai.azure.com` token on the classic
//! `/openai/deployments` route is UNCONFIRMED (accepted, reported as unverified); sovereign
//! clouds document only their own Cognitive Services audience; Foundry project endpoints accept
//! only `https://ai.azure.com` ("All endpoints require OAuth2Auth (scopes:
//! https://ai.azure.com/.default)", Foundry REST reference).

use crate::context::Cloud;
use serde::Serialize;
use url::Url;

/// The Foundry audience (projects; also accepted on resource-level paths in the public cloud).
pub const AI_AZURE: &str = "https://ai.azure.com";
/// The app id a token for `https://ai.azure.com` may carry as `aud` (Azure Machine Learning
/// Services, which owns that identifier URI).
pub const AI_AZURE_APP_ID: &str = "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe";
/// The app id of `https://cognitiveservices.azure.com` tokens.
pub const COGNITIVE_APP_ID: &str = "7d312290-28c8-473c-a0ed-8e53749b6d6d";
/// The api-version agent applications are documented with (Learn publish-responses).
pub const AGENT_APPLICATION_API_VERSION: &str = "2025-11-15-preview";
/// The api-version the Azure AI model-inference route (`/models`) is called with.
pub const MODEL_INFERENCE_API_VERSION: &str = "2024-05-01-preview";

/// The surface an endpoint addresses: decides the URLs the probe builds, the audience a token
/// needs and the advice the checks give.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Surface {
    /// `https://<res>.openai.azure.com/`: the classic root `AzureOpenAI(azure_endpoint=…)` wants.
    ResourceRoot,
    /// `https://<res>.openai.azure.com/openai/v1/`: the v1 API, the plain `OpenAI` client's base URL.
    V1,
    /// `https://<res>.services.ai.azure.com/api/projects/<project>` (`_project` included).
    Project { project: String },
    /// A project's `…/api/projects/<project>/openai/v1` (what `get_openai_client()` builds).
    ProjectV1 { project: String },
    /// `https://<res>.services.ai.azure.com/models`: Azure AI model inference (non-OpenAI models).
    ModelInference,
    /// `…/api/projects/<p>/applications/<app>/protocols/openai`: a published agent application.
    AgentApplication { project: String, application: String },
}

impl Surface {
    /// The surface of an endpoint URL; `None` for any other path, or a query or fragment.
    pub fn of(url: &Url) -> Option<Surface> {
        if url.query().is_some() || url.fragment().is_some() {
            return None;
        }
        Surface::of_path(url.path())
    }

    /// The surface a URL path names exactly (`/openai/v1/`, `/api/projects/p`, …).
    pub fn of_path(path: &str) -> Option<Surface> {
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        Surface::of_segments(&segs)
    }

    /// The surface an endpoint is meant for, even when a request path was pasted after it (the
    /// endpoint check reports that as `endpoint-has-path`): the longest leading run of path
    /// segments that names a surface, else the resource root. So
    /// `…/api/projects/p/openai/v1/chat/completions` is project `p`, `…/openai/v1/responses`
    /// is v1, and `…/openai/deployments/d/chat/completions` (or a gateway's own prefix) is the
    /// classic root. Query and fragment are ignored. What the role check and `fix` judge by.
    pub fn meant_by(url: &Url) -> Surface {
        let segs: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
        (0..=segs.len())
            .rev()
            .find_map(|n| Surface::of_segments(&segs[..n]))
            .unwrap_or(Surface::ResourceRoot)
    }

    fn of_segments(segs: &[&str]) -> Option<Surface> {
        let is = |s: &str, word: &str| s.eq_ignore_ascii_case(word);
        let name = |s: &str| s.to_string();
        Some(match segs {
            [] => Surface::ResourceRoot,
            [o, v] if is(o, "openai") && is(v, "v1") => Surface::V1,
            [m] if is(m, "models") => Surface::ModelInference,
            [a, ps, p] if is(a, "api") && is(ps, "projects") => Surface::Project { project: name(p) },
            [a, ps, p, o, v] if is(a, "api") && is(ps, "projects") && is(o, "openai") && is(v, "v1") => {
                Surface::ProjectV1 { project: name(p) }
            }
            [a, ps, p, apps, app, pr, o]
                if is(a, "api")
                    && is(ps, "projects")
                    && is(apps, "applications")
                    && is(pr, "protocols")
                    && is(o, "openai") =>
            {
                Surface::AgentApplication {
                    project: name(p),
                    application: name(app),
                }
            }
            _ => return None,
        })
    }

    /// The stable id, for evidence and JSON.
    pub fn id(&self) -> &'static str {
        match self {
            Surface::ResourceRoot => "resource-root",
            Surface::V1 => "v1",
            Surface::Project { .. } => "project",
            Surface::ProjectV1 { .. } => "project-v1",
            Surface::ModelInference => "model-inference",
            Surface::AgentApplication { .. } => "agent-application",
        }
    }

    /// How the report names it.
    pub fn describe(&self) -> String {
        match self {
            Surface::ResourceRoot => "resource root".to_string(),
            Surface::V1 => "v1 base URL".to_string(),
            Surface::Project { project } => format!("Foundry project `{project}`"),
            Surface::ProjectV1 { project } => format!("Foundry project `{project}`, v1 base URL"),
            Surface::ModelInference => "model-inference route".to_string(),
            Surface::AgentApplication { project, application } => {
                format!("agent application `{application}` of Foundry project `{project}`")
            }
        }
    }

    /// The Foundry project the endpoint goes through, if any.
    pub fn project(&self) -> Option<&str> {
        match self {
            Surface::Project { project }
            | Surface::ProjectV1 { project }
            | Surface::AgentApplication { project, .. } => Some(project),
            _ => None,
        }
    }

    pub fn is_project(&self) -> bool {
        self.project().is_some()
    }

    /// Calls go to `/openai/v1/…`, which takes no dated api-version.
    pub fn is_v1(&self) -> bool {
        matches!(self, Surface::V1 | Surface::Project { .. } | Surface::ProjectV1 { .. })
    }

    /// The classic `/openai/deployments/…` route, where an `ai.azure.com` token is UNCONFIRMED.
    pub fn is_classic(&self) -> bool {
        *self == Surface::ResourceRoot
    }

    /// The audiences (`aud` resources) this surface is documented to accept in `cloud`.
    pub fn accepted_audiences(&self, cloud: Cloud) -> Vec<&'static str> {
        if self.is_project() {
            return vec![AI_AZURE];
        }
        match cloud {
            Cloud::AzureCloud => vec![cloud.cognitive_resource(), AI_AZURE],
            // Only the cloud's own Cognitive Services audience is documented there.
            _ => vec![cloud.cognitive_resource()],
        }
    }

    /// The audience to recommend (and to name when a token has none of the accepted ones).
    pub fn preferred_audience(&self, cloud: Cloud) -> &'static str {
        if self.is_project() {
            AI_AZURE
        } else {
            cloud.cognitive_resource()
        }
    }

    /// The audience a token is judged against: the accepted one it carries (by resource or
    /// app id), else the one to recommend — so a token for any accepted audience passes and a
    /// wrong one is told the audience it needs.
    pub fn audience_for(&self, cloud: Cloud, token_audiences: &[String]) -> &'static str {
        let carries = |resource: &str| {
            token_audiences
                .iter()
                .any(|a| same_resource(a, resource) || app_id_of(resource).is_some_and(|id| same_resource(a, id)))
        };
        [cloud.cognitive_resource(), AI_AZURE]
            .into_iter()
            .find(|r| carries(r) && self.acceptance(cloud, r) != Acceptance::Refused)
            .unwrap_or_else(|| self.preferred_audience(cloud))
    }

    /// The scope an app should request for this surface: `https://ai.azure.com/.default` for
    /// projects, else the cloud's Cognitive Services scope (accepted on every resource path).
    pub fn default_scope(&self, cloud: Cloud) -> String {
        format!("{}/.default", self.preferred_audience(cloud))
    }

    /// Whether a token for `audience` (a resource URI or its app id) is accepted here.
    pub fn acceptance(&self, cloud: Cloud, audience: &str) -> Acceptance {
        let is = |resource: &str| {
            same_resource(audience, resource) || app_id_of(resource).is_some_and(|id| same_resource(audience, id))
        };
        if self.accepted_audiences(cloud).into_iter().any(is) {
            return match self.unverified_audience(audience) {
                Some(why) => Acceptance::Unverified(why),
                None => Acceptance::Documented,
            };
        }
        if !self.is_project() && cloud != Cloud::AzureCloud && is(AI_AZURE) {
            return Acceptance::Unverified(
                "unverified: only this cloud's Cognitive Services audience is documented for Azure OpenAI here; \
                 whether https://ai.azure.com tokens are accepted is not; the live call decides",
            );
        }
        Acceptance::Refused
    }

    /// Why an accepted audience is still unverified here, when it is.
    pub fn unverified_audience(&self, audience: &str) -> Option<&'static str> {
        let ai = same_resource(audience, AI_AZURE) || same_resource(audience, AI_AZURE_APP_ID);
        (self.is_classic() && ai).then_some(
            "unverified: Microsoft documents https://ai.azure.com tokens for Azure OpenAI endpoints, but no live \
             test of one on the classic /openai/deployments route was found; the live call decides",
        )
    }

    /// The URL the probe appends `chat/completions`, `responses`, … to (no trailing slash):
    /// the root for the classic route (the probe adds `/openai/deployments/…` itself).
    pub fn call_base(&self, endpoint: &Url) -> Url {
        let mut url = endpoint.clone();
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let trimmed = url.path().trim_end_matches('/').to_string();
        let path = match self {
            Surface::ResourceRoot => String::new(),
            Surface::Project { .. } => format!("{trimmed}/openai/v1"),
            _ => trimmed,
        };
        url.set_path(if path.is_empty() { "/" } else { &path });
        url
    }

    /// The api-version a call on this surface carries: none on `/openai/v1` unless the user
    /// passed one explicitly (to reproduce an `AzureOpenAI` client pointed at it).
    pub fn api_version(&self, explicit: Option<&str>, classic_default: &str) -> Option<String> {
        if let Some(v) = explicit.map(str::trim).filter(|v| !v.is_empty()) {
            return Some(v.to_string());
        }
        match self {
            Surface::ResourceRoot => Some(classic_default.to_string()),
            Surface::ModelInference => Some(MODEL_INFERENCE_API_VERSION.to_string()),
            Surface::AgentApplication { .. } => Some(AGENT_APPLICATION_API_VERSION.to_string()),
            _ => None,
        }
    }
}

/// Whether a surface accepts a token audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// Documented (or observed) to work.
    Documented,
    /// Probably accepted but no source settles it: accept, say why, let the live call decide.
    Unverified(&'static str),
    /// Not accepted: the data plane answers 401.
    Refused,
}

/// The resource root of any endpoint URL: `scheme://host[:port]/`.
pub fn resource_root(url: &Url) -> Url {
    let mut base = url.clone();
    base.set_path("/");
    base.set_query(None);
    base.set_fragment(None);
    let _ = base.set_username("");
    let _ = base.set_password(None);
    base
}

/// `https://ai.azure.com/` and `https://ai.azure.com` are the same resource.
pub fn same_resource(a: &str, b: &str) -> bool {
    a.trim()
        .trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim().trim_end_matches('/'))
}

/// The app id a resource's tokens may carry as `aud`, when the doctor knows it.
pub fn app_id_of(resource: &str) -> Option<&'static str> {
    if same_resource(resource, AI_AZURE) {
        Some(AI_AZURE_APP_ID)
    } else if resource
        .to_ascii_lowercase()
        .starts_with("https://cognitiveservices.azure.")
    {
        Some(COGNITIVE_APP_ID)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(u: &str) -> Option<Surface> {
        Surface::of(&Url::parse(u).unwrap())
    }

    #[test]
    fn every_documented_shape_is_named() {
        let p = |s: &str| s.to_string();
        for (u, want) in [
            ("https://c.openai.azure.com", Surface::ResourceRoot),
            ("https://c.openai.azure.com/openai/v1", Surface::V1),
            ("https://c.openai.azure.com/openai/v1/", Surface::V1),
            ("https://c.services.ai.azure.com/models", Surface::ModelInference),
            (
                "https://c.services.ai.azure.com/api/projects/chat-proj",
                Surface::Project {
                    project: p("chat-proj"),
                },
            ),
            (
                "https://c.services.ai.azure.com/api/projects/_project/",
                Surface::Project { project: p("_project") },
            ),
            (
                "https://c.services.ai.azure.com/api/projects/x/openai/v1/",
                Surface::ProjectV1 { project: p("x") },
            ),
            (
                "https://c.services.ai.azure.com/api/projects/x/applications/bot/protocols/openai",
                Surface::AgentApplication {
                    project: p("x"),
                    application: p("bot"),
                },
            ),
        ] {
            assert_eq!(of(u), Some(want), "{u}");
        }
    }

    #[test]
    fn other_paths_and_queries_are_no_surface() {
        for u in [
            "https://c.openai.azure.com/openai/deployments/gpt-4o/chat/completions",
            "https://c.openai.azure.com/openai",
            "https://c.openai.azure.com/openai/v1/chat/completions",
            "https://c.openai.azure.com/?api-version=2024-10-21",
            "https://c.services.ai.azure.com/api/projects",
        ] {
            assert_eq!(of(u), None, "{u}");
        }
    }

    #[test]
    fn a_pasted_request_path_means_the_surface_it_starts_with() {
        let meant = |u: &str| Surface::meant_by(&Url::parse(u).unwrap());
        let project = |p: &str| Surface::Project { project: p.into() };
        // Every exact shape means itself.
        for u in [
            "https://c.openai.azure.com/",
            "https://c.openai.azure.com/openai/v1/",
            "https://c.services.ai.azure.com/api/projects/Chat-Proj",
            "https://c.services.ai.azure.com/api/projects/x/openai/v1",
            "https://c.services.ai.azure.com/models",
            "https://c.services.ai.azure.com/api/projects/x/applications/bot/protocols/openai",
        ] {
            assert_eq!(Some(meant(u)), of(u), "{u}");
        }
        for (u, want) in [
            // Deliberate: the longest leading run that names a surface.
            (
                "https://c.services.ai.azure.com/api/projects/p/openai/v1/chat/completions",
                Surface::ProjectV1 { project: "p".into() },
            ),
            (
                "https://c.services.ai.azure.com/api/projects/p/assistants",
                project("p"),
            ),
            ("https://c.openai.azure.com/openai/v1/responses", Surface::V1),
            (
                "https://c.services.ai.azure.com/models/chat/completions",
                Surface::ModelInference,
            ),
            (
                "https://c.services.ai.azure.com/api/projects/p/applications/bot/protocols/openai/responses",
                Surface::AgentApplication {
                    project: "p".into(),
                    application: "bot".into(),
                },
            ),
            // Nothing named: the classic root, as the SDK would call it.
            (
                "https://c.openai.azure.com/openai/deployments/d/chat/completions",
                Surface::ResourceRoot,
            ),
            ("https://c.openai.azure.com/openai", Surface::ResourceRoot),
            ("https://c.services.ai.azure.com/api/projects/", Surface::ResourceRoot),
            ("https://gw.contoso.com/aoai/openai/v1", Surface::ResourceRoot),
            // A query does not hide the path's surface (Surface::of refuses it).
            (
                "https://c.openai.azure.com/openai/v1?api-version=2024-10-21",
                Surface::V1,
            ),
            (
                "https://c.openai.azure.com/?api-version=2024-10-21",
                Surface::ResourceRoot,
            ),
        ] {
            assert_eq!(meant(u), want, "{u}");
        }
    }

    #[test]
    fn audiences_follow_the_surface_and_the_cloud() {
        let project = Surface::Project { project: "p".into() };
        assert_eq!(project.accepted_audiences(Cloud::AzureCloud), vec![AI_AZURE]);
        assert_eq!(
            project.default_scope(Cloud::AzureCloud),
            "https://ai.azure.com/.default"
        );
        assert_eq!(
            Surface::V1.accepted_audiences(Cloud::AzureCloud),
            vec!["https://cognitiveservices.azure.com", AI_AZURE]
        );
        assert_eq!(
            Surface::V1.accepted_audiences(Cloud::AzureUsGovernment),
            vec!["https://cognitiveservices.azure.us"]
        );
        assert!(
            Surface::ResourceRoot
                .unverified_audience("https://ai.azure.com/")
                .is_some()
        );
        let cloud = Cloud::AzureCloud;
        assert_eq!(Surface::V1.acceptance(cloud, AI_AZURE_APP_ID), Acceptance::Documented);
        assert!(matches!(
            Surface::ResourceRoot.acceptance(cloud, AI_AZURE),
            Acceptance::Unverified(_)
        ));
        assert_eq!(
            project.acceptance(cloud, "https://cognitiveservices.azure.com"),
            Acceptance::Refused
        );
        assert!(matches!(
            Surface::V1.acceptance(Cloud::AzureChinaCloud, AI_AZURE),
            Acceptance::Unverified(_)
        ));
        assert_eq!(
            Surface::V1.acceptance(cloud, "https://management.azure.com/"),
            Acceptance::Refused
        );
        let auds = vec![AI_AZURE_APP_ID.to_string()];
        assert_eq!(Surface::V1.audience_for(cloud, &auds), AI_AZURE);
        assert_eq!(
            project.audience_for(cloud, &["https://cognitiveservices.azure.com".into()]),
            AI_AZURE
        );
        assert!(Surface::V1.unverified_audience(AI_AZURE).is_none());
        assert!(
            Surface::ResourceRoot
                .unverified_audience("https://cognitiveservices.azure.com")
                .is_none()
        );
    }

    #[test]
    fn call_bases_and_api_versions() {
        let base = |u: &str| {
            let url = Url::parse(u).unwrap();
            of(u).unwrap().call_base(&url).to_string()
        };
        assert_eq!(base("https://c.openai.azure.com/"), "https://c.openai.azure.com/");
        assert_eq!(
            base("https://c.openai.azure.com/openai/v1/"),
            "https://c.openai.azure.com/openai/v1"
        );
        assert_eq!(
            base("https://c.services.ai.azure.com/api/projects/p"),
            "https://c.services.ai.azure.com/api/projects/p/openai/v1"
        );
        assert_eq!(
            base("https://c.services.ai.azure.com/api/projects/p/openai/v1/"),
            "https://c.services.ai.azure.com/api/projects/p/openai/v1"
        );
        assert_eq!(Surface::V1.api_version(None, "2024-10-21"), None);
        assert_eq!(
            Surface::V1.api_version(Some("2024-10-21"), "x").as_deref(),
            Some("2024-10-21")
        );
        assert_eq!(
            Surface::ResourceRoot.api_version(None, "2024-10-21").as_deref(),
            Some("2024-10-21")
        );
    }
}
