//! Why the router refused a change.

use tandem_domain::{Channel, ConversationId, QueueId, UserId};

/// A change the router refused; its state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    #[error("unknown agent {0}")]
    UnknownAgent(UserId),
    #[error("agent {0} is already known")]
    DuplicateAgent(UserId),
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    #[error("queue {0} still has conversations")]
    QueueInUse(QueueId),
    #[error("unknown conversation {0}")]
    UnknownConversation(ConversationId),
    #[error("conversation {0} is already known")]
    DuplicateConversation(ConversationId),
    #[error("conversation {0} is not assigned to anyone")]
    NotAssigned(ConversationId),
    #[error("conversation {0} is not waiting")]
    NotWaiting(ConversationId),
    #[error("conversation {conversation} is already assigned to agent {agent}")]
    AlreadyAssigned { conversation: ConversationId, agent: UserId },
    #[error("agent {0} is not online")]
    AgentUnavailable(UserId),
    #[error("agent {agent} has no spare capacity on {}", channel.as_str())]
    NoCapacity { agent: UserId, channel: Channel },
    #[error("invalid routing settings: {0}")]
    Invalid(String),
}
