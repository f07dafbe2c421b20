//! The entity a new row stands for, from what was inserted, the id the database gave it and
//! the time it was made.

use tandem_domain::{
    ApiToken, ApiTokenId, Customer, CustomerId, Inbox, InboxId, Millis, User, UserId,
    WebhookEndpoint, WebhookEndpointId,
};

use crate::{NewApiToken, NewCustomer, NewInbox, NewUser, NewWebhookEndpoint};

/// How stale an API token's `last_used_at` may get (a minute), so a busy token costs a write a
/// minute at most.
pub(crate) const TOUCH_EVERY_MS: Millis = 60_000;

pub(crate) fn inbox(id: i64, inbox: NewInbox, now: Millis) -> Inbox {
    Inbox {
        id: InboxId(id),
        workspace_id: inbox.workspace_id,
        name: inbox.name,
        channel: inbox.channel,
        public_key: inbox.public_key,
        bot_name: inbox.bot_name,
        created_at: now,
    }
}

/// A new user: active.
pub(crate) fn user(id: i64, user: NewUser, now: Millis) -> User {
    User {
        id: UserId(id),
        workspace_id: user.workspace_id,
        email: user.email,
        display_name: user.display_name,
        role: user.role,
        locale: user.locale,
        active: true,
        created_at: now,
    }
}

/// A new API token: never used, not revoked.
pub(crate) fn api_token(id: i64, token: NewApiToken, now: Millis) -> ApiToken {
    ApiToken {
        id: ApiTokenId(id),
        user_id: token.user_id,
        name: token.name,
        scope: token.scope,
        created_at: now,
        expires_at: token.expires_at,
        last_used_at: None,
        revoked_at: None,
    }
}

/// A new customer: anonymous (no external id, not verified).
pub(crate) fn customer(id: i64, customer: NewCustomer, now: Millis) -> Customer {
    Customer {
        id: CustomerId(id),
        workspace_id: customer.workspace_id,
        name: customer.name,
        email: customer.email,
        locale: customer.locale,
        attributes: customer.attributes,
        created_at: now,
        external_id: None,
        verified: false,
    }
}

pub(crate) fn webhook_endpoint(
    id: i64,
    endpoint: NewWebhookEndpoint,
    now: Millis,
) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookEndpointId(id),
        workspace_id: endpoint.workspace_id,
        url: endpoint.url,
        description: endpoint.description,
        events: endpoint.events,
        active: endpoint.active,
        inbox_id: endpoint.inbox_id,
        created_at: now,
        updated_at: now,
    }
}
