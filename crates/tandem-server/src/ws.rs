//! The WebSockets: `/api/v1/widget/ws` for customers and `/api/v1/console/ws` for agents.
//!
//! Frames are JSON text. A widget connects with `after_seq` (the last seq it has) and first
//! receives everything after it, then live changes; whenever a live message skips ahead of what
//! the socket has sent, the gap is read from the store, so a reconnecting client misses
//! nothing. Both sockets use small buffers so that idle connections stay cheap.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message as Frame, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tandem_domain::{
    Conversation, ConversationId, ConversationState, Customer, Inbox, Message, UserId,
};
use tandem_flow::Draft;
use tandem_store::Change;
use tokio::sync::broadcast;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api::Errors;
use crate::api::widget::{self, SendRequest, WidgetConversation};
use crate::auth::{Agent, WidgetIdentity};
use crate::error::{ApiError, ApiQuery, ApiResult, ErrorCode};
use crate::hub::{Push, WidgetPush};

/// How often the server pings, so that dead connections are noticed and proxies keep the
/// socket open.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How often a waiting customer's queue position is re-sent.
const QUEUE_REFRESH: Duration = Duration::from_secs(5);

/// The frames a widget sends, which no operation's response names.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(WidgetRequest)))]
struct ClientFrames;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<ClientFrames as utoipa::OpenApi>::openapi())
        .routes(routes!(widget_socket))
        .routes(routes!(console_socket))
}

fn tuned(upgrade: WebSocketUpgrade, state: &AppState) -> WebSocketUpgrade {
    let size = state.config.websocket_buffer_bytes;
    upgrade
        .read_buffer_size(size)
        .write_buffer_size(0)
        .max_write_buffer_size(crate::MAX_BODY_BYTES * 4)
        .max_message_size(crate::MAX_BODY_BYTES)
        .max_frame_size(crate::MAX_BODY_BYTES)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct WidgetQuery {
    /// The widget token from `POST /api/v1/widget/session` (browsers cannot set headers on
    /// WebSockets).
    token: String,
    /// The highest `seq` the client already holds; the backlog starts after it.
    #[serde(default)]
    after_seq: i64,
}

/// A frame from the server on `/api/v1/widget/ws`, discriminated by `type`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WidgetFrame<'a> {
    /// A customer-visible message, in `seq` order.
    Message { message: &'a Message },
    /// The conversation's current state; sent on connect and whenever it changes.
    Conversation { conversation: WidgetConversation },
    /// A `message` request was stored (or had already been stored under this `client_msg_id`).
    Ack { client_msg_id: Option<String>, message: &'a Message, conversation: WidgetConversation },
    /// A request failed; `code` is as in `Error`. `client_msg_id` is null when the frame did
    /// not parse.
    Error { client_msg_id: Option<String>, code: ErrorCode, message: String },
    /// The bot's reply to the customer's message `reply_to` (its `seq`) as written so far by
    /// the workspace's model: each frame carries the whole text so far, only what has checked
    /// out against the knowledge articles. Drafts are not stored: the stored reply arrives as
    /// a `message` frame and replaces it; `done: true` (with empty `text`) ends the draft,
    /// also when it was withdrawn because the model's answer was not used.
    Draft { conversation_id: i64, reply_to: i64, text: &'a str, done: bool },
}

/// A frame from the client on `/api/v1/widget/ws`, discriminated by `type`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WidgetRequest {
    /// Accepted and not answered.
    Ping,
    /// Stores a message exactly like `POST /api/v1/widget/messages`.
    Message { client_msg_id: Option<String>, body: String },
}

/// Reads a text frame a widget sent on its socket.
pub fn parse_widget_request(text: &str) -> Result<WidgetRequest, serde_json::Error> {
    serde_json::from_str(text)
}

/// The widget's WebSocket.
///
/// Upgrades to a WebSocket carrying JSON text frames. On connect the server sends a
/// `conversation` frame (when the customer has a conversation), then a `message` frame for
/// every stored message with `seq` greater than `after_seq`, then live changes. When a live
/// message is ahead of what the socket has sent, the gap is read from the store first, so
/// frames arrive in `seq` order without holes other than internal notes, which are never sent.
/// A client that reconnects with the highest `seq` it holds as `after_seq` misses nothing; a
/// client too slow to keep up is disconnected and should reconnect the same way.
///
/// The client sends `WidgetRequest` frames: `message` stores a message exactly like
/// `POST /api/v1/widget/messages` (same validation, rate limit and `client_msg_id`
/// idempotency) and is answered with an `ack` frame once stored, or an `error` frame carrying
/// the same `client_msg_id`; a frame that does not parse is answered with an `error` frame
/// coded `malformed_request`. The acknowledged message may also arrive as a `message` frame,
/// so clients de-duplicate by `seq`. The server pings every 30 seconds; frames larger than
/// 64 KiB are refused. When the workspace's model streams an answer, `draft` frames show the
/// reply as it is written.
#[utoipa::path(get, path = "/api/v1/widget/ws", operation_id = "widgetSocket", tags = ["realtime", "widget"],
    params(WidgetQuery),
    responses(
        (status = 101, description = "Switching Protocols: the socket speaks `WidgetFrame` (server to client) and `WidgetRequest` (client to server) as JSON text frames.", body = WidgetFrame),
        Errors,
    ))]
async fn widget_socket(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WidgetQuery>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let identity =
        WidgetIdentity::verify(&query.token, &state.secret).ok_or(ApiError::InvalidToken)?;
    let (inbox, customer) = widget::resolve_identity(&state, identity).await?;
    let upgrade = tuned(upgrade, &state);
    // Built before the upgrade and moved whole into the socket's task, so that the task holds
    // one copy of it (not the closure's captures as well as the session made from them).
    let session = WidgetSession {
        _open: state.metrics.socket(crate::metrics::SocketKind::Widget),
        state,
        inbox,
        customer,
        conversation: None,
        sent_seq: query.after_seq,
        assignee: None,
        queued: false,
    };
    Ok(upgrade.on_upgrade(move |socket| session.run(socket)))
}

struct WidgetSession {
    /// Counts the socket as open while the session lives.
    _open: crate::metrics::SocketGuard,
    state: AppState,
    inbox: Inbox,
    customer: Customer,
    /// The conversation this socket follows, once there is one.
    conversation: Option<ConversationId>,
    /// The highest seq sent to (or already held by) the client.
    sent_seq: i64,
    /// The last assignee's name, so that acks and state frames need no lookup per message.
    assignee: Option<(UserId, String)>,
    /// Whether the conversation waits for a person: its queue position is then refreshed.
    queued: bool,
}

impl WidgetSession {
    /// The conversation as the customer sees it.
    async fn view(&mut self, conversation: &Conversation) -> Result<WidgetConversation, ()> {
        let assignee_name = match conversation.assignee_id {
            None => None,
            Some(user) => match &self.assignee {
                Some((cached, name)) if *cached == user => Some(name.clone()),
                _ => {
                    let name = self
                        .state
                        .store
                        .user(user)
                        .await
                        .map_err(drop)?
                        .map(|user| user.display_name);
                    self.assignee = name.clone().map(|name| (user, name));
                    name
                }
            },
        };
        self.queued = conversation.state == ConversationState::Queued;
        let queue =
            if self.queued { widget::queue_place(&self.state, conversation).await } else { None };
        Ok(WidgetConversation {
            id: conversation.id.0,
            state: conversation.state,
            assignee_name,
            queue,
            follow_up_at: WidgetConversation::follow_up_at(conversation),
        })
    }

    /// Re-sends the conversation's state (a waiting customer's position moves).
    async fn refresh_state(&mut self, socket: &mut WebSocket) -> Result<(), ()> {
        let Some(id) = self.conversation else { return Ok(()) };
        match self.state.store.conversation(id).await {
            Ok(Some(conversation)) => self.send_state(socket, &conversation).await,
            _ => Ok(()),
        }
    }

    async fn run(mut self, mut socket: WebSocket) {
        // Subscribe before reading the backlog, so nothing falls between the two.
        let mut subscription = self.state.hub().subscribe_customer(self.customer.id);
        if Box::pin(self.catch_up(&mut socket, true)).await.is_err() {
            return;
        }
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.tick().await;
        // Only while the conversation waits for a person: an idle socket holds no second timer.
        let mut queue_refresh: Option<tokio::time::Interval> = None;
        loop {
            if self.queued != queue_refresh.is_some() {
                queue_refresh = self.queued.then(|| {
                    let mut refresh = tokio::time::interval_at(
                        tokio::time::Instant::now() + QUEUE_REFRESH,
                        QUEUE_REFRESH,
                    );
                    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    refresh
                });
            }
            let outcome = tokio::select! {
                push = subscription.receiver.recv() => match push {
                    // Boxed: the work of a wake-up lives on the heap only while it runs, so an
                    // idle connection's task stays small.
                    Some(WidgetPush::Message { conversation, message }) => {
                        Box::pin(self.forward(&mut socket, Change::Message { conversation, message })).await
                    }
                    Some(WidgetPush::Conversation(conversation)) => {
                        Box::pin(self.forward(&mut socket, Change::Conversation(conversation))).await
                    }
                    Some(WidgetPush::Resync) => Box::pin(self.catch_up(&mut socket, true)).await,
                    Some(WidgetPush::Draft(draft)) => Box::pin(self.draft(&mut socket, &draft)).await,
                    // Cut off for being too slow: close, and the client resumes from its seq.
                    None => Err(()),
                },
                frame = socket.recv() => match frame {
                    Some(Ok(Frame::Text(text))) => Box::pin(self.handle_request(&mut socket, text.as_str())).await,
                    Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => Err(()),
                    Some(Ok(_)) => Ok(()),
                },
                _ = ping.tick() => Box::pin(socket.send(Frame::Ping(Default::default()))).await.map_err(drop),
                _ = async { queue_refresh.as_mut()?.tick().await; Some(()) }, if queue_refresh.is_some() => {
                    Box::pin(self.refresh_state(&mut socket)).await
                }
            };
            if outcome.is_err() {
                break;
            }
        }
    }

    /// Sends every message after `sent_seq` (and, if asked, the conversation's state).
    async fn catch_up(&mut self, socket: &mut WebSocket, with_state: bool) -> Result<(), ()> {
        let state = self.state.clone();
        let Ok(Some(conversation)) =
            state.store.latest_conversation(self.inbox.id, self.customer.id).await
        else {
            return Ok(());
        };
        if self.conversation != Some(conversation.id) {
            self.conversation = Some(conversation.id);
        }
        if with_state {
            self.send_state(socket, &conversation).await?;
        }
        loop {
            let Ok(messages) =
                state.store.messages(conversation.id, self.sent_seq, widget::PAGE).await
            else {
                return Err(());
            };
            let full_page = messages.len() == widget::PAGE as usize;
            for message in messages {
                self.send_message(socket, &message).await?;
            }
            if !full_page {
                return Ok(());
            }
        }
    }

    async fn send_message(&mut self, socket: &mut WebSocket, message: &Message) -> Result<(), ()> {
        if message.seq <= self.sent_seq {
            return Ok(());
        }
        self.sent_seq = message.seq;
        if !message.author_kind.visible_to_customer() {
            return Ok(());
        }
        send_json(socket, &WidgetFrame::Message { message }).await
    }

    async fn send_state(
        &mut self,
        socket: &mut WebSocket,
        conversation: &Conversation,
    ) -> Result<(), ()> {
        let conversation = self.view(conversation).await?;
        send_json(socket, &WidgetFrame::Conversation { conversation }).await
    }

    async fn draft(&mut self, socket: &mut WebSocket, draft: &Draft) -> Result<(), ()> {
        // Another inbox's conversation, or a reply already sent in full: nothing to preview.
        if draft.inbox_id != self.inbox.id || (!draft.done && draft.reply_to < self.sent_seq) {
            return Ok(());
        }
        let frame = WidgetFrame::Draft {
            conversation_id: draft.conversation_id.0,
            reply_to: draft.reply_to,
            text: &draft.text,
            done: draft.done,
        };
        send_json(socket, &frame).await
    }

    async fn forward(&mut self, socket: &mut WebSocket, change: Change) -> Result<(), ()> {
        match change {
            Change::Message { conversation, message } => {
                if conversation.inbox_id != self.inbox.id {
                    return Ok(());
                }
                if self.conversation != Some(conversation.id) {
                    self.conversation = Some(conversation.id);
                }
                if message.seq > self.sent_seq + 1 {
                    // A gap: read it (and this message) from the store, in order.
                    return self.catch_up(socket, false).await;
                }
                self.send_message(socket, &message).await
            }
            Change::Conversation(conversation) => {
                if conversation.inbox_id != self.inbox.id {
                    return Ok(());
                }
                self.conversation = Some(conversation.id);
                self.send_state(socket, &conversation).await
            }
            Change::Knowledge(_) | Change::Agents(_) | Change::Erased { .. } => Ok(()),
        }
    }

    async fn handle_request(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), ()> {
        let request = match parse_widget_request(text) {
            Ok(request) => request,
            Err(error) => {
                let frame = WidgetFrame::Error {
                    client_msg_id: None,
                    code: ErrorCode::MalformedRequest,
                    message: error.to_string(),
                };
                return send_json(socket, &frame).await;
            }
        };
        let WidgetRequest::Message { client_msg_id, body } = request else { return Ok(()) };
        let request = SendRequest { client_msg_id: client_msg_id.clone(), body };
        match widget::send(&self.state, self.inbox.clone(), self.customer.clone(), request).await {
            Ok(appended) => {
                let conversation = self.view(&appended.conversation).await.map_err(drop)?;
                let frame =
                    WidgetFrame::Ack { client_msg_id, message: &appended.message, conversation };
                send_json(socket, &frame).await
            }
            Err(error) => {
                let frame = WidgetFrame::Error {
                    client_msg_id,
                    code: error.code(),
                    message: error.to_string(),
                };
                send_json(socket, &frame).await
            }
        }
    }
}

async fn send_json(socket: &mut WebSocket, frame: &impl Serialize) -> Result<(), ()> {
    let text = serde_json::to_string(frame).map_err(drop)?;
    socket.send(Frame::Text(text.into())).await.map_err(drop)
}

/// A frame from the server on `/api/v1/console/ws`, discriminated by `type`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ConsoleFrame<'a> {
    /// A message was stored (notes included).
    Message { conversation: &'a Conversation, message: &'a Message },
    /// A conversation's owner or state changed.
    Conversation { conversation: &'a Conversation },
    /// Changes may have been missed: re-read what is on screen.
    Resync,
}

/// Refuses cross-site WebSocket connections made with an agent's cookie: a browser sends the
/// cookie to any page that opens the socket, so the origin must be Tandem's own.
fn same_origin(headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok());
    match (origin, host) {
        (None, _) => true,
        (Some(origin), Some(host)) => {
            origin.split_once("://").is_some_and(|(_, rest)| rest == host)
        }
        (Some(_), None) => false,
    }
}

/// The console's WebSocket.
///
/// Upgrades to a WebSocket on which the server pushes every change in the caller's workspace
/// as `ConsoleFrame` JSON text frames: `message` for each stored message (internal notes
/// included) with its conversation, `conversation` for each ownership or state change, and
/// `resync` when changes may have been missed, after which the client re-reads what it shows
/// over the REST API. Frames the client sends are ignored; the server pings every 30 seconds.
///
/// With a session cookie, a request whose `Origin` does not match `Host` is refused
/// (`cross_origin`), so other sites cannot open the socket with an agent's cookie. API-token
/// clients may connect from anywhere.
#[utoipa::path(get, path = "/api/v1/console/ws", operation_id = "consoleSocket", tags = ["realtime", "agents"],
    security(("session" = []), ("apiToken" = [])),
    responses(
        (status = 101, description = "Switching Protocols: the socket carries `ConsoleFrame`s.", body = ConsoleFrame),
        Errors,
    ))]
async fn console_socket(
    State(state): State<AppState>,
    agent: Agent,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    if agent.session.is_some() && !same_origin(&headers) {
        return Err(ApiError::CrossOrigin);
    }
    let receiver = state.hub().subscribe_workspace(agent.user.workspace_id);
    let upgrade = tuned(upgrade, &state);
    let open = state.metrics.socket(crate::metrics::SocketKind::Console);
    Ok(upgrade.on_upgrade(move |socket| async move {
        let _open = open;
        console_session(socket, receiver).await;
    }))
}

async fn console_session(mut socket: WebSocket, mut receiver: broadcast::Receiver<Push>) {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let outcome = tokio::select! {
            push = receiver.recv() => match push {
                Ok(Push::Change(Change::Message { conversation, message })) => {
                    send_json(&mut socket, &ConsoleFrame::Message { conversation: &conversation, message: &message }).await
                }
                Ok(Push::Change(Change::Conversation(conversation))) => {
                    send_json(&mut socket, &ConsoleFrame::Conversation { conversation: &conversation }).await
                }
                Ok(Push::Change(Change::Knowledge(_) | Change::Agents(_)) | Push::Draft(_)) => Ok(()),
                Ok(Push::Resync | Push::Change(Change::Erased { .. })) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    send_json(&mut socket, &ConsoleFrame::Resync).await
                }
                Err(broadcast::error::RecvError::Closed) => Err(()),
            },
            frame = socket.recv() => match frame {
                Some(Ok(Frame::Close(_))) | None | Some(Err(_)) => Err(()),
                Some(Ok(_)) => Ok(()),
            },
            _ = ping.tick() => socket.send(Frame::Ping(Default::default())).await.map_err(drop),
        };
        if outcome.is_err() {
            break;
        }
    }
}
