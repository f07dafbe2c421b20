//! The short text formats of the routing forms: skills with levels (`refunds:4, lang:zh:5`) and
//! minutes (`5`, `0.5`), read into stored values and written back as people type them.

use std::collections::BTreeMap;

use tandem_domain::validate;
use tandem_domain::{Problem, SkillLevels, ValidationError};

/// What is typed in a form field for skills, read (the rules live with the domain's type).
pub(super) fn parse_skills(text: &str) -> Result<BTreeMap<String, u8>, ValidationError> {
    let skills =
        text.parse::<SkillLevels>().map_err(|problem| ValidationError::new("skills", problem))?;
    validate::skill_levels(&skills.0)
}

pub(super) fn format_skills(skills: &BTreeMap<String, u8>) -> String {
    SkillLevels(skills.clone()).to_string()
}

/// Minutes as typed (`5`, `0.5`) to milliseconds.
pub(super) fn parse_minutes(field: &'static str, text: &str) -> Result<i64, ValidationError> {
    let text = text.trim();
    match text.parse::<f64>() {
        Ok(minutes) if minutes.is_finite() && minutes >= 0.0 => {
            Ok((minutes * 60_000.0).round() as i64)
        }
        _ => Err(ValidationError::new(field, Problem::NotANumber { value: text.to_owned() })),
    }
}

pub(super) fn format_minutes(millis: i64) -> String {
    if millis % 60_000 == 0 {
        return (millis / 60_000).to_string();
    }
    let text = format!("{:.2}", millis as f64 / 60_000.0);
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_read_and_written_as_typed() {
        assert_eq!(parse_minutes("sla_minutes", " 5 "), Ok(300_000));
        assert_eq!(parse_minutes("sla_minutes", "0.5"), Ok(30_000));
        assert!(parse_minutes("sla_minutes", "soon").is_err());
        assert_eq!(format_minutes(300_000), "5");
        assert_eq!(format_minutes(30_000), "0.5");
    }
}
