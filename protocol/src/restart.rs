//! The `restart` field (what a node does when a container's init ends without anyone stopping
//! it) and the words both sides use to report how an init ended.
//!
//! The policy is carried out by `fleet-node supervise` on the host, in the manner of systemd's
//! `Restart=` and Docker's restart policies; a node with no supervisor running says so in its
//! hello ([`crate::NodeInfo::supervisor`]) and the plan warns about the policies it cannot honour.

use serde::{Deserialize, Serialize};

/// When a container whose init ended on its own is started again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never (the default): the container stays stopped until something starts it.
    #[default]
    No,
    /// When init exits with a non-zero status or is killed by a signal.
    OnFailure,
    /// Whenever init ends, however it ends.
    Always,
}

impl RestartPolicy {
    /// The spec's words for each policy.
    pub const CHOICES: &'static [&'static str] = &["no", "on-failure", "always"];

    /// The policy named `word` (one of [`RestartPolicy::CHOICES`]).
    pub fn parse(word: &str) -> Option<RestartPolicy> {
        match word {
            "no" => Some(RestartPolicy::No),
            "on-failure" => Some(RestartPolicy::OnFailure),
            "always" => Some(RestartPolicy::Always),
            _ => None,
        }
    }

    /// The spec's word for the policy.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        }
    }

    /// Whether an init that ended with `exit` is started again under this policy (an ending
    /// nobody saw, [`ExitStatus::Unknown`], counts as a failure).
    pub fn restarts_after(self, exit: &ExitStatus) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure => !exit.is_success(),
            RestartPolicy::Always => true,
        }
    }
}

/// A container's `restart:` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartSpec {
    /// When to restart.
    pub policy: RestartPolicy,
    /// Restarts in a row (each after an init that ran less than the back-off's reset time)
    /// after which the node gives up; `None` means it never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
}

impl RestartSpec {
    /// Whether this is the default (`restart: no`), left out of a spec's JSON.
    pub fn is_default(&self) -> bool {
        *self == RestartSpec::default()
    }

    /// How the plan shows it: `on-failure`, or `on-failure (max 5)`.
    pub fn show(&self) -> String {
        match self.max_retries {
            Some(n) if self.policy != RestartPolicy::No => {
                format!("{} (max {n})", self.policy.as_str())
            }
            _ => self.policy.as_str().to_owned(),
        }
    }
}

/// The wait before the first restart of a streak; each restart in a row doubles it.
pub const FIRST_DELAY_MS: u64 = 1_000;
/// The longest wait between restarts (the doubling stops here).
pub const MAX_DELAY_MS: u64 = 300_000;
/// An init that ran this long counts as started: its end begins a new streak, with the first
/// delay again and `max_retries` counted afresh.
pub const STABLE_AFTER_MS: u64 = 10_000;

/// What the restart policy makes of an init that ended on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The policy does not restart it: it stays stopped.
    Leave,
    /// `max_retries` restarts in a row did not keep it up: it stays stopped.
    GiveUp,
    /// Start it again after `delay_ms`; `streak` restarts in a row came before this one.
    RestartAfter {
        /// Wait from the end of init to the restart.
        delay_ms: u64,
        /// Restarts in a row before this one (after the reset for an init that ran long).
        streak: u32,
    },
}

impl RestartSpec {
    /// The decision on an init that ended with `status` after running `ran_ms` (unknown when
    /// its start was not recorded), `streak` restarts in a row having come before: delays of
    /// 1 s, 2 s, 4 s, ... up to 5 min, begun again after an init that ran 10 s or more, as
    /// Docker's back-off does; and like systemd's start limit, `max_retries` counts the
    /// restarts in a row, not all of them.
    pub fn decide(&self, status: &ExitStatus, ran_ms: Option<u64>, streak: u32) -> Decision {
        if !self.policy.restarts_after(status) {
            return Decision::Leave;
        }
        let streak = match ran_ms {
            Some(ran) if ran >= STABLE_AFTER_MS => 0,
            _ => streak,
        };
        if self.max_retries.is_some_and(|max| streak >= max) {
            return Decision::GiveUp;
        }
        let delay_ms = FIRST_DELAY_MS
            .saturating_mul(1u64 << streak.min(32))
            .min(MAX_DELAY_MS);
        Decision::RestartAfter { delay_ms, streak }
    }
}

/// How a process ended, as its parent's wait status tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExitStatus {
    /// It exited with this code.
    Exited {
        /// The exit code (0-255).
        code: i32,
    },
    /// A signal killed it.
    Killed {
        /// The signal number (9 for SIGKILL).
        signal: i32,
    },
    /// It is gone, and nothing that saw it end is left to say how.
    Unknown,
}

impl ExitStatus {
    /// Decodes a wait status (`exit code << 8`, or the signal number in the low 7 bits).
    pub fn from_wait_status(status: i32) -> ExitStatus {
        let signal = status & 0x7f;
        if signal == 0 {
            ExitStatus::Exited {
                code: (status >> 8) & 0xff,
            }
        } else {
            ExitStatus::Killed { signal }
        }
    }

    /// Whether it exited with code 0.
    pub fn is_success(&self) -> bool {
        *self == ExitStatus::Exited { code: 0 }
    }

    /// The shell's number for it: the code, or 128 + the signal; `None` when unknown.
    pub fn shell_code(&self) -> Option<i32> {
        match *self {
            ExitStatus::Exited { code } => Some(code),
            ExitStatus::Killed { signal } => Some(128 + signal),
            ExitStatus::Unknown => None,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Exited { code } => write!(f, "exited {code}"),
            ExitStatus::Killed { signal } => match signal_name(signal) {
                Some(name) => write!(f, "killed by {name}"),
                None => write!(f, "killed by signal {signal}"),
            },
            ExitStatus::Unknown => f.write_str("ended (status unknown)"),
        }
    }
}

/// The name of the common signals an init dies of.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => return None,
    })
}

/// The last time a container's init ended on its own (not stopped by a verb).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastExit {
    /// How it ended.
    pub status: ExitStatus,
    /// When, UTC (`2026-11-26T16:45:03Z`).
    pub at: String,
    /// The node gave up restarting it (`max_retries` reached).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gave_up: bool,
}

/// The restart supervisor running on a node (`fleet-node supervise`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorInfo {
    /// Its PID.
    pub pid: u32,
    /// When it started, UTC.
    pub since: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_decode() {
        assert_eq!(
            ExitStatus::from_wait_status(7 << 8),
            ExitStatus::Exited { code: 7 }
        );
        assert_eq!(
            ExitStatus::from_wait_status(9),
            ExitStatus::Killed { signal: 9 }
        );
        assert_eq!(
            ExitStatus::Killed { signal: 9 }.to_string(),
            "killed by SIGKILL"
        );
        assert_eq!(ExitStatus::Killed { signal: 9 }.shell_code(), Some(137));
        assert!(ExitStatus::from_wait_status(0).is_success());
    }

    #[test]
    fn policies_decide_by_how_init_ended() {
        let ok = ExitStatus::Exited { code: 0 };
        let failed = ExitStatus::Exited { code: 1 };
        let killed = ExitStatus::Killed { signal: 9 };
        assert!(!RestartPolicy::No.restarts_after(&killed));
        assert!(!RestartPolicy::OnFailure.restarts_after(&ok));
        assert!(RestartPolicy::OnFailure.restarts_after(&failed));
        assert!(RestartPolicy::OnFailure.restarts_after(&killed));
        assert!(RestartPolicy::OnFailure.restarts_after(&ExitStatus::Unknown));
        assert!(RestartPolicy::Always.restarts_after(&ok));
        for word in RestartPolicy::CHOICES {
            assert_eq!(RestartPolicy::parse(word).unwrap().as_str(), *word);
        }
    }

    #[test]
    fn the_back_off_doubles_resets_after_a_long_run_and_gives_up_at_the_maximum() {
        let spec = RestartSpec {
            policy: RestartPolicy::Always,
            max_retries: Some(3),
        };
        let exit = ExitStatus::Killed { signal: 9 };
        let delays: Vec<_> = (0..3)
            .map(|streak| spec.decide(&exit, Some(100), streak))
            .collect();
        assert_eq!(
            delays,
            [
                Decision::RestartAfter {
                    delay_ms: 1_000,
                    streak: 0
                },
                Decision::RestartAfter {
                    delay_ms: 2_000,
                    streak: 1
                },
                Decision::RestartAfter {
                    delay_ms: 4_000,
                    streak: 2
                },
            ]
        );
        assert_eq!(spec.decide(&exit, Some(100), 3), Decision::GiveUp);
        // An init that ran 10 s starts a new streak.
        assert_eq!(
            spec.decide(&exit, Some(STABLE_AFTER_MS), 3),
            Decision::RestartAfter {
                delay_ms: 1_000,
                streak: 0
            }
        );
        let forever = RestartSpec {
            max_retries: None,
            ..spec
        };
        assert_eq!(
            forever.decide(&exit, None, 40),
            Decision::RestartAfter {
                delay_ms: MAX_DELAY_MS,
                streak: 40
            }
        );
        let on_failure = RestartSpec {
            policy: RestartPolicy::OnFailure,
            max_retries: None,
        };
        assert_eq!(
            on_failure.decide(&ExitStatus::Exited { code: 0 }, None, 0),
            Decision::Leave
        );
    }

    #[test]
    fn the_default_is_left_out_and_words_are_the_specs() {
        assert!(RestartSpec::default().is_default());
        let spec = RestartSpec {
            policy: RestartPolicy::OnFailure,
            max_retries: Some(5),
        };
        assert_eq!(
            serde_json::to_string(&spec).unwrap(),
            r#"{"policy":"on-failure","max_retries":5}"#
        );
        assert_eq!(spec.show(), "on-failure (max 5)");
    }
}
