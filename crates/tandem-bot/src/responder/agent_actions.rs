//! Business actions an agent runs from the assist panel: the same connectors the bot runs, with
//! the parameters the conversation already gives (the customer's messages, newest first, and
//! their profile) and the same identity rules. The result goes to the agent first: the reply
//! the bot would have sent, for the agent to insert, edit and send, and the call's record.

use std::collections::BTreeMap;

use tandem_domain::{Action, ActionRecord, Customer, Locale, WorkspaceId};
use tandem_store::StoreError;

use super::KnowledgeResponder;
use crate::actions;

/// An enabled action as the panel offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedAction {
    pub key: String,
    pub name: String,
    /// Parameters found in the conversation, by name (as the action record shows them).
    pub found: BTreeMap<String, String>,
    /// Parameters still missing (the customer has not given them): it cannot run yet.
    pub missing: Vec<String>,
    /// The action needs a signed-in (verified) customer and this one is not.
    pub needs_verified_customer: bool,
}

impl OfferedAction {
    pub fn runnable(&self) -> bool {
        self.missing.is_empty() && !self.needs_verified_customer
    }
}

/// What running an action for an agent gave.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRun {
    /// The reply the bot would have sent the customer.
    pub reply: String,
    pub record: ActionRecord,
}

/// Why an action did not run for an agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentActionError {
    #[error("no enabled action has this key")]
    NotFound,
    #[error("the action needs a verified customer")]
    NeedsVerifiedCustomer,
    #[error("the conversation does not give the action's parameters: {0:?}")]
    Missing(Vec<String>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The action's parameters from `texts` (newest first) and the customer's profile, and the
/// names of those still missing.
fn gathered(
    action: &Action,
    customer: &Customer,
    texts: &[&str],
) -> (BTreeMap<String, String>, Vec<String>) {
    let mut values = BTreeMap::new();
    let mut missing = actions::gather(action, &mut values, customer, "");
    for text in texts {
        if missing.is_none() {
            break;
        }
        missing = actions::gather(action, &mut values, customer, text);
    }
    let missing = actions::needed_params(action, customer)
        .into_iter()
        .filter(|param| !values.contains_key(&param.name))
        .map(|param| param.name.clone())
        .collect();
    (values, missing)
}

fn offered(action: &Action, customer: &Customer, texts: &[&str]) -> OfferedAction {
    let (found, missing) = gathered(action, customer, texts);
    OfferedAction {
        key: action.key.clone(),
        name: action.name.clone(),
        found,
        missing,
        needs_verified_customer: action.requires_verified
            && !customer.verified
            && action.identity_check.is_none(),
    }
}

impl KnowledgeResponder {
    /// The workspace's enabled actions with what the conversation gives them, for the panel.
    /// `texts` are the customer's messages, newest first.
    pub async fn actions_for_agent(
        &self,
        workspace: WorkspaceId,
        customer: &Customer,
        texts: &[&str],
    ) -> Result<Vec<OfferedAction>, StoreError> {
        Ok(self
            .store
            .actions(workspace)
            .await?
            .iter()
            .filter(|action| action.enabled)
            .map(|action| offered(action, customer, texts))
            .collect())
    }

    /// Runs the enabled action `key` for an agent with the parameters the conversation gives;
    /// nothing is sent to the customer.
    pub async fn run_for_agent(
        &self,
        workspace: WorkspaceId,
        key: &str,
        customer: &Customer,
        texts: &[&str],
        locale: Locale,
    ) -> Result<AgentRun, AgentActionError> {
        let action = self
            .store
            .actions(workspace)
            .await?
            .into_iter()
            .find(|action| action.key == key && action.enabled)
            .ok_or(AgentActionError::NotFound)?;
        let offer = offered(&action, customer, texts);
        if offer.needs_verified_customer {
            return Err(AgentActionError::NeedsVerifiedCustomer);
        }
        if !offer.missing.is_empty() {
            return Err(AgentActionError::Missing(offer.missing));
        }
        let when = (locale, (self.clock)(), customer.verified);
        let run = actions::execute(&self.http, &self.secrets, &action, &offer.found, when).await;
        // A hand-off the action would ask for means nothing here: a person is already answering.
        Ok(AgentRun { reply: run.reply, record: run.record })
    }
}
