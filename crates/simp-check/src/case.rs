//! What a case is, what it may conclude, and the context it runs in.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::driver::{Driver, UserEvent};
use crate::peer::Peer;
use crate::settings::{Settings, Sources};
use crate::wirelog::{Dir, WireLog};

/// How binding a clause of docs/SPEC.md is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Failing it is a failure.
    Must,
    /// Failing it is a warning, a failure only with `--strict`.
    Should,
}

/// How a case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// The target did what the SPEC says.
    Pass,
    /// A SHOULD was not met.
    Warn,
    /// A MUST was not met.
    Fail,
    /// The case could not be run (see its reason).
    Skip,
    /// Interrupted before it ran.
    NotRun,
}

impl Outcome {
    /// The word the report prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
            Outcome::NotRun => "NOT RUN",
        }
    }
}

/// Why a case stopped before passing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The target broke the clause; the text is the diagnosis.
    Fail(String),
    /// The case does not apply to this run (it needs a driver); the text says why.
    Skip(String),
    /// The case could not get to its point: a step another case is about failed first, or
    /// the checker itself could not work. The text says why; it does not count as passing.
    Blocked(String),
    /// Ctrl-C.
    Interrupted,
}

/// What a case returns: a note for the report (a measured interval) when it passes.
pub type Verdict = Result<Option<String>, Stop>;

/// `Err(Stop::Fail(..))`, for `?`-style early returns with a diagnosis.
pub fn fail<T>(diagnosis: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(diagnosis.into()))
}

/// `Err(Stop::Blocked(..))` for a failed precondition.
pub fn blocked<T>(reason: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Blocked(reason.into()))
}

/// How a case runs.
#[derive(Clone, Copy)]
pub enum Body {
    /// Alone: it has the target's one session to itself.
    Serial(fn(&mut Ctx<'_>) -> Verdict),
    /// Concurrently with the other cases of its kind, from its own source address, while
    /// the runner's host peer keeps a chat open with the target (busy and stranger cases: the
    /// protocol lets any number of strangers talk to a daemon in a chat).
    Shared(fn(&mut Ctx<'_>, &crate::run::Host) -> Verdict),
    /// Alone, after every other case.
    Last(fn(&mut Ctx<'_>) -> Verdict),
}

/// One conformance case.
#[derive(Clone, Copy)]
pub struct Case {
    /// `SECTION/name`, the section being one of docs/SPEC.md.
    pub id: &'static str,
    /// What the target must do, in a line.
    pub title: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// When set, the case plays the target's user and is skipped without a driver, for this
    /// reason.
    pub needs_driver: Option<&'static str>,
    /// The case itself.
    pub body: Body,
}

impl Case {
    /// The SPEC section, e.g. `2.2`.
    pub fn section(&self) -> &'static str {
        self.id.split('/').next().unwrap_or(self.id)
    }

    /// Whether `pattern` (a case id, or a section such as `2` or `2.2`) selects this case.
    pub fn matches(&self, pattern: &str) -> bool {
        let pattern = pattern.trim_end_matches('/');
        let section = self.section();
        self.id == pattern
            || section == pattern
            || section.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('.'))
    }
}

/// What one case learnt that spares the next ones a wait: whether a chat can be opened at
/// all. A target that never completes the handshake would otherwise cost every chat case
/// the full answer wait.
#[derive(Debug, Default)]
pub struct Memo {
    no_chat: std::sync::Mutex<Option<String>>,
}

impl Memo {
    /// Why no chat could be opened, if a case found out.
    pub fn no_chat(&self) -> Option<String> {
        self.no_chat.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Records that no chat could be opened.
    pub fn set_no_chat(&self, why: &str) {
        *self.no_chat.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(why.to_owned());
    }
}

/// What a case works with: the settings, its wire log, fresh peers and the driver.
pub struct Ctx<'a> {
    /// The run's settings.
    pub settings: &'a Settings,
    /// This case's datagrams.
    pub log: WireLog,
    /// What earlier cases learnt.
    pub memo: &'a Memo,
    sources: &'a Sources,
    driver: Option<&'a mut (dyn Driver + 'static)>,
    peers: Vec<Peer>,
}

impl<'a> Ctx<'a> {
    /// A context for one case.
    pub fn new(
        settings: &'a Settings,
        memo: &'a Memo,
        sources: &'a Sources,
        driver: Option<&'a mut (dyn Driver + 'static)>,
    ) -> Ctx<'a> {
        Ctx { settings, log: WireLog::new(), memo, sources, driver, peers: Vec::new() }
    }

    /// A new peer on the next source address, to be sent a FIN when the case ends (so the
    /// target is idle for the next case).
    pub fn peer(&mut self) -> Result<Peer, Stop> {
        let peer = self.stranger()?;
        self.peers.push(peer.clone());
        Ok(peer)
    }

    /// A new peer that the target never has a session with: not cleaned up.
    pub fn stranger(&mut self) -> Result<Peer, Stop> {
        let ip = IpAddr::V4(self.sources.next());
        Peer::bind(SocketAddr::new(ip, 0), self.settings.target, self.log.clone())
    }

    /// The driver, or a skip saying one is needed.
    pub fn driver(&mut self) -> Result<&mut (dyn Driver + 'static), Stop> {
        match self.driver.as_deref_mut() {
            Some(d) => Ok(d),
            None => Err(Stop::Skip("needs a driver (--drive jsonl or --drive course)".to_owned())),
        }
    }

    /// Waits up to `within` for a user event matching `want`, logging every event; events
    /// that do not match are returned in order with it.
    pub fn wait_user(
        &mut self,
        within: Duration,
        want: impl Fn(&UserEvent) -> bool,
    ) -> Result<(Option<UserEvent>, Vec<UserEvent>), Stop> {
        let deadline = std::time::Instant::now() + within;
        let mut others = Vec::new();
        loop {
            self.check_interrupt()?;
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok((None, others));
            }
            let log = self.log.clone();
            let event = self.driver()?.next_event(left.min(Duration::from_millis(50)));
            match event {
                Ok(Some(e)) => {
                    log.note(Dir::User, &format!("user <- {e}"));
                    if want(&e) {
                        return Ok((Some(e), others));
                    }
                    others.push(e);
                }
                Ok(None) => {}
                Err(e) => return fail(format!("the driver lost the target's client port: {e}")),
            }
        }
    }

    /// Sends a command as the target's user, logging it.
    pub fn user(&mut self, command: crate::driver::UserCommand) -> Result<(), Stop> {
        self.log.note(Dir::User, &format!("user -> {command}"));
        if let Err(e) = self.driver()?.send(&command) {
            return fail(format!("the driver could not send {command} to the target's client port: {e}"));
        }
        Ok(())
    }

    /// Whether Ctrl-C was pressed.
    pub fn check_interrupt(&self) -> Result<(), Stop> {
        if crate::run::interrupted() {
            Err(Stop::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Leaves the target idle: the user leaves any chat, every peer of the case sends FIN
    /// (answered at once by a target in a session with it), and the user's events are drained.
    pub fn clean_up(&mut self) {
        self.log.note(Dir::User, "(clean-up: FIN from the case's peers, the user leaves)");
        let wait = self.settings.quiet();
        for peer in std::mem::take(&mut self.peers) {
            let _ = peer.send_kind(simp_proto::wire::Kind::Fin, 0, b"");
            let _ = peer.wait_for(wait, |s| s.kind() == Some(simp_proto::wire::Kind::Ack));
        }
        if self.driver.is_some() {
            let _ = self.user(crate::driver::UserCommand::Leave);
            // Drain the user's events until they stop for a moment (at most `wait`).
            let deadline = std::time::Instant::now() + wait;
            let moment = Duration::from_millis(100).min(wait);
            while let Ok((_, events)) = self.wait_user(moment, |_| false) {
                if events.is_empty() || std::time::Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &'static str) -> Case {
        Case { id, title: "", level: Level::Must, needs_driver: None, body: Body::Serial(|_| Ok(None)) }
    }

    #[test]
    fn a_selection_is_a_case_id_or_a_section_and_its_subsections() {
        let c = case("2.2/retransmit");
        assert_eq!(c.section(), "2.2");
        for yes in ["2.2/retransmit", "2.2", "2.2/", "2"] {
            assert!(c.matches(yes), "{yes}");
        }
        for no in ["2.", "2.21", "22", "2.2/retransmi", "1", "retransmit"] {
            assert!(!c.matches(no), "{no}");
        }
    }
}
