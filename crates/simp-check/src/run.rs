//! Running a selection of cases against a target: serial cases one by one (the target has
//! one session at a time), the busy and stranger cases concurrently around one host chat,
//! then the final liveness case. Ctrl-C stops at the next wait and keeps what was found.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use simp_proto::wire::Kind;

use crate::case::{fail, Body, Case, Ctx, Level, Memo, Outcome, Stop, Verdict};
use crate::driver::{Course, Driver, DriverError, Jsonl};
use crate::peer::Peer;
use crate::settings::{Drive, Settings, Sources};
use crate::wirelog::Entry;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every running case to stop at its next wait (Ctrl-C).
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Whether [`interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// The result of one case.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseResult {
    /// Case id, e.g. `2.2/retransmit`.
    pub id: &'static str,
    /// What the target must do.
    pub title: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// How it ended.
    pub outcome: Outcome,
    /// The diagnosis (FAIL, WARN) or the reason (SKIP).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// A SKIP because an earlier step failed (not merely "needs a driver"): the run does
    /// not pass.
    pub blocked: bool,
    /// A measurement worth showing on a PASS (an interval, a count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the case started, since the Unix epoch.
    #[serde(serialize_with = "secs")]
    pub started: Duration,
    /// How long the case took.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// The datagrams exchanged (and the driver's dialogue).
    pub wire: Vec<Entry>,
}

/// The outcome of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The target's address.
    pub target: String,
    /// The timeout the target was checked against.
    #[serde(serialize_with = "secs")]
    pub timeout: Duration,
    /// The driver used.
    pub drive: Drive,
    /// Whether WARN counts as failure.
    pub strict: bool,
    /// Whether Ctrl-C cut the run short.
    pub interrupted: bool,
    /// Wall time of the run.
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Per case, in the order of the suite.
    pub results: Vec<CaseResult>,
}

impl Report {
    /// Number of results with this outcome.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    /// Cases skipped because an earlier step failed.
    pub fn blocked(&self) -> usize {
        self.results.iter().filter(|r| r.blocked).count()
    }

    /// Whether every MUST (and with `strict`, every SHOULD) passed and the run was complete:
    /// no failure, nothing blocked by one, nothing left unrun.
    pub fn passed(&self) -> bool {
        !self.interrupted
            && self.count(Outcome::Fail) == 0
            && self.blocked() == 0
            && self.count(Outcome::NotRun) == 0
            && !(self.strict && self.count(Outcome::Warn) > 0)
    }

    /// The process exit code: 0 when [`Report::passed`], else 1.
    pub fn exit_code(&self) -> i32 {
        if self.passed() {
            0
        } else {
            1
        }
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The driver could not attach to the target's client port.
    #[error("cannot play the target's user at {addr} (--drive {drive:?}): {source}")]
    Driver {
        /// The client port tried.
        addr: std::net::SocketAddr,
        /// The dialect.
        drive: Drive,
        /// Why.
        source: DriverError,
    },
}

/// What the runner reports while it works, for a progress line.
#[derive(Debug, Clone)]
pub enum Progress<'a> {
    /// Case(s) started: index of the first (from 1), total, ids.
    Started(usize, usize, Vec<&'static str>),
    /// A case finished.
    Finished(&'a CaseResult),
}

/// The host chat of the concurrent cases: one peer in a chat with the target, shared.
pub struct Host {
    peer: Peer,
    seq: Mutex<u8>,
}

impl Host {
    /// Checks that the host's chat goes on: a chat datagram from the host is acknowledged.
    /// The exchange is logged in `ctx`'s wire log.
    pub fn still_chatting(&self, ctx: &Ctx<'_>, after: &str) -> Result<(), Stop> {
        let mut seq = self.seq.lock().unwrap_or_else(PoisonError::into_inner);
        let peer = self.peer.with_log(ctx.log.clone());
        peer.send_kind(Kind::Chat, *seq, b"still chatting?")?;
        let wait = ctx.settings.answer_wait();
        let (ack, _) = peer.wait_for(wait, |s| s.kind() == Some(Kind::Ack))?;
        if ack.is_none() {
            return fail(format!(
                "after {after}, your daemon no longer acknowledges its peer {} (chat seq {}) within {wait:?}: the chat did not go on; SPEC 2.4/2.5: the ongoing session is not disturbed",
                self.peer.addr, *seq
            ));
        }
        *seq ^= 1;
        Ok(())
    }
}

/// Runs `cases` against the target of `settings`.
pub fn run(
    settings: &Settings,
    cases: &[Case],
    strict: bool,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report, RunError> {
    let started = Instant::now();
    let sources = Sources::new(settings.source_base);
    let memo = Memo::default();
    let env = Env { settings, sources: &sources, memo: &memo };
    let mut driver = connect_driver(settings, &sources)?;
    let total = cases.len();
    let mut results: Vec<Option<CaseResult>> = vec![None; total];
    let order = |want: fn(&Body) -> bool| cases.iter().enumerate().filter(move |(_, c)| want(&c.body));

    for (i, case) in order(|b| matches!(b, Body::Serial(_))) {
        progress(Progress::Started(i + 1, total, vec![case.id]));
        let result = run_one(&env, driver.as_deref_mut(), case);
        progress(Progress::Finished(&result));
        results[i] = Some(result);
    }

    let shared: Vec<(usize, &Case)> = order(|b| matches!(b, Body::Shared(_))).collect();
    if !shared.is_empty() {
        let first = shared.first().map_or(0, |(i, _)| *i);
        progress(Progress::Started(first + 1, total, shared.iter().map(|(_, c)| c.id).collect()));
        for (i, result) in run_shared(&env, driver.as_deref_mut(), &shared) {
            progress(Progress::Finished(&result));
            results[i] = Some(result);
        }
    }

    for (i, case) in order(|b| matches!(b, Body::Last(_))) {
        progress(Progress::Started(i + 1, total, vec![case.id]));
        let result = run_one(&env, driver.as_deref_mut(), case);
        progress(Progress::Finished(&result));
        results[i] = Some(result);
    }

    Ok(Report {
        target: settings.target.to_string(),
        timeout: settings.timeout,
        drive: settings.drive,
        strict,
        interrupted: interrupted(),
        elapsed: started.elapsed(),
        results: results.into_iter().zip(cases).map(|(r, c)| r.unwrap_or_else(|| not_run(c))).collect(),
    })
}

fn connect_driver(settings: &Settings, sources: &Sources) -> Result<Option<Box<dyn Driver>>, RunError> {
    let wait = settings.answer_wait();
    let addr = settings.client;
    let error = |source| RunError::Driver { addr, drive: settings.drive, source };
    Ok(match settings.drive {
        Drive::None => None,
        Drive::Jsonl => Some(Box::new(Jsonl::connect(addr, wait).map_err(error)?)),
        Drive::Course => {
            let local = std::net::SocketAddr::new(std::net::IpAddr::V4(sources.next()), 0);
            Some(Box::new(Course::connect(local, addr, wait).map_err(error)?))
        }
    })
}

/// What every case of a run shares.
struct Env<'a> {
    settings: &'a Settings,
    sources: &'a Sources,
    memo: &'a Memo,
}

fn run_one(env: &Env<'_>, driver: Option<&mut (dyn Driver + 'static)>, case: &Case) -> CaseResult {
    let started = Instant::now();
    let has_driver = driver.is_some();
    let mut ctx = Ctx::new(env.settings, env.memo, env.sources, driver);
    let verdict = match (case.body, case.needs_driver) {
        _ if interrupted() => Err(Stop::Interrupted),
        (_, Some(why)) if !has_driver => {
            Err(Stop::Skip(format!("needs a driver (--drive jsonl or --drive course): this case {why}")))
        }
        (Body::Serial(body) | Body::Last(body), _) => body(&mut ctx),
        (Body::Shared(_), _) => Err(Stop::Blocked("a concurrent case cannot run alone".to_owned())),
    };
    ctx.clean_up();
    result(case, verdict, started, ctx.log.entries())
}

fn run_shared(
    env: &Env<'_>,
    driver: Option<&mut (dyn Driver + 'static)>,
    cases: &[(usize, &Case)],
) -> Vec<(usize, CaseResult)> {
    let started = Instant::now();
    let mut host_ctx = Ctx::new(env.settings, env.memo, env.sources, driver);
    let host = match crate::cases::session(&mut host_ctx) {
        Ok(peer) => Host { peer, seq: Mutex::new(0) },
        Err(stop) => {
            let why = match stop {
                Stop::Fail(why) | Stop::Skip(why) | Stop::Blocked(why) => {
                    format!("{why} (these cases need a chat to be busy in)")
                }
                Stop::Interrupted => String::new(),
            };
            let verdict = || if why.is_empty() { Err(Stop::Interrupted) } else { Err(Stop::Blocked(why.clone())) };
            let entries = host_ctx.log.entries();
            host_ctx.clean_up();
            return cases.iter().map(|(i, c)| (*i, result(c, verdict(), started, entries.clone()))).collect();
        }
    };
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(i, case)| {
                let host = &host;
                scope.spawn(move || {
                    let started = Instant::now();
                    let mut ctx = Ctx::new(env.settings, env.memo, env.sources, None);
                    let verdict = match case.body {
                        _ if interrupted() => Err(Stop::Interrupted),
                        Body::Shared(body) => body(&mut ctx, host),
                        Body::Serial(_) | Body::Last(_) => Err(Stop::Blocked("not a concurrent case".to_owned())),
                    };
                    (i, result(case, verdict, started, ctx.log.entries()))
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(cases)
            .map(|(h, (i, case))| {
                h.join().unwrap_or_else(|_| {
                    (
                        *i,
                        result(
                            case,
                            Err(Stop::Fail("the checker itself panicked in this case; please report it".to_owned())),
                            started,
                            Vec::new(),
                        ),
                    )
                })
            })
            .collect()
    });
    host_ctx.clean_up();
    results
}

fn result(case: &Case, verdict: Verdict, started: Instant, wire: Vec<Entry>) -> CaseResult {
    let blocked = matches!(verdict, Err(Stop::Blocked(_)));
    let (outcome, detail, note) = match verdict {
        Ok(note) => (Outcome::Pass, None, note),
        Err(Stop::Fail(d)) if case.level == Level::Should => (Outcome::Warn, Some(d), None),
        Err(Stop::Fail(d)) => (Outcome::Fail, Some(d), None),
        Err(Stop::Skip(r) | Stop::Blocked(r)) => (Outcome::Skip, Some(r), None),
        Err(Stop::Interrupted) => (Outcome::NotRun, Some("interrupted".to_owned()), None),
    };
    CaseResult {
        id: case.id,
        title: case.title,
        level: case.level,
        outcome,
        detail,
        blocked,
        note,
        started: std::time::SystemTime::now()
            .checked_sub(started.elapsed())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .unwrap_or_default(),
        duration: started.elapsed(),
        wire,
    }
}

fn not_run(case: &Case) -> CaseResult {
    result(case, Err(Stop::Interrupted), Instant::now(), Vec::new())
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
