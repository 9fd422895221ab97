//! Idle connections keyed by connection string, reset before reuse like the proxy's pool.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wire::Connection;

/// What the proxy runs before a connection goes back to its pool
/// (`reset_session_background` in Neon's `tokio-postgres2`).
const RESET_SESSION: &str = "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; \
     DEALLOCATE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;";

pub struct Pool {
    idle: Mutex<HashMap<String, Vec<(Connection, Instant)>>>,
    max_idle_per_key: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub fn new(max_idle_per_key: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self { idle: Mutex::new(HashMap::new()), max_idle_per_key, idle_timeout })
    }

    /// The most recently returned live connection for `key`; stale ones (server restarted,
    /// idle too long) are dropped on the way.
    pub fn take(&self, key: &str) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let connections = idle.get_mut(key)?;
        while let Some((conn, since)) = connections.pop() {
            if since.elapsed() < self.idle_timeout && !conn.is_stale() {
                return Some(conn);
            }
        }
        None
    }

    /// Resets the session in the background, then keeps the connection if it is still clean.
    pub fn give_back(self: &Arc<Self>, key: String, mut conn: Connection) {
        if !conn.is_reusable() {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            if conn.simple_query(RESET_SESSION).await.is_err() || !conn.is_reusable() {
                return;
            }
            let mut idle = pool.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let connections = idle.entry(key).or_default();
            if connections.len() < pool.max_idle_per_key {
                connections.push((conn, Instant::now()));
            }
        });
    }
}
