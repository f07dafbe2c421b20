//! What the actions reader must do with any text: never panic, report unreadable files on a
//! line they have, and give only actions that pass the check again. Shared by the libFuzzer
//! target and the stable fuzz test (`#[path]`).

use tandem_bot::actions;
use tandem_domain::Problem;

pub fn parse(text: &str) {
    match actions::parse(text) {
        Ok(parsed) => {
            for action in parsed {
                let again = actions::validate(action.clone());
                assert_eq!(
                    again.as_ref(),
                    Ok(&action),
                    "a checked action changed when checked again"
                );
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            let last_line = text.matches('\n').count() + 1;
            for error in &errors {
                if let Problem::UnreadableLine { line, .. } = &error.problem {
                    assert!((1..=last_line).contains(line), "{error} is not on a line of the file");
                }
                let _ = error.to_string();
            }
        }
    }
}
