//! The conversation ownership state machine.
//!
//! A conversation is owned by exactly one party at a time: the bot, the queue (waiting for a
//! person), a human agent, or nobody (resolved). Every change of owner goes through
//! [`Ownership::apply`], so the rule "the AI never speaks while a person owns the conversation"
//! and "a conversation is never assigned twice" live in one pure function.
//!
//! ```text
//!            escalate              assign(agent)
//!   Bot ──────────────► Queued ──────────────────► Human(agent)
//!    ▲  ◄──────────────   │ ▲ ◄───────────────────  │  │
//!    │     hand back      │ │        release        │  │ assign(other agent) = transfer
//!    │                    │ └───────────────────────┘  │
//!    │ reopen             ▼ resolve (from any open)    ▼
//!    └──────────────── Resolved ◄──────────────────────┘
//! ```
//!
//! An agent may also take a conversation straight from the bot (`assign` from `Bot`), and hand
//! a queued or human-owned conversation back to the bot.

use serde::{Deserialize, Serialize};

use crate::UserId;

/// Who currently owns a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// The bot answers the customer.
    Bot,
    /// Waiting in a queue for a person; the bot stays silent.
    Queued,
    /// A person owns the conversation; the bot stays silent.
    Human,
    /// Closed. A new customer message reopens it.
    Resolved,
}

impl ConversationState {
    pub const ALL: [ConversationState; 4] = [Self::Bot, Self::Queued, Self::Human, Self::Resolved];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Queued => "queued",
            Self::Human => "human",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether the bot may post a reply in this state.
    pub fn bot_may_reply(self) -> bool {
        self == Self::Bot
    }
}

impl std::fmt::Display for ConversationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to change who owns a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Transition {
    /// The bot (or the customer) asks for a person: the conversation waits in the queue.
    Escalate,
    /// A person takes the conversation, from the bot, the queue, or another agent (transfer).
    Assign { agent: UserId },
    /// The assigned agent puts the conversation back into the queue.
    Release,
    /// A person hands the conversation back to the bot.
    HandBack,
    /// The conversation is done.
    Resolve,
    /// A resolved conversation starts again with the bot.
    Reopen,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Escalate => "escalate",
            Self::Assign { .. } => "assign",
            Self::Release => "release",
            Self::HandBack => "hand_back",
            Self::Resolve => "resolve",
            Self::Reopen => "reopen",
        }
    }
}

/// A transition that the current owner does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {transition} a conversation that is {from}")]
pub struct TransitionError {
    pub from: &'static str,
    pub transition: &'static str,
}

/// The owner of a conversation: its state and, exactly when the state is `Human`, the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Ownership {
    pub state: ConversationState,
    pub assignee: Option<UserId>,
}

impl Ownership {
    pub const BOT: Ownership = Ownership { state: ConversationState::Bot, assignee: None };

    pub fn human(agent: UserId) -> Ownership {
        Ownership { state: ConversationState::Human, assignee: Some(agent) }
    }

    fn only(state: ConversationState) -> Ownership {
        Ownership { state, assignee: None }
    }

    /// Applies `transition`, returning the new owner or why the transition is illegal.
    pub fn apply(self, transition: Transition) -> Result<Ownership, TransitionError> {
        use ConversationState::*;
        let next = match (self.state, transition) {
            (Bot, Transition::Escalate) => Some(Self::only(Queued)),
            (Bot | Queued, Transition::Assign { agent }) => Some(Self::human(agent)),
            // Assigning to the agent who already owns it is refused, so that two agents
            // clicking "assign to me" at once cannot both believe they won.
            (Human, Transition::Assign { agent }) if self.assignee != Some(agent) => {
                Some(Self::human(agent))
            }
            (Human, Transition::Release) => Some(Self::only(Queued)),
            (Queued | Human, Transition::HandBack) => Some(Self::BOT),
            (Bot | Queued | Human, Transition::Resolve) => Some(Self::only(Resolved)),
            (Resolved, Transition::Reopen) => Some(Self::BOT),
            _ => None,
        };
        next.ok_or(TransitionError { from: self.state.as_str(), transition: transition.name() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConversationState::*;

    const ALICE: UserId = UserId(1);
    const BOB: UserId = UserId(2);

    fn owner(state: ConversationState) -> Ownership {
        match state {
            Human => Ownership::human(ALICE),
            other => Ownership::only(other),
        }
    }

    fn all_transitions() -> [Transition; 7] {
        [
            Transition::Escalate,
            Transition::Assign { agent: ALICE },
            Transition::Assign { agent: BOB },
            Transition::Release,
            Transition::HandBack,
            Transition::Resolve,
            Transition::Reopen,
        ]
    }

    /// The whole table: every (state, transition) pair and its expected result, `None` meaning
    /// illegal. Any change to the machine must change this table.
    fn expected(state: ConversationState, transition: Transition) -> Option<Ownership> {
        match (state, transition) {
            (Bot, Transition::Escalate) => Some(owner(Queued)),
            (Bot, Transition::Assign { agent }) => Some(Ownership::human(agent)),
            (Bot, Transition::Resolve) => Some(owner(Resolved)),
            (Queued, Transition::Assign { agent }) => Some(Ownership::human(agent)),
            (Queued, Transition::HandBack) => Some(Ownership::BOT),
            (Queued, Transition::Resolve) => Some(owner(Resolved)),
            (Human, Transition::Assign { agent: BOB }) => Some(Ownership::human(BOB)),
            (Human, Transition::Release) => Some(owner(Queued)),
            (Human, Transition::HandBack) => Some(Ownership::BOT),
            (Human, Transition::Resolve) => Some(owner(Resolved)),
            (Resolved, Transition::Reopen) => Some(Ownership::BOT),
            _ => None,
        }
    }

    #[test]
    fn every_state_and_transition_pair_matches_the_table() {
        let mut legal = 0;
        for state in ConversationState::ALL {
            for transition in all_transitions() {
                let result = owner(state).apply(transition).ok();
                assert_eq!(result, expected(state, transition), "{state:?} + {transition:?}");
                legal += usize::from(result.is_some());
            }
        }
        assert_eq!(legal, 13, "number of legal (state, transition) pairs");
    }

    #[test]
    fn assignee_is_set_exactly_when_a_person_owns_the_conversation() {
        for state in ConversationState::ALL {
            for transition in all_transitions() {
                if let Ok(next) = owner(state).apply(transition) {
                    assert_eq!(next.assignee.is_some(), next.state == Human, "{next:?}");
                }
            }
        }
    }

    #[test]
    fn illegal_transition_names_state_and_action() {
        let error = owner(Resolved).apply(Transition::Resolve).unwrap_err();
        assert_eq!(error.to_string(), "cannot resolve a conversation that is resolved");
        let error = owner(Human).apply(Transition::Assign { agent: ALICE }).unwrap_err();
        assert_eq!(error.transition, "assign");
    }

    #[test]
    fn only_the_bot_state_lets_the_bot_reply() {
        let speaking: Vec<_> =
            ConversationState::ALL.into_iter().filter(|state| state.bot_may_reply()).collect();
        assert_eq!(speaking, vec![Bot]);
    }

    #[test]
    fn state_names_round_trip() {
        for state in ConversationState::ALL {
            assert_eq!(ConversationState::parse(state.as_str()), Some(state));
        }
        assert_eq!(ConversationState::parse("closed"), None);
    }
}
