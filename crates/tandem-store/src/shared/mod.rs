//! What both stores do alike without a connection: the Rust the SQLite and PostgreSQL modules
//! of one aggregate would otherwise each keep a copy of.
//!
//! One module per aggregate that has such logic (`attachments`, `audit`, `conversations`, `insight`,
//! `privacy`, `webhooks`), named as the backends' modules it serves, and `created` for the
//! entities a new row stands for. The SQL stays in each backend's module.

pub(crate) mod attachments;
pub(crate) mod audit;
pub(crate) mod conversations;
pub(crate) mod created;
pub(crate) mod customers;
pub(crate) mod identities;
pub(crate) mod insight;
pub(crate) mod privacy;
pub(crate) mod webhooks;
