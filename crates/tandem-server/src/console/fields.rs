//! Reading what people type into console form fields: lists separated by commas, and numbers
//! that name their field when they do not read. Shared by the settings forms that keep text as
//! typed (the escalation policy, routing, the model settings).

use std::str::FromStr;

use tandem_domain::{Problem, ValidationError};

/// A number typed in `field`; other text is refused as not a number.
pub fn number<T: FromStr>(field: &'static str, text: &str) -> Result<T, ValidationError> {
    read(field, text, |value| Problem::NotANumber { value })
}

/// A whole number typed in `field`; other text (a fraction too) is refused as not one.
pub fn whole_number<T: FromStr>(field: &'static str, text: &str) -> Result<T, ValidationError> {
    read(field, text, |value| Problem::NotAWholeNumber { value })
}

fn read<T: FromStr>(
    field: &'static str,
    text: &str,
    refused: fn(String) -> Problem,
) -> Result<T, ValidationError> {
    let text = text.trim();
    text.parse().map_err(|_| ValidationError::new(field, refused(text.to_owned())))
}

/// Items separated by commas (ASCII or Chinese) or line breaks, trimmed, blanks dropped.
pub fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，', '、', '\n'])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}
