//! A bounded HTTP load: a fixed list of URLs requested by `CONNECTIONS` concurrent keep-alive
//! connections, stopping at a request count or a deadline, whichever comes first (DESIGN §10).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// DESIGN §10 measures at 16 connections.
pub const CONNECTIONS: usize = 16;

/// What one load run saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub elapsed: Duration,
    /// Sorted, one per answered request.
    pub latencies: Vec<Duration>,
    pub statuses: BTreeMap<u16, usize>,
    /// `x-cache` values (`hit-edge`, `hit-upstash`, `miss`); `-` when a response has none.
    pub cache: BTreeMap<String, usize>,
    /// Requests that got no response at all.
    pub failures: usize,
}

impl Outcome {
    pub fn requests(&self) -> usize {
        self.latencies.len()
    }

    pub fn per_second(&self) -> f64 {
        self.requests() as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }

    /// Latency at `quantile` (0.5 = median) in ms, nearest rank.
    pub fn percentile_ms(&self, quantile: f64) -> f64 {
        let Some(last) = self.latencies.len().checked_sub(1) else { return 0.0 };
        let rank = ((quantile * self.latencies.len() as f64).ceil() as usize).saturating_sub(1).min(last);
        self.latencies[rank].as_secs_f64() * 1000.0
    }

    /// Every request answered 200?
    pub fn all_ok(&self) -> bool {
        self.failures == 0 && self.statuses.keys().all(|status| *status == 200)
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies.extend(other.latencies);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        for (value, count) in other.cache {
            *self.cache.entry(value).or_default() += count;
        }
        self.failures += other.failures;
    }
}

/// Requests `urls[0], urls[1], …` (wrapping around) until `requests` are sent or `max_time` passes.
pub async fn run(client: &reqwest::Client, urls: Arc<Vec<String>>, requests: usize, max_time: Duration) -> Outcome {
    if urls.is_empty() {
        return Outcome::default();
    }
    let request = move |client: &reqwest::Client, slot: Slot| client.get(&urls[slot.index % urls.len()]);
    run_requests(client, requests, max_time, request).await
}

/// Which request a connection is about to send.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Across the whole run, 0, 1, 2, …
    pub index: usize,
    /// Which of the `CONNECTIONS` loops sends it (a loop can stand for one user).
    pub connection: usize,
    /// How many this loop has sent before.
    pub sequence: usize,
}

/// Sends what `request` builds for each slot over `CONNECTIONS` concurrent loops, until
/// `requests` are sent or `max_time` passes.
pub async fn run_requests<F>(client: &reqwest::Client, requests: usize, max_time: Duration, request: F) -> Outcome
where
    F: Fn(&reqwest::Client, Slot) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + max_time;
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for connection in 0..CONNECTIONS {
        let (client, request, next) = (client.clone(), request.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Outcome::default();
            for sequence in 0.. {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= requests || Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                match request(&client, Slot { index, connection, sequence }).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let cache = response
                            .headers()
                            .get("x-cache")
                            .and_then(|value| value.to_str().ok())
                            .unwrap_or("-")
                            .to_owned();
                        // The whole body: a response is served once it is read.
                        if response.bytes().await.is_err() {
                            seen.failures += 1;
                            continue;
                        }
                        seen.latencies.push(sent.elapsed());
                        *seen.statuses.entry(status).or_default() += 1;
                        *seen.cache.entry(cache).or_default() += 1;
                    }
                    Err(_) => seen.failures += 1,
                }
            }
            seen
        }));
    }
    let mut outcome = Outcome::default();
    for task in tasks {
        if let Ok(seen) = task.await {
            outcome.merge(seen);
        }
    }
    outcome.elapsed = started.elapsed();
    outcome.latencies.sort_unstable();
    outcome
}

/// A client that keeps `CONNECTIONS` connections open to the one origin it loads.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).timeout(Duration::from_secs(30)).no_proxy().build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(ms: &[u64]) -> Outcome {
        Outcome { latencies: ms.iter().map(|ms| Duration::from_millis(*ms)).collect(), ..Outcome::default() }
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        let outcome = outcome(&hundred);
        assert_eq!(outcome.percentile_ms(0.5), 50.0);
        assert_eq!(outcome.percentile_ms(0.95), 95.0);
        assert_eq!(outcome.percentile_ms(0.99), 99.0);
        assert_eq!(outcome.percentile_ms(1.0), 100.0);
    }

    #[test]
    fn an_empty_run_has_zero_latency() {
        assert_eq!(outcome(&[]).percentile_ms(0.99), 0.0);
    }
}
