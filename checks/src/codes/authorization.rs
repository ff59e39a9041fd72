//! Codes of the `role-assignment` check: Azure RBAC on the Azure OpenAI account.
use super::{codes, docs};

const RBAC_LIST_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/role-assignments-list-rest";
const RBAC_TROUBLESHOOT: &str = "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting";
const DENY_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/deny-assignments";
const CONDITION_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/conditions-overview";
const TENANT_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/troubleshoot-multi-tenant";
const MI_DOCS: &str = "https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-manage-user-assigned-managed-identities";
const FOUNDRY_RBAC_DOCS: &str = "https://learn.microsoft.com/azure/ai-foundry/concepts/rbac-azure-ai-foundry";
const RESOURCE_GRAPH_DOCS: &str = "https://learn.microsoft.com/azure/governance/resource-graph/overview";
const BUILTIN_ROLES_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/built-in-roles";
const PERMISSIONS_DOCS: &str = "https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource";

codes! {
    list = AUTHORIZATION_CODES;
    ROLE_MISSING = ("role-missing", docs::RBAC_AOAI,
        "The principal holds no role that grants the data action on the account: the data plane answers 401 PermissionDenied.");
    ROLE_CONTROL_PLANE_ONLY = ("role-control-plane-only", docs::RBAC_AOAI,
        "The principal holds only management roles (Owner, Contributor, Reader, Cognitive Services Contributor…), which carry no data actions.");
    ROLE_WRONG_SCOPE = ("role-wrong-scope", docs::RBAC_AOAI,
        "A role that grants the data action exists, but on another scope (another account, resource group or subscription), not on this account.");
    ROLE_PROPAGATING = ("role-propagating", RBAC_TROUBLESHOOT,
        "The granting role assignment is only minutes old: Azure RBAC can take up to 10 minutes (longer through groups) to reach the data plane.");
    ROLE_DENIED = ("role-denied", DENY_DOCS,
        "A deny assignment on the account or above blocks the data action, whatever role the principal holds.");
    ROLE_CONDITION = ("role-condition", CONDITION_DOCS,
        "The granting role assignment carries an ABAC condition the doctor does not evaluate; it may still block the call.");
    ROLE_READ_FORBIDDEN = ("role-read-forbidden", RBAC_LIST_DOCS,
        "The doctor's identity may not read role assignments on the account (403 AuthorizationFailed), so the roles could not be verified.");
    ROLE_RESOURCE_NOT_FOUND = ("role-resource-not-found", RBAC_LIST_DOCS,
        "The Azure OpenAI account behind the endpoint was not found in the subscriptions the identity can read (or --resource-id does not exist).");
    ROLE_RESOURCE_OTHER_TENANT = ("role-resource-other-tenant", TENANT_DOCS,
        "The account lives in another Microsoft Entra tenant than the token's: tokens must come from the account's tenant.");
    ROLE_ASSIGNEE_UNRESOLVED = ("role-assignee-unresolved", MI_DOCS,
        "--assignee could not be resolved to an object id (a client id or a managed identity's resource id the doctor cannot look up).");
    ROLE_EFFECTIVE_PERMISSIONS_DISAGREE = ("role-effective-permissions-disagree", PERMISSIONS_DOCS,
        "ARM's effective-permissions answer for the caller disagrees with what its role assignments add up to.");
    ROLE_PROJECT_NOT_FOUND = ("role-project-not-found", FOUNDRY_RBAC_DOCS,
        "The endpoint names a Microsoft Foundry project (…/api/projects/NAME) that the account does not have in ARM.");
    ROLE_DATA_ACTION_UNVERIFIED = ("role-data-action-unverified", FOUNDRY_RBAC_DOCS,
        "No role grants the data action the sources name for this call, but one grants an alternative no source rules out (a non-OpenAI model through /openai/v1): the live call decides.");
    ROLE_ARM_UNREACHABLE = ("role-arm-unreachable", docs::README,
        "Azure Resource Manager could not be reached, or refused the doctor's ARM token, so roles could not be checked.");
    ROLE_DISCOVERY_SCAN = ("role-discovery-scan", RESOURCE_GRAPH_DOCS,
        "Resource Graph did not find the account (refused, failed, or its index lags a new account), so the doctor read the accounts of every subscription the identity can list; says how many.");
    ROLE_DEFINITION_CHANGED = ("role-definition-changed", BUILTIN_ROLES_DOCS,
        "A built-in role's live definition differs from the copy bundled with the doctor, which decided the verdict; the difference is listed.");
}
