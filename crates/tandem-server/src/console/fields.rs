//! Reading what people type into console form fields: lists separated by commas, and the
//! validation error that names the field a refused value was typed in. Shared by the settings
//! forms that keep text as typed (the escalation policy, routing).

use tandem_domain::ValidationError;

/// A refused value of `field`, with why.
pub fn invalid(field: &'static str, reason: impl Into<String>) -> ValidationError {
    ValidationError { field, reason: reason.into() }
}

/// Items separated by commas (ASCII or Chinese) or line breaks, trimmed, blanks dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，', '、', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}
