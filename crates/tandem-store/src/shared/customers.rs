//! Merging two customers as both stores do it: which merges are allowed, which of the kept
//! customer's empty fields the merged one fills, and how an undo takes them back.

use std::collections::BTreeMap;

use tandem_domain::{Customer, CustomerId, Locale};

use crate::{Conflict, Entity, StoreError, StoreResult};

/// The columns of `customer_merges`, in the order [`crate::CustomerMerge`] is read.
pub(crate) const MERGE_COLUMNS: &str = "id, workspace_id, keep_id, merged_id, conversation_ids, \
     filled, by_user_id, at, undone_at, undone_by";

/// How many merges a session's customer may be followed through to the one kept.
pub(crate) const MAX_HOPS: usize = 16;

/// Refuses a merge of `merged` into `keep` unless both were found in the workspace (with the
/// customer each was merged into, if any), differ, and neither was merged away.
pub(crate) fn check(
    keep: CustomerId,
    merged: CustomerId,
    found_keep: Option<Option<i64>>,
    found_merged: Option<Option<i64>>,
) -> StoreResult<()> {
    if keep == merged {
        return Err(Conflict::MergeIntoItself(keep).into());
    }
    let (Some(keep_into), Some(merged_into)) = (found_keep, found_merged) else {
        return Err(StoreError::NotFound(Entity::Customer));
    };
    if keep_into.is_some() {
        return Err(Conflict::CustomerMergedAway(keep).into());
    }
    if merged_into.is_some() {
        return Err(Conflict::CustomerMergedAway(merged).into());
    }
    Ok(())
}

/// Fills `keep`'s empty email, locale and external id and the attributes it lacks from
/// `merged`; returns what was filled, with the values. The external id moves (it is unique
/// per workspace): the caller clears it on `merged` when `filled` names it.
pub(crate) fn fill(keep: &mut Customer, merged: &Customer) -> BTreeMap<String, String> {
    let mut filled = BTreeMap::new();
    if keep.email.is_none()
        && let Some(email) = &merged.email
    {
        keep.email = Some(email.clone());
        filled.insert("email".to_owned(), email.clone());
    }
    if keep.locale.is_none()
        && let Some(locale) = merged.locale
    {
        keep.locale = Some(locale);
        filled.insert("locale".to_owned(), locale.as_str().to_owned());
    }
    if keep.external_id.is_none()
        && let Some(external_id) = &merged.external_id
    {
        keep.external_id = Some(external_id.clone());
        filled.insert("external_id".to_owned(), external_id.clone());
    }
    for (key, value) in &merged.attributes {
        if !keep.attributes.contains_key(key) {
            keep.attributes.insert(key.clone(), value.clone());
            filled.insert(format!("attributes.{key}"), value.clone());
        }
    }
    filled
}

/// Takes back from `keep` what a merge filled (a field changed since is left as it is).
/// Returns the external id to give back to the merged customer, if the merge moved one.
pub(crate) fn unfill(keep: &mut Customer, filled: &BTreeMap<String, String>) -> Option<String> {
    let mut external_id = None;
    for (field, value) in filled {
        match field.as_str() {
            "email" if keep.email.as_ref() == Some(value) => keep.email = None,
            "locale" if keep.locale.map(Locale::as_str) == Some(value.as_str()) => {
                keep.locale = None
            }
            "external_id" => {
                if keep.external_id.as_ref() == Some(value) {
                    keep.external_id = None;
                }
                external_id = Some(value.clone());
            }
            other => {
                if let Some(key) = other.strip_prefix("attributes.")
                    && keep.attributes.get(key) == Some(value)
                {
                    keep.attributes.remove(key);
                }
            }
        }
    }
    external_id
}

/// A `customer_merges` row's values, in [`MERGE_COLUMNS`] order.
pub(crate) struct MergeRow {
    pub id: i64,
    pub workspace_id: i64,
    pub keep_id: i64,
    pub merged_id: i64,
    pub conversation_ids: String,
    pub filled: String,
    pub by_user_id: Option<i64>,
    pub at: i64,
    pub undone_at: Option<i64>,
    pub undone_by: Option<i64>,
}

impl MergeRow {
    pub(crate) fn merge(self) -> StoreResult<crate::CustomerMerge> {
        let conversations: Vec<i64> =
            serde_json::from_str(&self.conversation_ids).map_err(StoreError::database)?;
        Ok(crate::CustomerMerge {
            id: self.id,
            workspace_id: tandem_domain::WorkspaceId(self.workspace_id),
            keep: CustomerId(self.keep_id),
            merged: CustomerId(self.merged_id),
            conversations: conversations.into_iter().map(tandem_domain::ConversationId).collect(),
            filled: serde_json::from_str(&self.filled).map_err(StoreError::database)?,
            by: self.by_user_id.map(tandem_domain::UserId),
            at: self.at,
            undone_at: self.undone_at,
            undone_by: self.undone_by.map(tandem_domain::UserId),
        })
    }
}
