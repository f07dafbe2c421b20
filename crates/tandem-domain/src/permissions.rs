//! Who may do what: the rules of roles and ownership, beside the entities they are about, so
//! that the API, the console and any other caller refuse the same things for the same reason.

use crate::{Conversation, Role, Transition, User, UserId};

/// Why a user may not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("only admins may do this")]
    AdminsOnly,
    #[error("only supervisors and admins may do this")]
    ManagersOnly,
    #[error("only supervisors and admins assign conversations to others")]
    AssignToOthers,
    #[error("only the assigned agent or a supervisor may release this conversation")]
    NotYourConversation,
    /// An admin's own role: nobody is left without an admin by a slip.
    #[error("you cannot demote yourself; ask another admin")]
    DemoteYourself,
    #[error("you cannot deactivate yourself; ask another admin")]
    DeactivateYourself,
}

pub fn require_admin(actor: &User) -> Result<(), Refusal> {
    if actor.is_admin() { Ok(()) } else { Err(Refusal::AdminsOnly) }
}

/// Supervisors and admins: routing, escalation, knowledge, actions, each inbox's satisfaction
/// (CSAT) questions.
pub fn require_manager(actor: &User) -> Result<(), Refusal> {
    if actor.is_manager() { Ok(()) } else { Err(Refusal::ManagersOnly) }
}

/// Whose conversations a user's reports (Insight, the reports API) cover: a supervisor's or
/// admin's the whole workspace's (`None`), an agent's only those they answered.
pub fn reports_limited_to(actor: &User) -> Option<UserId> {
    (!actor.is_manager()).then_some(actor.id)
}

/// A change to a user's account: anyone may change their own name, language and password;
/// only admins change other users, or anyone's role or whether they are active; and nobody
/// demotes or deactivates themselves.
pub fn may_change_user(
    actor: &User,
    target: &User,
    role: Option<Role>,
    active: Option<bool>,
) -> Result<(), Refusal> {
    let own = actor.id == target.id;
    if !own || role.is_some() || active.is_some() {
        require_admin(actor)?;
    }
    if own && active == Some(false) {
        return Err(Refusal::DeactivateYourself);
    }
    if own && role.is_some_and(|role| role != Role::Admin) {
        return Err(Refusal::DemoteYourself);
    }
    Ok(())
}

/// Whether `actor` may move `conversation` by `transition` (the state machine decides whether
/// the move itself is possible): agents take conversations for themselves, supervisors and
/// admins give them to others; only the assigned agent or a supervisor releases one.
pub fn may_transition(
    actor: &User,
    conversation: &Conversation,
    transition: Transition,
) -> Result<(), Refusal> {
    match transition {
        Transition::Assign { agent } if agent != actor.id && !actor.is_manager() => {
            Err(Refusal::AssignToOthers)
        }
        Transition::Release
            if conversation.assignee_id.is_some_and(|owner| owner != actor.id)
                && !actor.is_manager() =>
        {
            Err(Refusal::NotYourConversation)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConversationId, ConversationState, CustomerId, InboxId, Locale, WorkspaceId};

    fn user(id: i64, role: Role) -> User {
        User {
            id: UserId(id),
            workspace_id: WorkspaceId(1),
            email: format!("{id}@example.com"),
            display_name: id.to_string(),
            role,
            locale: Locale::En,
            active: true,
            created_at: 0,
        }
    }

    fn owned_by(owner: Option<i64>) -> Conversation {
        Conversation {
            id: ConversationId(1),
            workspace_id: WorkspaceId(1),
            inbox_id: InboxId(1),
            customer_id: CustomerId(1),
            state: if owner.is_some() {
                ConversationState::Human
            } else {
                ConversationState::Queued
            },
            assignee_id: owner.map(UserId),
            queue_id: None,
            route: None,
            pending_action: None,
            last_seq: 1,
            preview: String::new(),
            last_message_at: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn users_change_themselves_and_admins_change_others_but_never_demote_themselves() {
        let (admin, agent, other) =
            (user(1, Role::Admin), user(2, Role::Agent), user(3, Role::Agent));
        assert_eq!(may_change_user(&agent, &agent, None, None), Ok(()));
        assert_eq!(may_change_user(&agent, &other, None, None), Err(Refusal::AdminsOnly));
        assert_eq!(
            may_change_user(&agent, &agent, Some(Role::Admin), None),
            Err(Refusal::AdminsOnly)
        );
        assert_eq!(may_change_user(&admin, &other, Some(Role::Supervisor), Some(false)), Ok(()));
        assert_eq!(may_change_user(&admin, &admin, Some(Role::Admin), Some(true)), Ok(()));
        assert_eq!(
            may_change_user(&admin, &admin, Some(Role::Agent), None),
            Err(Refusal::DemoteYourself)
        );
        assert_eq!(
            may_change_user(&admin, &admin, None, Some(false)),
            Err(Refusal::DeactivateYourself)
        );
    }

    #[test]
    fn agents_take_conversations_for_themselves_and_managers_hand_them_around() {
        let (supervisor, agent) = (user(1, Role::Supervisor), user(2, Role::Agent));
        let waiting = owned_by(None);
        let assign = |to: i64| Transition::Assign { agent: UserId(to) };
        assert_eq!(may_transition(&agent, &waiting, assign(2)), Ok(()));
        assert_eq!(may_transition(&agent, &waiting, assign(3)), Err(Refusal::AssignToOthers));
        assert_eq!(may_transition(&supervisor, &waiting, assign(3)), Ok(()));
        let someone_elses = owned_by(Some(3));
        assert_eq!(
            may_transition(&agent, &someone_elses, Transition::Release),
            Err(Refusal::NotYourConversation)
        );
        assert_eq!(may_transition(&agent, &owned_by(Some(2)), Transition::Release), Ok(()));
        assert_eq!(may_transition(&supervisor, &someone_elses, Transition::Release), Ok(()));
        assert_eq!(may_transition(&agent, &someone_elses, Transition::Resolve), Ok(()));
    }

    #[test]
    fn agents_reports_cover_their_own_conversations_managers_the_workspace() {
        assert_eq!(reports_limited_to(&user(7, Role::Agent)), Some(UserId(7)));
        assert_eq!(reports_limited_to(&user(8, Role::Supervisor)), None);
        assert_eq!(reports_limited_to(&user(9, Role::Admin)), None);
    }
}
