//! Codes of `aoai-doctor fix`: the one role assignment it plans, writes and waits for.
use super::codes;

const ASSIGN_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/role-assignments-rest";
const TROUBLESHOOT: &str = "https://learn.microsoft.com/azure/role-based-access-control/troubleshooting";
const CONDITION_DOCS: &str =
    "https://learn.microsoft.com/azure/role-based-access-control/delegate-role-assignments-overview";
const PIM_DOCS: &str = "https://learn.microsoft.com/entra/id-governance/privileged-identity-management/pim-resource-roles-activate-your-roles";
const DENY_DOCS: &str = "https://learn.microsoft.com/azure/role-based-access-control/deny-assignments";
const THROTTLING_DOCS: &str =
    "https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling";
const CLAIMS_DOCS: &str = "https://learn.microsoft.com/entra/identity-platform/claims-challenge";

codes! {
    list = FIX_CODES;
    FIX_PLANNED = ("fix-planned", ASSIGN_DOCS,
        "fix plans one least-privilege role assignment (role, principal, scope) for the missing data action; nothing is written until it is confirmed.");
    FIX_APPLIED = ("fix-applied", ASSIGN_DOCS,
        "fix created the role assignment; the report records its id and the command that removes it.");
    FIX_ALREADY_DONE = ("fix-already-done", ASSIGN_DOCS,
        "The planned role assignment already exists (ARM answered RoleAssignmentExists, or the same assignment was found): nothing was written.");
    FIX_NOTHING_TO_DO = ("fix-nothing-to-do", ASSIGN_DOCS,
        "The doctor found no missing data-action role to fix; any other failure stays manual and keeps its own commands.");
    FIX_CANNOT_PLAN = ("fix-cannot-plan", ASSIGN_DOCS,
        "fix cannot plan an assignment: the account, the principal, its type or a role that grants the action is unknown, so nothing is guessed.");
    FIX_NOT_CONFIRMED = ("fix-not-confirmed", ASSIGN_DOCS,
        "The plan was not confirmed (no terminal and no --yes, or the answer was no): nothing was written.");
    FIX_NOT_PERMITTED = ("fix-not-permitted", TROUBLESHOOT,
        "The caller may not create role assignments at the scope (no Microsoft.Authorization/roleAssignments/write, e.g. Contributor): an owner must run the printed command.");
    FIX_CONDITION_FORBIDS = ("fix-condition-forbids", CONDITION_DOCS,
        "The caller may assign roles only under a condition (Foundry Account Owner, Foundry Project Manager) that does not allow the planned role.");
    FIX_PIM_ACTIVATE = ("fix-pim-activate", PIM_DOCS,
        "The caller's Owner or administrator role may be only PIM-eligible: activate it, then run fix again.");
    FIX_DENY_ASSIGNMENT = ("fix-deny-assignment", DENY_DOCS,
        "A deny assignment blocks the data action: a new role assignment would not help, and fix does not work around it.");
    FIX_WRITE_FORBIDDEN = ("fix-write-forbidden", TROUBLESHOOT,
        "ARM refused the role-assignment write (403), although the effective permissions allowed it (a deny assignment, a condition or a policy).");
    FIX_PRINCIPAL_NOT_FOUND = ("fix-principal-not-found", TROUBLESHOOT,
        "ARM answered 400 PrincipalNotFound: the object id is not in the account's tenant (or a just-created identity has not replicated yet).");
    FIX_ROLE_DEFINITION_NOT_FOUND = ("fix-role-definition-not-found", TROUBLESHOOT,
        "ARM answered that the planned role definition does not exist at the scope (404 RoleDefinitionDoesNotExist).");
    FIX_CONFLICT = ("fix-conflict", TROUBLESHOOT,
        "ARM answered 409 to the role-assignment write with something other than RoleAssignmentExists.");
    FIX_CLAIMS_CHALLENGE = ("fix-claims-challenge", CLAIMS_DOCS,
        "ARM asked for a fresh sign-in (a claims challenge, e.g. MFA required for role-assignment writes): sign in again with MFA and rerun.");
    FIX_THROTTLED = ("fix-throttled", THROTTLING_DOCS,
        "ARM kept answering 429 to the role-assignment write within fix's bounded retries.");
    FIX_ARM_FAILED = ("fix-arm-failed", TROUBLESHOOT,
        "The role-assignment write or the permission check got no usable answer (timeout, connection failure, unexpected status).");
    FIX_PROPAGATION_TIMEOUT = ("fix-propagation-timeout", TROUBLESHOOT,
        "The assignment exists, but the data plane still answered 401 when --wait-for-propagation ran out: the change is not done yet.");
    FIX_LIVE_CALL_FAILS = ("fix-live-call-fails", ASSIGN_DOCS,
        "The role assignment is in place, but the live call fails for another reason (its row says which); fix changes nothing else.");
    FIX_DATA_PLANE_UNTESTED = ("fix-data-plane-untested", ASSIGN_DOCS,
        "The assignment is for --assignee, but the live call runs as the caller: it was read back from ARM, and the data plane was not tested as that principal.");
}
