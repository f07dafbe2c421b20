//! The escalation policy form as typed: the stored policy shown as text, the posted fields read
//! back (check boxes repeat their name), and the policy they describe, checked.

use tandem_domain::validate;
use tandem_domain::{EscalationPolicy, Problem, Reason, ValidationError};

use crate::console::fields::{number, split_list, whole_number};

/// The policy form as typed, so that a refused form comes back unchanged.
#[derive(Debug, Default)]
pub(super) struct PolicyForm {
    pub(super) hand_off_on: Vec<String>,
    pub(super) approve_on: Vec<String>,
    pub(super) abstains_in_a_row: String,
    pub(super) repeats: String,
    pub(super) didnt_help: String,
    pub(super) anger_turns: String,
    pub(super) negative_sentiment: String,
    /// Separated by commas.
    pub(super) vip_tiers: String,
}

impl PolicyForm {
    pub(super) fn from_policy(policy: &EscalationPolicy) -> PolicyForm {
        PolicyForm {
            hand_off_on: codes(&policy.hand_off_on),
            approve_on: codes(&policy.approve_on),
            abstains_in_a_row: policy.abstains_in_a_row.to_string(),
            repeats: policy.repeats.to_string(),
            didnt_help: policy.didnt_help.to_string(),
            anger_turns: policy.anger_turns.to_string(),
            negative_sentiment: format!("{:.2}", policy.negative_sentiment),
            vip_tiers: policy.vip_tiers.join(", "),
        }
    }

    /// From the posted fields; check boxes repeat their name once per checked box.
    pub(super) fn from_fields(fields: Vec<(String, String)>) -> PolicyForm {
        let mut form = PolicyForm::default();
        for (name, value) in fields {
            match name.as_str() {
                "hand_off_on" => form.hand_off_on.push(value),
                "approve_on" => form.approve_on.push(value),
                "abstains_in_a_row" => form.abstains_in_a_row = value,
                "repeats" => form.repeats = value,
                "didnt_help" => form.didnt_help = value,
                "anger_turns" => form.anger_turns = value,
                "negative_sentiment" => form.negative_sentiment = value,
                "vip_tiers" => form.vip_tiers = value,
                _ => {}
            }
        }
        form
    }

    /// The policy the form describes, checked.
    pub(super) fn policy(&self) -> Result<EscalationPolicy, ValidationError> {
        let count = |field, text: &str| whole_number::<u32>(field, text);
        let negative_sentiment = number("negative_sentiment", &self.negative_sentiment)?;
        validate::escalation_policy(EscalationPolicy {
            hand_off_on: reasons("hand_off_on", &self.hand_off_on)?,
            approve_on: reasons("approve_on", &self.approve_on)?,
            abstains_in_a_row: count("abstains_in_a_row", &self.abstains_in_a_row)?,
            repeats: count("repeats", &self.repeats)?,
            didnt_help: count("didnt_help", &self.didnt_help)?,
            anger_turns: count("anger_turns", &self.anger_turns)?,
            negative_sentiment,
            vip_tiers: split_list(&self.vip_tiers),
            updated_at: 0,
        })
    }
}

fn codes(reasons: &[Reason]) -> Vec<String> {
    reasons.iter().map(|reason| reason.as_str().to_owned()).collect()
}

/// The reasons of the checked boxes.
fn reasons(field: &'static str, codes: &[String]) -> Result<Vec<Reason>, ValidationError> {
    codes
        .iter()
        .map(|code| {
            Reason::parse(code.trim()).ok_or_else(|| {
                let known: Vec<&str> =
                    Reason::OF_A_MESSAGE.iter().map(|reason| reason.as_str()).collect();
                ValidationError::new(field, Problem::not_one_of(code.trim(), &known))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::PolicyForm;

    #[test]
    fn policy_forms_keep_what_was_typed() {
        // The token is among the fields (`CsrfForm` checked it); the policy form ignores it.
        let form = PolicyForm::from_fields(vec![
            ("csrf".into(), "token".into()),
            ("hand_off_on".into(), "complaint".into()),
            ("hand_off_on".into(), "asks_for_human".into()),
            ("approve_on".into(), "regulated_legal".into()),
            ("abstains_in_a_row".into(), "2".into()),
            ("repeats".into(), "3".into()),
            ("didnt_help".into(), "1".into()),
            ("anger_turns".into(), "2".into()),
            ("negative_sentiment".into(), "-0.8".into()),
            ("vip_tiers".into(), "VIP, gold".into()),
        ]);
        let policy = form.policy().unwrap();
        assert_eq!(
            policy.hand_off_on,
            [tandem_domain::Reason::AsksForHuman, tandem_domain::Reason::Complaint]
        );
        assert_eq!(policy.vip_tiers, ["vip", "gold"]);
        assert_eq!(policy.repeats, 3);
        let bad = PolicyForm { anger_turns: "many".into(), ..form };
        assert_eq!(bad.policy().unwrap_err().field, "anger_turns");
    }
}
