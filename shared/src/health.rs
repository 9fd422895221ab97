//! The health report shape shared by the gateway and the Spin components.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverallStatus {
    Ok,
    Degraded,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub status: CheckStatus,
    pub latency_ms: u64,
    /// Why a check is down, for operators; absent when ok.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Check {
    pub fn ok(latency_ms: u64) -> Self {
        Self { status: CheckStatus::Ok, latency_ms, error: None }
    }

    pub fn down(latency_ms: u64, error: impl Into<String>) -> Self {
        Self { status: CheckStatus::Down, latency_ms, error: Some(error.into()) }
    }

    pub fn from_result<E: std::fmt::Display>(latency_ms: u64, result: Result<(), E>) -> Self {
        match result {
            Ok(()) => Self::ok(latency_ms),
            Err(error) => Self::down(latency_ms, error.to_string()),
        }
    }
}

/// `{"status":"ok"|"degraded","checks":{"neon":{"status":"ok","latency_ms":3},…}}`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    pub status: OverallStatus,
    pub checks: BTreeMap<String, Check>,
}

impl HealthReport {
    pub fn from_checks(checks: impl IntoIterator<Item = (&'static str, Check)>) -> Self {
        let checks: BTreeMap<String, Check> =
            checks.into_iter().map(|(name, check)| (name.to_owned(), check)).collect();
        let all_ok = checks.values().all(|check| check.status == CheckStatus::Ok);
        let status = if all_ok { OverallStatus::Ok } else { OverallStatus::Degraded };
        Self { status, checks }
    }

    /// 200 when every check is ok, 503 otherwise, so load balancers and uptime probes can act on it.
    pub fn http_status(&self) -> u16 {
        match self.status {
            OverallStatus::Ok => 200,
            OverallStatus::Degraded => 503,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_checks_ok_is_200_ok() {
        let report = HealthReport::from_checks([("neon", Check::ok(3)), ("upstash", Check::ok(1))]);
        assert_eq!(report.status, OverallStatus::Ok);
        assert_eq!(report.http_status(), 200);
    }

    #[test]
    fn one_down_check_degrades_to_503_and_names_the_failure() {
        let report = HealthReport::from_checks([("neon", Check::ok(3)), ("upstash", Check::down(2000, "timed out"))]);
        assert_eq!(report.http_status(), 503);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["checks"]["upstash"]["status"], "down");
        assert_eq!(json["checks"]["neon"]["status"], "ok");
        assert_eq!(json["checks"]["neon"]["latency_ms"], 3);
        assert!(json["checks"]["neon"].get("error").is_none());
    }
}
