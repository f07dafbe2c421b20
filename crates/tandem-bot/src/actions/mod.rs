//! Business actions: declarative connectors to the business's own systems.
//!
//! - [`definition`]: what a business writes, checked ([`validate`]) and read from files ([`parse`]);
//! - [`slots`]: the parameters, found in what the customer wrote or in their profile, and asked
//!   for when missing;
//! - [`http`]: the calls to the business's endpoints and the reply made from their answers.

pub mod definition;
pub mod http;
pub mod slots;

pub use definition::{ActionError, parse, validate};
pub use http::{ENV_PREFIX, Run, Secrets, environment, execute, reply_text};
pub use slots::{MAX_TRIES, chosen_values, find_param, gather, needed_params, profile_value};
