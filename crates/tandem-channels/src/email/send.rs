//! Sending through the business's own SMTP server (its submission port), so that Tandem's mail
//! leaves with the business's SPF, DKIM and reputation rather than Tandem's.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::{ComposeError, OutboundMail, compose};

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain text: only for a relay on the same host or a private network.
    None,
    /// STARTTLS, required (port 587): a server that does not offer it is an error, not a reason
    /// to send the password in the clear.
    #[default]
    #[serde(rename = "starttls")]
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// An SMTP server to send through.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<String>,
    /// For each step of a connection and of a send, in seconds in configuration.
    #[serde(with = "seconds")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> SmtpSettings {
        SmtpSettings {
            host: "localhost".to_owned(),
            port: 587,
            security: Security::StartTls,
            username: None,
            password: None,
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

/// Why a mail was not sent, and so whether sending it again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The settings cannot work (an invalid host name for TLS, say).
    #[error("invalid SMTP settings: {0}")]
    Settings(String),
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// The server refused the mail for good (5xx): sending again gives the same answer.
    #[error("the SMTP server refused the mail: {0}")]
    Permanent(String),
    /// The server was unreachable, timed out or answered 4xx: worth another try later.
    #[error("the mail could not be sent for now: {0}")]
    Temporary(String),
}

impl SendError {
    /// Whether trying again later cannot help.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, SendError::Temporary(_))
    }
}

/// A connection pool to one SMTP server.
#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sender(..)")
    }
}

impl Sender {
    pub fn new(settings: &SmtpSettings) -> Result<Sender, SendError> {
        let tls = |host: &str| {
            TlsParameters::new(host.to_owned())
                .map_err(|error| SendError::Settings(error.to_string()))
        };
        let tls = match settings.security {
            Security::None => Tls::None,
            Security::StartTls => Tls::Required(tls(&settings.host)?),
            Security::Tls => Tls::Wrapper(tls(&settings.host)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            .port(settings.port)
            .tls(tls)
            .timeout(Some(settings.timeout));
        if let Some(username) = &settings.username {
            let password = settings.password.clone().unwrap_or_default();
            builder = builder.credentials(Credentials::new(username.clone(), password));
        }
        Ok(Sender { transport: builder.build() })
    }

    /// Composes and sends `mail` to its `to` address.
    pub async fn send(&self, mail: &OutboundMail) -> Result<(), SendError> {
        let message = compose(mail)?;
        match self.transport.send(message).await {
            Ok(_) => Ok(()),
            // A client error is lettre refusing the envelope itself, which will not change.
            Err(error) if error.is_permanent() || error.is_client() => {
                Err(SendError::Permanent(error.to_string()))
            }
            Err(error) => Err(SendError::Temporary(error.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_names() {
        let settings: SmtpSettings = serde_json::from_str(
            r#"{"host":"smtp.exmail.qq.com","port":465,"security":"tls","timeout":10}"#,
        )
        .unwrap();
        assert_eq!(settings.security, Security::Tls);
        assert_eq!(settings.timeout, Duration::from_secs(10));
        assert_eq!(settings.username, None);
        let default: SmtpSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(default, SmtpSettings::default());
        assert_eq!(serde_json::to_value(Security::StartTls).unwrap(), "starttls");
        assert!(serde_json::from_str::<SmtpSettings>(r#"{"hots":"x"}"#).is_err());
        let secret = SmtpSettings { password: Some("hunter2".into()), ..SmtpSettings::default() };
        assert!(!format!("{secret:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn an_unreachable_server_is_temporary() {
        // A port nothing listens on: bound, then closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let settings = SmtpSettings {
            host: "127.0.0.1".into(),
            port,
            security: Security::None,
            timeout: Duration::from_secs(5),
            ..SmtpSettings::default()
        };
        let sender = Sender::new(&settings).unwrap();
        let mail = OutboundMail {
            from: super::super::Mailbox::new(None, "support@shop.example"),
            to: super::super::Mailbox::new(None, "anna@example.com"),
            reply_to: None,
            subject: "Hi".into(),
            message_id: "m@shop.example".into(),
            in_reply_to: None,
            references: Vec::new(),
            text: "Hi".into(),
            html: "<p>Hi</p>".into(),
            attachments: Vec::new(),
            auto_submitted: false,
        };
        let error = sender.send(&mail).await.unwrap_err();
        assert!(!error.is_permanent(), "{error}");
    }
}
