//! An access token shared by every call to one account of a channel's API (WeCom's and
//! WeChat's `access_token`, Feishu's `tenant_access_token`, DingTalk's `accessToken`): fetched
//! once, reused until shortly before it expires, and fetched again when the API says it is no
//! longer valid. Callers waiting while it is fetched share that one fetch, so a burst of
//! replies never asks for a burst of tokens (the APIs rate limit their token endpoints).

use std::future::Future;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long before its stated expiry a token is replaced: a request signed with it must still
/// reach the API in time.
const MARGIN: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
pub struct TokenCache {
    current: Mutex<Option<(String, Instant)>>,
}

impl TokenCache {
    pub fn new() -> TokenCache {
        TokenCache::default()
    }

    /// The cached token, or a new one from `fetch` (which answers the token and how long it
    /// lives) when there is none or it is about to expire.
    pub async fn get<E, F, Fut>(&self, fetch: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, Duration), E>>,
    {
        let mut current = self.current.lock().await;
        if let Some((token, until)) = current.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch().await?;
        // A token said to live less than the margin is used for half its life.
        let usable = lifetime.checked_sub(MARGIN).unwrap_or(lifetime / 2);
        *current = Some((token.clone(), Instant::now() + usable));
        Ok(token)
    }

    /// Forgets `token` (the API refused it), unless another caller has already replaced it.
    pub async fn invalidate(&self, token: &str) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(held, _)| held == token) {
            *current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_token_is_fetched_once_and_again_before_it_expires() {
        let cache = TokenCache::new();
        let fetches = AtomicUsize::new(0);
        let fetch = || async {
            let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
            Ok::<_, ()>((format!("t{n}"), Duration::from_secs(7200)))
        };
        assert_eq!(cache.get(fetch).await, Ok("t1".to_owned()));
        assert_eq!(cache.get(fetch).await, Ok("t1".to_owned()));
        tokio::time::advance(Duration::from_secs(7200 - 301)).await;
        assert_eq!(cache.get(fetch).await, Ok("t1".to_owned()));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.get(fetch).await, Ok("t2".to_owned()), "replaced inside the margin");
        cache.invalidate("t1").await;
        assert_eq!(cache.get(fetch).await, Ok("t2".to_owned()), "a stale refusal changes nothing");
        cache.invalidate("t2").await;
        assert_eq!(cache.get(fetch).await, Ok("t3".to_owned()));
    }

    #[tokio::test]
    async fn callers_waiting_together_share_one_fetch() {
        let cache = Arc::new(TokenCache::new());
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut waiting = Vec::new();
        for _ in 0..8 {
            let (cache, fetches) = (Arc::clone(&cache), Arc::clone(&fetches));
            waiting.push(tokio::spawn(async move {
                cache
                    .get(|| async {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>(("shared".to_owned(), Duration::from_secs(60)))
                    })
                    .await
            }));
        }
        for task in waiting {
            assert_eq!(task.await.unwrap(), Ok("shared".to_owned()));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }
}
