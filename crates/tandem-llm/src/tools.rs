//! Tool calling over the workspace's business actions: when the built-in engine finds nothing
//! good enough, the model may recognise a request for one of the actions that the engine's
//! trigger phrases missed ("包裹三天没动静了，单号 20241124003"). The model only *chooses*:
//! the action then runs exactly as if the engine had picked it, with the same parameter
//! validation, identity rules and slot filling, and replies from its own templates. An
//! argument the model gives is kept only if it passes the parameter's validation and the
//! customer actually wrote it; anything else is asked for as usual.

use serde_json::json;
use tandem_domain::{Action, Locale, ParamKind};

use crate::{ChatMessage, ToolCall, ToolDefinition};

/// The function name of an action: its key, in the characters function names allow.
pub fn function_name(action: &Action) -> String {
    action.key.replace('.', "_").chars().take(64).collect()
}

/// The functions the model may call: each enabled action, with the parameters a customer
/// gives (not those taken from the profile, nor the identity check's).
pub fn tool_definitions(actions: &[Action]) -> Vec<ToolDefinition> {
    actions
        .iter()
        .filter(|action| action.enabled)
        .map(|action| {
            let mut properties = serde_json::Map::new();
            for param in action.params.iter().filter(|param| param.from_profile.is_none()) {
                let kind = match param.kind {
                    ParamKind::Text => "free text",
                    ParamKind::OrderNumber => "an order number (digits)",
                    ParamKind::Phone => "a mobile phone number",
                    ParamKind::Email => "an e-mail address",
                    ParamKind::Number => "a number",
                };
                let description = format!("{kind}; {}", param.ask.get(Locale::En));
                properties.insert(
                    param.name.clone(),
                    json!({"type": "string", "description": description}),
                );
            }
            let examples = action.triggers.iter().take(5).cloned().collect::<Vec<_>>().join(" / ");
            ToolDefinition {
                name: function_name(action),
                description: format!(
                    "{}. {} Customers ask for it like: {examples}",
                    action.name, action.description
                ),
                parameters: json!({"type": "object", "properties": properties, "required": []}),
            }
        })
        .collect()
}

/// The prompt: the customer's recent messages, and the rule that the model calls a function
/// only for a clear request and never makes up an argument.
pub fn tool_messages(message: &str, earlier: &[&str]) -> Vec<ChatMessage> {
    let mut system = String::from(
        "You connect a customer-service chat to the business's functions. Call a function only \
         when the customer's last message clearly asks for what it does. Fill in only arguments \
         the customer wrote; leave out anything they did not say. If no function fits, reply \
         with exactly NO_ANSWER.",
    );
    if !earlier.is_empty() {
        system.push_str("\n\nThe customer's earlier messages, oldest first:\n");
        for text in earlier {
            system.push_str(&format!("- {text}\n"));
        }
    }
    vec![ChatMessage::system(system), ChatMessage::user(message)]
}

/// The action a call names, among `actions` (enabled ones only).
pub fn chosen<'a>(call: &ToolCall, actions: &'a [Action]) -> Option<&'a Action> {
    actions.iter().find(|action| action.enabled && function_name(action) == call.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_domain::{ActionParam, ActionReplies, Texts};

    fn action(key: &str) -> Action {
        Action {
            key: key.into(),
            name: "Order status".into(),
            description: "Where an order is".into(),
            triggers: vec!["where is my order".into()],
            params: vec![
                ActionParam {
                    name: "order_number".into(),
                    kind: ParamKind::OrderNumber,
                    pattern: Some(r"\d{11}".into()),
                    from_profile: None,
                    ask: Texts { zh: "请提供订单号".into(), en: "Your order number?".into() },
                },
                ActionParam {
                    name: "user".into(),
                    kind: ParamKind::Text,
                    pattern: None,
                    from_profile: Some("external_id".into()),
                    ask: Texts::default(),
                },
            ],
            steps: Vec::new(),
            replies: ActionReplies::default(),
            requires_verified: false,
            identity_check: None,
            policy_article: None,
            enabled: true,
            updated_at: 0,
        }
    }

    #[test]
    fn definitions_leave_out_profile_parameters_and_disabled_actions() {
        let mut off = action("returns.v2");
        off.enabled = false;
        let tools = tool_definitions(&[action("order-status"), off]);
        assert_eq!(tools.len(), 1);
        assert_eq!(tools[0].name, "order-status");
        assert_eq!(tools[0].parameters["properties"].as_object().unwrap().len(), 1);
        assert!(tools[0].description.contains("where is my order"));
        assert_eq!(function_name(&action("returns.v2")), "returns_v2");
    }
}
