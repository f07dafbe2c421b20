//! An agent's routing row as typed: skills and a capacity per channel, read back into the
//! agent's routing record.

use std::collections::BTreeMap;

use serde::Deserialize;
use tandem_domain::validate;
use tandem_domain::{AgentRouting, Channel, ValidationError};

use super::text_formats::parse_skills;
use crate::console::fields::whole_number;

/// An agent's row as posted, kept to show it again when saving it failed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct AgentForm {
    #[serde(default)]
    pub(super) skills: String,
    #[serde(default)]
    pub(super) capacity_web: String,
    #[serde(default)]
    pub(super) capacity_email: String,
    #[serde(default)]
    pub(super) capacity_api: String,
}

impl AgentForm {
    pub(super) fn capacity(&self, channel: &str) -> &str {
        match channel {
            "web" => &self.capacity_web,
            "email" => &self.capacity_email,
            _ => &self.capacity_api,
        }
    }

    /// `routing` with the skills and capacity the form describes, checked. Presence is the
    /// agent's own: it stays as it is.
    pub(super) fn apply(&self, routing: AgentRouting) -> Result<AgentRouting, ValidationError> {
        let skills = parse_skills(&self.skills)?;
        let mut capacity = BTreeMap::new();
        for &channel in Channel::ALL {
            let count = whole_number("capacity", self.capacity(channel.as_str()))?;
            capacity.insert(channel, count);
        }
        Ok(AgentRouting { skills, capacity: validate::capacity(&capacity)?, ..routing })
    }
}
