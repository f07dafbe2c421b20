//! What Tandem's own outbound requests may reach. Business actions, webhooks and the model
//! provider all build their HTTP client with [`client`] and check each URL with [`check_url`].
//!
//! Refused unless an administrator allows their network (`[server] outbound_allow`, see
//! [`allow`]): link-local addresses (169.254.0.0/16 and fe80::/10, where clouds serve instance
//! metadata and credentials), the metadata addresses clouds put elsewhere (100.100.100.200,
//! fd00:ec2::254) and the unspecified addresses (0.0.0.0/8, ::), which reach the machine
//! itself. An IP address written in a URL is checked before the request; a host name is
//! checked on every address it resolves to, so a name pointed at a metadata address (or
//! re-pointed after a first check) is refused too. Loopback and private networks stay
//! reachable: a business's own systems often live there.
//!
//! This lives in the model client's crate because it is the lowest one that makes HTTP
//! requests; nothing about it is specific to models.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};

/// Networks refused unless allowed.
const REFUSED: &[&str] = &[
    "169.254.0.0/16",
    "fe80::/10",
    "100.100.100.200/32",
    "fd00:ec2::254/128",
    "0.0.0.0/8",
    "::/128",
];

/// The networks an administrator allows although [`REFUSED`] lists them.
static ALLOWED: OnceLock<Vec<ipnet::IpNet>> = OnceLock::new();

/// Allows outbound requests to these networks although they are link-local or metadata
/// addresses. Set once, when the server starts; later calls change nothing (and say so).
pub fn allow(networks: Vec<ipnet::IpNet>) -> bool {
    ALLOWED.set(networks).is_ok()
}

fn refused_networks() -> &'static [ipnet::IpNet] {
    static NETWORKS: OnceLock<Vec<ipnet::IpNet>> = OnceLock::new();
    NETWORKS.get_or_init(|| REFUSED.iter().filter_map(|network| network.parse().ok()).collect())
}

/// Whether requests to `address` are refused.
pub fn refused(address: IpAddr) -> bool {
    let address = address.to_canonical();
    let allowed = ALLOWED.get().map_or(&[][..], Vec::as_slice);
    refused_networks().iter().any(|network| network.contains(&address))
        && !allowed.iter().any(|network| network.contains(&address))
}

/// A request Tandem will not make.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{host} is a link-local or metadata address, which outbound requests may not reach \
     (an administrator can allow its network with [server] outbound_allow)"
)]
pub struct Refused {
    pub host: String,
}

/// Checks a URL whose host is an IP address (host names are checked as they resolve).
pub fn check_url(url: &reqwest::Url) -> Result<(), Refused> {
    let host = url.host_str().unwrap_or_default();
    let Ok(address) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
        return Ok(());
    };
    if refused(address) {
        return Err(Refused { host: address.to_string() });
    }
    Ok(())
}

/// A client builder whose requests never connect to a refused address: host names resolve
/// through [`GuardedResolver`].
pub fn client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().dns_resolver(Arc::new(GuardedResolver))
}

/// Resolves with the system's resolver and keeps only the addresses that are not refused;
/// a name with no other address is an error.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept = guard(host, found)?;
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses `host` resolved to that may be reached; an error when it resolved only to
/// refused ones.
fn guard(host: String, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
    let kept: Vec<SocketAddr> =
        found.iter().copied().filter(|address| !refused(address.ip())).collect();
    if kept.is_empty() && !found.is_empty() {
        return Err(Refused { host });
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_addresses_are_refused_and_private_ones_are_not() {
        for refused_address in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "fe80::1",
            "fd00:ec2::254",
            "::",
            "::ffff:169.254.169.254",
        ] {
            assert!(refused(refused_address.parse().unwrap()), "{refused_address}");
        }
        for reachable in
            ["127.0.0.1", "10.0.0.5", "192.168.1.10", "172.16.0.1", "8.8.8.8", "::1", "2001:db8::1"]
        {
            assert!(!refused(reachable.parse().unwrap()), "{reachable}");
        }
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        assert!(check_url(&url("http://169.254.169.254/latest/meta-data/")).is_err());
        assert!(check_url(&url("http://[fe80::1]:8080/")).is_err());
        assert!(check_url(&url("https://shop.example/orders")).is_ok());
        assert!(check_url(&url("http://127.0.0.1:9000/")).is_ok());
    }

    #[test]
    fn a_name_keeps_only_the_addresses_that_may_be_reached() {
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), 0);
        let mixed = guard("mixed.example".into(), vec![at("169.254.169.254"), at("10.1.2.3")]);
        assert_eq!(mixed.unwrap(), [at("10.1.2.3")]);
        let metadata = guard("metadata.example".into(), vec![at("169.254.169.254")]);
        assert_eq!(metadata.unwrap_err().host, "metadata.example");
    }

    #[tokio::test]
    async fn a_guarded_client_reaches_names_on_loopback() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let answer = "HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.unwrap();
        });
        let client = client().build().unwrap();
        let response = client.get(format!("http://localhost:{port}/")).send().await.unwrap();
        assert_eq!(response.status(), 204);
    }
}
