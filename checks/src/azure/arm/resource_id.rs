//! ARM resource ids, parsed once: `/subscriptions/{s}/resourceGroups/{rg}/providers/{ns}/{type}/{name}`
//! with nested child types (`…/accounts/{a}/projects/{p}`), extension resources on any scope
//! (`{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`) and the tenant-level
//! forms (`/`, `/providers/Microsoft.Management/managementGroups/{mg}`).
//!
//! ARM treats the keywords (`subscriptions`, `resourceGroups`, `providers`), namespaces and
//! types case-insensitively; so does [`ResourceId::parse`]. Names keep the case they were given.

use std::fmt;

/// A parsed ARM id. Every id is a scope; a resource sits on the scope it was created in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceId {
    /// `/`: the tenant root.
    Root,
    /// `/subscriptions/{id}`.
    Subscription { id: String },
    /// `/subscriptions/{subscription}/resourceGroups/{name}`.
    ResourceGroup { subscription: String, name: String },
    /// `{scope}/providers/{namespace}/{type}/{name}[/{type}/{name}…]`.
    Resource {
        /// The scope the resource is created in (a resource group, a subscription, the root,
        /// or another resource for extension resources such as role assignments).
        scope: Box<ResourceId>,
        namespace: String,
        /// `(type, name)` from the top-level type down to the child: `[("accounts", "a"),
        /// ("projects", "p")]`. Never empty.
        types: Vec<(String, String)>,
    },
}

/// Why a string is not an ARM id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is(segment: &str, keyword: &str) -> bool {
    segment.eq_ignore_ascii_case(keyword)
}

impl ResourceId {
    /// Parses an id; a trailing `/` is allowed, empty segments (`//`) are not.
    pub fn parse(id: &str) -> Result<ResourceId, ParseError> {
        let trimmed = id.trim();
        let Some(rest) = trimmed.strip_prefix('/') else {
            return Err(ParseError(format!("`{trimmed}` does not start with `/`")));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<&str> = if rest.is_empty() {
            vec![]
        } else {
            rest.split('/').collect()
        };
        if segments.iter().any(|s| s.trim().is_empty()) {
            return Err(ParseError(format!("`{trimmed}` has an empty segment")));
        }
        Self::parse_segments(&segments).map_err(|why| ParseError(format!("`{trimmed}` {why}")))
    }

    fn parse_segments(segments: &[&str]) -> Result<ResourceId, String> {
        let (mut id, mut rest) = match segments {
            [] => return Ok(ResourceId::Root),
            [s, sub, r, rg, rest @ ..] if is(s, "subscriptions") && is(r, "resourceGroups") => (
                ResourceId::ResourceGroup {
                    subscription: sub.to_string(),
                    name: rg.to_string(),
                },
                rest,
            ),
            [s, sub, rest @ ..] if is(s, "subscriptions") => (ResourceId::Subscription { id: sub.to_string() }, rest),
            [p, ..] if is(p, "providers") => (ResourceId::Root, segments),
            _ => return Err("does not start with /subscriptions/ or /providers/".into()),
        };
        while !rest.is_empty() {
            let [p, namespace, tail @ ..] = rest else {
                return Err("ends in a lone segment".into());
            };
            if !is(p, "providers") {
                return Err(format!("has `{p}` where `providers` belongs"));
            }
            // Type/name pairs up to the next `providers` (an extension resource on this one).
            let end = tail.iter().position(|s| is(s, "providers")).unwrap_or(tail.len());
            let pairs = &tail[..end];
            if pairs.is_empty() || pairs.len() % 2 != 0 {
                return Err(format!("has no `type/name` pair after providers/{namespace}"));
            }
            id = ResourceId::Resource {
                scope: Box::new(id),
                namespace: namespace.to_string(),
                types: pairs.chunks(2).map(|c| (c[0].to_string(), c[1].to_string())).collect(),
            };
            rest = &tail[end..];
        }
        Ok(id)
    }

    /// The subscription the id lives in.
    pub fn subscription(&self) -> Option<&str> {
        match self {
            ResourceId::Root => None,
            ResourceId::Subscription { id } => Some(id),
            ResourceId::ResourceGroup { subscription, .. } => Some(subscription),
            ResourceId::Resource { scope, .. } => scope.subscription(),
        }
    }

    /// The resource group the id lives in.
    pub fn resource_group(&self) -> Option<&str> {
        match self {
            ResourceId::ResourceGroup { name, .. } => Some(name),
            ResourceId::Resource { scope, .. } => scope.resource_group(),
            _ => None,
        }
    }

    /// `/subscriptions/{s}/resourceGroups/{rg}` of the id, when it lives in one.
    pub fn resource_group_id(&self) -> Option<ResourceId> {
        Some(ResourceId::ResourceGroup {
            subscription: self.subscription()?.to_string(),
            name: self.resource_group()?.to_string(),
        })
    }

    /// The provider namespace of a resource (`Microsoft.CognitiveServices`).
    pub fn namespace(&self) -> Option<&str> {
        match self {
            ResourceId::Resource { namespace, .. } => Some(namespace),
            _ => None,
        }
    }

    /// `{namespace}/{type}[/{type}…]`: `Microsoft.CognitiveServices/accounts/projects`.
    pub fn resource_type(&self) -> Option<String> {
        match self {
            ResourceId::Resource { namespace, types, .. } => Some(
                std::iter::once(namespace.as_str())
                    .chain(types.iter().map(|(t, _)| t.as_str()))
                    .collect::<Vec<_>>()
                    .join("/"),
            ),
            _ => None,
        }
    }

    /// The provider path: `{namespace}/{type}/{name}[/{type}/{name}…]`.
    pub fn provider_path(&self) -> Option<String> {
        match self {
            ResourceId::Resource { namespace, types, .. } => Some(
                std::iter::once(namespace.clone())
                    .chain(types.iter().map(|(t, n)| format!("{t}/{n}")))
                    .collect::<Vec<_>>()
                    .join("/"),
            ),
            _ => None,
        }
    }

    /// The last name: the resource's (the child's, for a child), the group's, the subscription id.
    pub fn name(&self) -> Option<&str> {
        match self {
            ResourceId::Root => None,
            ResourceId::Subscription { id } => Some(id),
            ResourceId::ResourceGroup { name, .. } => Some(name),
            ResourceId::Resource { types, .. } => types.last().map(|(_, n)| n.as_str()),
        }
    }

    /// The last type segment (`accounts`, `projects`, `roleAssignments`).
    pub fn last_type(&self) -> Option<&str> {
        match self {
            ResourceId::Resource { types, .. } => types.last().map(|(t, _)| t.as_str()),
            _ => None,
        }
    }

    /// The scope a resource is created in (for an extension resource such as a role
    /// assignment: the resource it extends). `None` for a scope that is not a resource.
    pub fn scope(&self) -> Option<&ResourceId> {
        match self {
            ResourceId::Resource { scope, .. } => Some(scope),
            _ => None,
        }
    }

    /// One level up: a child's parent resource, a resource's scope, a group's subscription,
    /// a subscription's root. `None` for the root.
    pub fn parent(&self) -> Option<ResourceId> {
        match self {
            ResourceId::Root => None,
            ResourceId::Subscription { .. } => Some(ResourceId::Root),
            ResourceId::ResourceGroup { subscription, .. } => Some(ResourceId::Subscription {
                id: subscription.clone(),
            }),
            ResourceId::Resource { scope, types, .. } if types.len() == 1 => Some((**scope).clone()),
            ResourceId::Resource {
                scope,
                namespace,
                types,
            } => Some(ResourceId::Resource {
                scope: scope.clone(),
                namespace: namespace.clone(),
                types: types[..types.len() - 1].to_vec(),
            }),
        }
    }

    /// Whether this is a resource of `resource_type` (`Microsoft.CognitiveServices/accounts`),
    /// compared as ARM does, case-insensitively.
    pub fn is_type(&self, resource_type: &str) -> bool {
        self.resource_type()
            .is_some_and(|t| t.eq_ignore_ascii_case(resource_type))
    }

    /// Whether two ids name the same thing (ARM ids are case-insensitive).
    pub fn same_as(&self, other: &ResourceId) -> bool {
        self.to_string().eq_ignore_ascii_case(&other.to_string())
    }
}

impl fmt::Display for ResourceId {
    /// The canonical form: `/subscriptions/…/resourceGroups/…`, no trailing `/` (but `/` for the root).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResourceId::Root => f.write_str("/"),
            ResourceId::Subscription { id } => write!(f, "/subscriptions/{id}"),
            ResourceId::ResourceGroup { subscription, name } => {
                write!(f, "/subscriptions/{subscription}/resourceGroups/{name}")
            }
            ResourceId::Resource {
                scope,
                namespace,
                types,
            } => {
                if !matches!(**scope, ResourceId::Root) {
                    write!(f, "{scope}")?;
                }
                write!(f, "/providers/{namespace}")?;
                types.iter().try_for_each(|(t, n)| write!(f, "/{t}/{n}"))
            }
        }
    }
}

impl std::str::FromStr for ResourceId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ACCOUNT: &str =
        "/subscriptions/s1/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-aoai";

    #[test]
    fn an_account_and_its_parts() {
        let id = ResourceId::parse(ACCOUNT).unwrap();
        assert_eq!(id.subscription(), Some("s1"));
        assert_eq!(id.resource_group(), Some("rg-ai"));
        assert_eq!(id.namespace(), Some("Microsoft.CognitiveServices"));
        assert_eq!(id.name(), Some("contoso-aoai"));
        assert!(id.is_type("microsoft.cognitiveservices/ACCOUNTS"));
        assert_eq!(
            id.provider_path().as_deref(),
            Some("Microsoft.CognitiveServices/accounts/contoso-aoai")
        );
        assert_eq!(
            id.parent().unwrap().to_string(),
            "/subscriptions/s1/resourceGroups/rg-ai"
        );
        assert_eq!(
            id.resource_group_id().unwrap().to_string(),
            "/subscriptions/s1/resourceGroups/rg-ai"
        );
        assert_eq!(id.to_string(), ACCOUNT);
    }

    #[test]
    fn a_foundry_project_is_a_child_of_its_account() {
        let id = ResourceId::parse(&format!("{ACCOUNT}/projects/chat")).unwrap();
        assert!(id.is_type("Microsoft.CognitiveServices/accounts/projects"));
        assert_eq!((id.name(), id.last_type()), (Some("chat"), Some("projects")));
        assert_eq!(id.parent().unwrap().to_string(), ACCOUNT);
        assert_eq!(id.resource_group(), Some("rg-ai"));
    }

    #[test]
    fn extension_resources_keep_their_scope() {
        let ra = ResourceId::parse(&format!(
            "{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments/abc"
        ))
        .unwrap();
        assert!(ra.is_type("Microsoft.Authorization/roleAssignments"));
        assert_eq!(ra.scope().unwrap().to_string(), ACCOUNT);
        assert_eq!(ra.subscription(), Some("s1"));
        let root = ResourceId::parse("/providers/Microsoft.Authorization/roleAssignments/abc").unwrap();
        assert_eq!(root.scope(), Some(&ResourceId::Root));
        let mg = ResourceId::parse("/providers/Microsoft.Management/managementGroups/mg1").unwrap();
        assert!(mg.is_type("Microsoft.Management/managementGroups"));
        assert_eq!(mg.subscription(), None);
    }

    #[test]
    fn keywords_are_case_insensitive_and_names_keep_their_case() {
        let id = ResourceId::parse(
            "/SUBSCRIPTIONS/s1/resourcegroups/RG-AI/Providers/microsoft.cognitiveservices/Accounts/Contoso/",
        )
        .unwrap();
        assert_eq!(id.resource_group(), Some("RG-AI"));
        assert_eq!(id.name(), Some("Contoso"));
        let same = ResourceId::parse(&ACCOUNT.replace("contoso-aoai", "CONTOSO")).unwrap();
        assert!(id.same_as(&same) && id != same);
    }

    #[test]
    fn scopes_and_rejections() {
        assert_eq!(ResourceId::parse("/").unwrap(), ResourceId::Root);
        assert_eq!(ResourceId::parse("/subscriptions/s1").unwrap().name(), Some("s1"));
        assert_eq!(
            ResourceId::parse("/subscriptions/s1").unwrap().parent(),
            Some(ResourceId::Root)
        );
        for bad in [
            "",
            "subscriptions/s1",
            "/subscriptions",
            "/subscriptions/s1/resourceGroups",
            "/subscriptions/s1//resourceGroups/rg",
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.X",
            "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.X/accounts",
            "/subscriptions/s1/resourceGroups/rg/things/x",
            "/tenants/t",
        ] {
            assert!(ResourceId::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn name() -> impl Strategy<Value = String> {
        "[A-Za-z0-9][A-Za-z0-9._-]{0,12}".prop_filter("not a keyword", |s| {
            !is(s, "providers") && !is(s, "subscriptions") && !is(s, "resourceGroups")
        })
    }

    fn any_id() -> impl Strategy<Value = ResourceId> {
        let base = prop_oneof![
            Just(ResourceId::Root),
            name().prop_map(|id| ResourceId::Subscription { id }),
            (name(), name()).prop_map(|(subscription, name)| ResourceId::ResourceGroup { subscription, name }),
        ];
        (
            base,
            proptest::collection::vec((name(), proptest::collection::vec((name(), name()), 1..3)), 0..3),
        )
            .prop_map(|(mut id, layers)| {
                for (namespace, types) in layers {
                    id = ResourceId::Resource {
                        scope: Box::new(id),
                        namespace,
                        types,
                    };
                }
                id
            })
    }

    /// Flips the case of the keywords only, as ARM clients write them variously.
    fn recase_keywords(s: &str) -> String {
        s.split('/')
            .map(|seg| match seg {
                "subscriptions" => "SubScriptions".to_string(),
                "resourceGroups" => "resourcegroups".to_string(),
                "providers" => "PROVIDERS".to_string(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(id in any_id()) {
            let text = id.to_string();
            prop_assert_eq!(ResourceId::parse(&text).unwrap(), id.clone());
            prop_assert_eq!(ResourceId::parse(&format!("{text}/")).unwrap(), id.clone());
            prop_assert_eq!(ResourceId::parse(&recase_keywords(&text)).unwrap(), id);
        }

        #[test]
        fn parent_is_a_prefix(id in any_id()) {
            if let Some(parent) = id.parent() {
                let (p, c) = (parent.to_string(), id.to_string());
                prop_assert!(p == "/" || c.starts_with(&format!("{p}/")), "{} is not above {}", p, c);
            }
        }

        #[test]
        fn parse_never_panics(s in "[/a-zA-Z]{0,30}") {
            let _ = ResourceId::parse(&s);
        }
    }
}
