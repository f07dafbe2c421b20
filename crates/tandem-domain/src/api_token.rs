//! API tokens: what a token may do (its scope) and whether it still works.
//!
//! A token acts as its user, but never with more than its scope allows: `read_only` only
//! reads (GET and HEAD) and acts as an agent at most, `agent` acts as an agent at most, and
//! `admin` acts with the user's own role.

use serde::{Deserialize, Serialize};

use crate::entities::{id_type, string_enum};
use crate::{Millis, Role, User, UserId};

id_type! {
    /// An API token (its id, never its secret).
    ApiTokenId;
}

string_enum! {
    /// At most what an API token may do.
    TokenScope {
        /// Reads only (GET and HEAD), as an agent at most.
        ReadOnly = "read_only",
        /// As an agent at most.
        Agent = "agent",
        /// With the user's own role.
        Admin = "admin",
    }
}

impl TokenScope {
    /// The role a token of this scope acts with for a user of `role`.
    pub fn cap(self, role: Role) -> Role {
        match self {
            TokenScope::Admin => role,
            TokenScope::Agent | TokenScope::ReadOnly => Role::Agent,
        }
    }

    /// Whether a token of this scope may change anything (a method other than GET and HEAD).
    pub fn may_write(self) -> bool {
        self != TokenScope::ReadOnly
    }

    /// The widest scope that keeps what a user of `role` may do today: `admin` (the user's
    /// own role) for admins and supervisors, `agent` for agents.
    pub fn of_role(role: Role) -> TokenScope {
        match role {
            Role::Agent => TokenScope::Agent,
            Role::Admin | Role::Supervisor => TokenScope::Admin,
        }
    }

    /// Whether a caller whose own scope is `self` may create a token of `scope`: never one
    /// that may do more than the caller's.
    pub fn covers(self, scope: TokenScope) -> bool {
        scope <= self
    }
}

/// Whether a token still works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// An API token as its owner and admins see it; the secret is shown only when created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub scope: TokenScope,
    pub created_at: Millis,
    /// When it stops working; never when `None`.
    pub expires_at: Option<Millis>,
    /// When it was last used (kept to the minute).
    pub last_used_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

impl ApiToken {
    pub fn status(&self, now: Millis) -> TokenStatus {
        if self.revoked_at.is_some() {
            TokenStatus::Revoked
        } else if self.expires_at.is_some_and(|expires_at| expires_at <= now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }
}

/// Whether `actor` may see or revoke `token` of `owner`: their own, or, for admins, any of
/// their workspace's.
pub fn may_manage_token(actor: &User, owner: &User) -> bool {
    actor.id == owner.id || (actor.is_admin() && actor.workspace_id == owner.workspace_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_cap_the_role_and_only_cover_narrower_scopes() {
        assert_eq!(TokenScope::Admin.cap(Role::Supervisor), Role::Supervisor);
        assert_eq!(TokenScope::Admin.cap(Role::Admin), Role::Admin);
        assert_eq!(TokenScope::Agent.cap(Role::Admin), Role::Agent);
        assert_eq!(TokenScope::ReadOnly.cap(Role::Admin), Role::Agent);
        assert!(!TokenScope::ReadOnly.may_write());
        assert!(TokenScope::Agent.may_write());
        assert!(TokenScope::Admin.covers(TokenScope::ReadOnly));
        assert!(TokenScope::Agent.covers(TokenScope::Agent));
        assert!(!TokenScope::Agent.covers(TokenScope::Admin));
        assert!(!TokenScope::ReadOnly.covers(TokenScope::Agent));
        assert_eq!(TokenScope::of_role(Role::Supervisor), TokenScope::Admin);
        assert_eq!(TokenScope::of_role(Role::Agent), TokenScope::Agent);
    }

    #[test]
    fn revoked_wins_over_expired() {
        let token = ApiToken {
            id: ApiTokenId(1),
            user_id: UserId(1),
            name: "ci".into(),
            scope: TokenScope::Agent,
            created_at: 0,
            expires_at: Some(100),
            last_used_at: None,
            revoked_at: None,
        };
        assert_eq!(token.status(99), TokenStatus::Active);
        assert_eq!(token.status(100), TokenStatus::Expired);
        let revoked = ApiToken { revoked_at: Some(50), ..token };
        assert_eq!(revoked.status(200), TokenStatus::Revoked);
    }
}
