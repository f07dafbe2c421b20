//! Customers' identities as both stores record them.

use tandem_domain::IdentityKind;

/// An identity a merge moved to the kept customer, recorded with the merge (as JSON) so that
/// undoing it moves the identity back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct MovedIdentity {
    pub kind: IdentityKind,
    pub value: String,
}
