//! The client's state machine, free of I/O: events and typed lines go in, commands for the
//! daemon come out, and the front ends (plain mode, full-screen interface) only show
//! [`App::log`], [`App::phase`] and [`App::prompt`].
//!
//! It follows the course's flow (IPC.md, last section): ask the name; if a request is pending,
//! ask accept/decline; otherwise offer start (ask the peer) or wait; in a chat, typed lines are
//! messages. `q` quits from every menu and prompt; in a chat `/quit` quits and `/leave` ends it.
//! What each line means is in [`crate::words`], what the client says in [`crate::texts`], and
//! the log it keeps in [`crate::log`].
//!
//! Every string taken from an event is escaped ([`crate::escape`]) as it enters, so nothing
//! stored here can reach a terminal raw.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;

use chrono::{NaiveDateTime, SubsecRound};
use simp_proto::ipc::{parse_peer, Command, Direction, ErrorCode, Event, MAX_LINE};
use simp_proto::wire::{validate_text, UserName};

use crate::config::{self, Contacts};
use crate::history::History;
use crate::log::{Change, Delivery, Entry, EntryKind, Log};
use crate::restart::Restart;
use crate::{escape, texts, words};

/// Where the conversation with the daemon stands. Variants carry what the prompt and the
/// status bar show, already escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Asking the local user's name.
    AskName,
    /// `connect` sent, waiting for `connected`.
    Connecting,
    /// Start a chat, wait for a call, or quit.
    Menu,
    /// Asking the peer's address.
    AskPeer,
    /// Waiting for a call.
    Waiting,
    /// A request waits for accept or decline.
    Ringing {
        /// Caller's address.
        peer: String,
        /// Caller's name.
        user: String,
    },
    /// `accept` sent, waiting for `established`.
    Accepting {
        /// Caller's address.
        peer: String,
        /// Caller's name.
        user: String,
    },
    /// `start` sent, waiting for `calling`.
    Starting {
        /// Peer as typed.
        peer: String,
    },
    /// Our call is out.
    Calling {
        /// Callee's address.
        peer: String,
    },
    /// `/lan` found daemons: call one by its number.
    PickLan {
        /// The daemons, in the order shown.
        daemons: Vec<LanChoice>,
    },
    /// A chat is open: typed lines are messages.
    Chatting {
        /// Peer's address.
        peer: String,
        /// Peer's name.
        user: String,
    },
    /// `leave` sent, waiting for `ended`.
    Leaving {
        /// What is being left, e.g. `chat with bob`, for the `ended` line.
        what: String,
        /// A call of ours not yet answered: its end says it was cancelled, not left.
        cancelling: bool,
    },
    /// The connection to the daemon is gone; the front end tries to connect again (the
    /// full-screen interface: [`App::daemon_lost`]). Typed lines other than quitting are refused.
    Reconnecting {
        /// The daemon's client address.
        daemon: String,
    },
    /// `quit` sent (or nothing left to say): the front end should wind down.
    Quitting,
}

impl Phase {
    /// Phases that only wait for the daemon's answer. Lines typed meanwhile (other than `q`)
    /// are held and replayed once the answer arrives, so a script may type ahead.
    pub fn is_transient(&self) -> bool {
        matches!(self, Phase::Connecting | Phase::Starting { .. } | Phase::Accepting { .. } | Phase::Leaving { .. })
    }
}

/// A daemon `/lan` found, as the list shows it; escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanChoice {
    /// The address to call ([`crate::lan::call_address`]).
    pub addr: String,
    /// The user attached to it, if any.
    pub user: Option<String>,
}

/// Something the user may want to hear about even when not looking: the full-screen
/// interface turns it into a bell, a window title and a desktop notification. Strings are
/// escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// A call waits for an answer.
    Call {
        /// The caller's name.
        user: String,
        /// The caller's address (or contact name).
        peer: String,
    },
    /// A message arrived.
    Message {
        /// The sender.
        user: String,
        /// Its first line.
        text: String,
    },
}

/// The client state machine. See the module docs.
#[derive(Debug)]
pub struct App {
    phase: Phase,
    user: Option<String>,
    daemon: Option<String>,
    log: Log,
    prompt_due: bool,
    next_id: u64,
    held: VecDeque<String>,
    refused: Option<String>,
    /// The input ended (plain mode): finish what is queued, then quit.
    ending: bool,
    contacts: Contacts,
    /// The last peer a chat opened with, and its user name (escaped): what `/save` saves.
    last_peer: Option<(SocketAddr, String)>,
    /// A contact `/save` added, for the front to write to the config file.
    to_save: Option<(String, SocketAddr)>,
    alerts: Vec<Alert>,
    /// `--utf8`: non-ASCII text is sent, not refused.
    utf8: bool,
    /// [`texts::UTF8_WARNING`] was shown: it is shown once.
    utf8_warned: bool,
    /// Every received message shown, by its store id and arrival stamp, from `message` events
    /// and from the history: the daemon delivers every message again on each connect until it
    /// is confirmed (IPC.md `seen`), the history holds messages shown already, and a history
    /// page may show one before its `message` event comes; none is shown twice. The stamp
    /// tells apart a daemon started again on another store, whose ids start over.
    /// `message` event comes.
    shown: HashSet<(u64, u64)>,
    /// The stored history of chats (the full-screen interface only).
    history: History,
    /// When `connected` came: a message that arrived before it was stored while no client was
    /// attached, and is new to the user.
    connected_at: Option<NaiveDateTime>,
    /// The unread line was drawn above the messages stored while away.
    away_marked: bool,
    /// Sent messages the daemon kept across its restart (IPC.md `held`).
    restart: Restart,
    /// The message that was on its way when the chat gave up was marked: the next ones given up
    /// waited behind it (until `ended`).
    gave_up_in_flight: bool,
    /// The name `connect` was sent with: sent again when the daemon is back.
    login: Option<String>,
    /// The connection came back and the `connected` awaited is the answer to a reconnection.
    reconnecting: bool,
    /// `/lan` asked for a listing the front has not started yet.
    lan_wanted: bool,
    /// A `/lan` listing runs.
    lan_running: bool,
    /// When our call went out, until the "still ringing" line is shown (once per call).
    ringing_since: Option<NaiveDateTime>,
    /// The [`Entry::seq`](crate::log::Entry::seq) of the last "chat … open" line: the chat's
    /// stored history goes above it, so the log runs in time order.
    open_line: Option<u64>,
}

impl App {
    /// A client that first asks the user's name.
    pub fn new() -> App {
        App {
            phase: Phase::AskName,
            user: None,
            daemon: None,
            log: Log::new(),
            prompt_due: true,
            next_id: 1,
            held: VecDeque::new(),
            refused: None,
            ending: false,
            contacts: Contacts::default(),
            last_peer: None,
            to_save: None,
            alerts: Vec::new(),
            utf8: false,
            utf8_warned: false,
            shown: HashSet::new(),
            history: History::new(false),
            connected_at: None,
            away_marked: false,
            restart: Restart::new(),
            gave_up_in_flight: false,
            login: None,
            reconnecting: false,
            lan_wanted: false,
            lan_running: false,
            ringing_since: None,
            open_line: None,
        }
    }

    /// When the App wants [`App::on_tick`] called, if it does: a call still ringing
    /// [`RING_HINT_AFTER`] after it went out gets a line saying so.
    pub fn wakeup(&self) -> Option<NaiveDateTime> {
        let since = self.ringing_since.filter(|_| matches!(self.phase, Phase::Calling { .. }))?;
        Some(since + RING_HINT_AFTER)
    }

    /// Time passed: says once that a call is still ringing. SIMP tells the caller nothing
    /// until the callee's user decides (SPEC 2.1: re-sent SYNs are not acknowledged), so the
    /// line cannot say whether anyone is there to accept; it says how long it may ring and how
    /// to give up.
    pub fn on_tick(&mut self, now: NaiveDateTime) {
        if let (Some(at), Phase::Calling { peer }) = (self.wakeup(), &self.phase) {
            if now >= at {
                let line = texts::still_ringing(peer);
                self.ringing_since = None;
                self.push(now, EntryKind::Info(line));
            }
        }
    }

    /// Whether `/lan` asked for a listing of the daemons on the LAN since the last call: the
    /// front listens ([`crate::lan::browse`]) and hands the result to [`App::on_lan`].
    pub fn take_lan_request(&mut self) -> bool {
        std::mem::take(&mut self.lan_wanted)
    }

    /// The daemons `/lan` found (or why it could not look): listed, and offered for a call
    /// when nothing else is going on.
    pub fn on_lan(&mut self, found: Result<Vec<crate::lan::LanDaemon>, String>, now: NaiveDateTime) {
        self.lan_running = false;
        let daemons: Vec<LanChoice> = match found {
            Err(why) => return self.push(now, EntryKind::Error(texts::lan_failed(&escape::field(&why)))),
            Ok(found) if found.is_empty() => return self.push(now, EntryKind::Info(texts::LAN_NONE.into())),
            Ok(found) => found
                .iter()
                .map(|d| LanChoice { addr: crate::lan::call_address(d), user: d.user.as_deref().map(escape::field) })
                .collect(),
        };
        for (i, d) in daemons.iter().enumerate() {
            self.push(now, EntryKind::Info(texts::lan_entry(i + 1, &d.addr, d.user.as_deref())));
        }
        if matches!(self.phase, Phase::Menu | Phase::AskPeer | Phase::Waiting | Phase::PickLan { .. }) {
            self.set_phase(Phase::PickLan { daemons });
        }
    }

    /// Shows the stored history of each chat as it opens, with a line above the first message
    /// the user had not seen, and pages back on [`App::older_history`] (the full-screen
    /// interface; issue 13 "History").
    pub fn set_history(&mut self, enabled: bool) {
        self.history = History::new(enabled);
    }

    /// The user scrolled to the top of the log: asks for the page of stored messages before
    /// the oldest shown with the current (or last) peer, if there is one.
    pub fn older_history(&mut self) -> Vec<Command> {
        self.history.older().into_iter().collect()
    }

    /// Whether a `history` answer is on its way (the status bar says so).
    pub fn history_pending(&self) -> bool {
        self.history.is_pending()
    }

    /// Uses these contacts for `/call NAME`, for showing callers by name and for `/save`.
    pub fn set_contacts(&mut self, contacts: Contacts) {
        self.contacts = contacts;
    }

    /// The contacts, with those `/save` added in this session.
    pub fn contacts(&self) -> &Contacts {
        &self.contacts
    }

    /// `--utf8`: send non-ASCII text as UTF-8 instead of refusing it, with a warning the
    /// first time (SPEC 1, "Beyond ASCII").
    pub fn set_utf8(&mut self, utf8: bool) {
        self.utf8 = utf8;
    }

    /// The contact `/save` just added, to be written to the config file; the caller reports a
    /// failure with [`App::note_error`].
    pub fn take_contact_to_save(&mut self) -> Option<(String, SocketAddr)> {
        self.to_save.take()
    }

    /// Takes the alerts since the last call.
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.alerts)
    }

    /// Logs a local error (a config file that could not be written).
    pub fn note_error(&mut self, message: &str, now: NaiveDateTime) {
        self.push(now, EntryKind::Error(escape::field(message)));
    }

    /// A client whose name was given on the command line; send the returned `connect` first.
    pub fn with_user(name: &str, now: NaiveDateTime) -> (App, Vec<Command>) {
        let mut app = App::new();
        let cmds = app.on_line(name, now);
        (app, cmds)
    }

    /// Where things stand.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The local user's name once the daemon confirmed it.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The daemon's UDP address once connected.
    pub fn daemon(&self) -> Option<&str> {
        self.daemon.as_deref()
    }

    /// The conversation so far.
    pub fn log(&self) -> &[Entry] {
        self.log.entries()
    }

    /// Why the daemon turned this client away (`client-busy`), if it did: the closing
    /// connection that follows is then no mystery.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }

    /// Whether the front end should stop reading input and wind down.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Quitting
    }

    /// Takes the log changes since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        self.log.take_changes()
    }

    /// Forgets the oldest entries beyond [`LOG_LIMIT`](crate::log::LOG_LIMIT). Called by a
    /// front once it has shown the changes (their indexes are into the untrimmed log).
    pub fn trim_log(&mut self) {
        self.log.trim();
    }

    /// The question or hint for the current phase, if it has one.
    pub fn prompt(&self) -> Option<String> {
        texts::prompt(&self.phase)
    }

    /// The prompt if it should be shown (again) since the last call: after a phase change or
    /// a refused answer. Plain mode prints it on its own line.
    pub fn take_prompt(&mut self) -> Option<String> {
        if std::mem::take(&mut self.prompt_due) {
            self.prompt()
        } else {
            None
        }
    }

    /// Quits from anywhere (Esc q, Ctrl-C, stdin closed): leaves any chat via the daemon.
    pub fn quit(&mut self) -> Vec<Command> {
        let connect_sent = !matches!(self.phase, Phase::AskName | Phase::Quitting);
        self.set_phase(Phase::Quitting);
        self.held.clear();
        if connect_sent {
            vec![Command::Quit]
        } else {
            Vec::new()
        }
    }

    /// The connection to the daemon at `daemon` is gone and the front tries to connect again
    /// (the full-screen interface; plain mode ends instead). The log stays; what ran through
    /// the daemon is over: a call or chat ends, lines typed ahead for it are dropped, and
    /// messages the daemon never said it took are marked undelivered (those it did are kept in
    /// its store, and come back as `held` if it is restarted on the same state directory).
    /// `restart` is the command that starts it again, for the line saying it is gone.
    pub fn daemon_lost(&mut self, daemon: SocketAddr, restart: &str, now: NaiveDateTime) {
        if self.phase == Phase::Quitting {
            return;
        }
        let daemon = daemon.to_string();
        if matches!(
            self.phase,
            Phase::Ringing { .. }
                | Phase::Accepting { .. }
                | Phase::Starting { .. }
                | Phase::Calling { .. }
                | Phase::Chatting { .. }
                | Phase::Leaving { .. }
        ) {
            self.push(now, EntryKind::Info(texts::ended_with_daemon(&texts::what(&self.phase))));
        }
        self.refuse_held(now);
        self.log.mark_unqueued(&Delivery::Undelivered(texts::DAEMON_WENT_AWAY.into()), now);
        for event in self.history.connection_lost() {
            // Shown now; their `seen` went with the connection, and the daemon delivers them
            // again on the next `connect`, where they are confirmed and not shown twice.
            drop(self.on_event(event, now));
        }
        self.reconnecting = false;
        self.push(now, EntryKind::Error(texts::daemon_gone(&daemon, restart)));
        self.set_phase(Phase::Reconnecting { daemon });
    }

    /// The daemon answers again: `connect` with the name it had (the daemon replays what this
    /// client has not confirmed; nothing shown already is shown again), or the name is asked
    /// if it had none yet.
    pub fn reconnected(&mut self, now: NaiveDateTime) -> Vec<Command> {
        let Phase::Reconnecting { daemon } = self.phase.clone() else { return Vec::new() };
        self.push(now, EntryKind::Info(texts::daemon_back(&daemon)));
        match self.login.clone() {
            Some(user) => {
                self.reconnecting = true;
                self.set_phase(Phase::Connecting);
                vec![Command::Connect { user }]
            }
            None => {
                self.set_phase(Phase::AskName);
                Vec::new()
            }
        }
    }

    /// The input ended (plain mode's stdin closed): finish what is queued — lines held for a
    /// chat that is still being set up, messages not yet delivered — then quit. Returns the
    /// `quit` once nothing is left (perhaps at once).
    pub fn end_of_input(&mut self) -> Vec<Command> {
        self.ending = true;
        self.finish_if_done()
    }

    /// Handles one typed line in the current phase.
    pub fn on_line(&mut self, line: &str, now: NaiveDateTime) -> Vec<Command> {
        let trimmed = line.trim();
        if self.phase.is_transient() {
            // Quitting at once is for a user who is tired of waiting; a line typed behind
            // others is a script's, and keeps its place (`/quit` after its messages).
            if self.held.is_empty() && words::is_quit_while_waiting(trimmed) {
                return self.quit();
            }
            self.held.push_back(line.to_owned());
            return Vec::new();
        }
        match self.phase.clone() {
            Phase::AskName => {
                if trimmed == words::QUIT {
                    return self.quit();
                }
                match UserName::new(line) {
                    Ok(name) => {
                        self.set_phase(Phase::Connecting);
                        self.login = Some(name.as_str().to_owned());
                        vec![Command::Connect { user: name.as_str().to_owned() }]
                    }
                    Err(err) => self.refuse(now, err.to_string()),
                }
            }
            Phase::Menu => {
                let (word, rest) = trimmed.split_once(' ').map_or((trimmed, ""), |(w, r)| (w, r.trim()));
                match word {
                    "" => {
                        self.prompt_due = true;
                        Vec::new()
                    }
                    w if words::is_quit(w) => self.quit(),
                    w if words::is_start(w) && rest.is_empty() => {
                        self.set_phase(Phase::AskPeer);
                        Vec::new()
                    }
                    w if words::is_start(w) => self.start(rest, now),
                    w if words::is_wait(w) => {
                        self.set_phase(Phase::Waiting);
                        Vec::new()
                    }
                    w if words::is_lan(w) && rest.is_empty() => self.slash(words::CHAT_LAN, now),
                    w if w.starts_with(words::CHAT_COMMAND) => self.slash(trimmed, now),
                    _ if parse_peer(&config::resolve_peer(trimmed, &self.contacts)).is_ok() => self.start(trimmed, now),
                    _ => self.refuse(now, texts::not_a_choice(&escape::field(trimmed))),
                }
            }
            Phase::AskPeer => match trimmed {
                words::QUIT => self.quit(),
                t if t.starts_with(words::CHAT_COMMAND) => self.slash(t, now),
                "" => {
                    self.set_phase(Phase::Menu);
                    Vec::new()
                }
                peer => self.start(peer, now),
            },
            Phase::Waiting => match trimmed {
                w if words::is_quit(w) => self.quit(),
                t if t.starts_with(words::CHAT_COMMAND) => self.slash(t, now),
                w if words::is_menu(w) => {
                    self.set_phase(Phase::Menu);
                    Vec::new()
                }
                _ => self.refuse(now, texts::NO_CALL_YET.into()),
            },
            Phase::Ringing { peer, user } => match trimmed {
                w if words::is_quit(w) => self.quit(),
                w if words::is_accept(w) => {
                    self.set_phase(Phase::Accepting { peer, user });
                    vec![Command::Accept]
                }
                w if words::is_decline(w) => {
                    self.push(now, EntryKind::Info(texts::declined(&user, &peer)));
                    self.set_phase(Phase::Menu);
                    vec![Command::Decline]
                }
                _ => self.refuse(now, texts::ANSWER_THE_REQUEST.into()),
            },
            // While the call rings, `q`, `c` and the commands that only show something act
            // now; anything else waits for the chat (it is refused if the call fails), and so do
            // `/quit`, `/leave` and `/help` typed behind it.
            Phase::Calling { .. } => match trimmed {
                t if words::is_local_command(t) && self.held.is_empty() => self.slash(t, now),
                w if words::is_quit(w) && (w != words::CHAT_QUIT || self.held.is_empty()) => self.quit(),
                w if words::is_cancel(w) && (w != words::CHAT_LEAVE || self.held.is_empty()) => {
                    self.refuse_held(now);
                    self.leave()
                }
                "" => Vec::new(),
                _ => {
                    self.held.push_back(line.to_owned());
                    Vec::new()
                }
            },
            Phase::PickLan { daemons } => match trimmed {
                w if words::is_quit(w) => self.quit(),
                t if t.starts_with(words::CHAT_COMMAND) => self.slash(t, now),
                "" => {
                    self.set_phase(Phase::Menu);
                    Vec::new()
                }
                n => match n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).and_then(|i| daemons.get(i)) {
                    Some(choice) => self.start(&choice.addr, now),
                    None if parse_peer(&config::resolve_peer(n, &self.contacts)).is_ok() => self.start(n, now),
                    None => self.refuse(now, texts::not_a_choice(&escape::field(n))),
                },
            },
            Phase::Chatting { .. } => self.chat_line(line, now),
            Phase::Reconnecting { daemon } => match trimmed {
                w if words::is_quit(w) => self.quit(),
                t if words::is_local_command(t) => self.slash(t, now),
                "" => Vec::new(),
                _ => self.refuse(now, texts::not_connected(&daemon)),
            },
            Phase::Connecting
            | Phase::Starting { .. }
            | Phase::Accepting { .. }
            | Phase::Leaving { .. }
            | Phase::Quitting => Vec::new(),
        }
    }

    /// Whether the last event began or continued a run of `held` events whose line no front
    /// has shown yet: the event loop waits a moment for the rest before showing it.
    pub fn in_held_run(&self) -> bool {
        self.restart.run_open(&self.log)
    }

    /// Handles one event from the daemon. May return commands: lines typed ahead during a
    /// wait are replayed once the wait is over.
    pub fn on_event(&mut self, event: Event, now: NaiveDateTime) -> Vec<Command> {
        let Some(event) = self.history.take(event) else { return Vec::new() };
        match event {
            Event::Connected { user, daemon, version: _ } => {
                // To the millisecond, as the daemon stamps messages: one that arrived in the
                // same millisecond is not from before.
                self.connected_at = Some(now.trunc_subsecs(3));
                let (user, daemon) = (escape::field(&user), daemon.to_string());
                let line = if std::mem::take(&mut self.reconnecting) {
                    texts::reconnected(&daemon, &user)
                } else {
                    texts::connected(&daemon, &user)
                };
                self.push(now, EntryKind::Info(line));
                self.user = Some(user);
                self.daemon = Some(daemon);
                if matches!(self.phase, Phase::Connecting | Phase::AskName) {
                    self.set_phase(Phase::Menu);
                }
            }
            Event::Request { peer, user } => {
                let (peer, user) = (self.peer_label(&peer), escape::field(&user));
                self.push(now, EntryKind::Info(texts::request(&user, &peer)));
                self.alerts.push(Alert::Call { user: user.clone(), peer: peer.clone() });
                if self.phase != Phase::Quitting {
                    self.set_phase(Phase::Ringing { peer, user });
                }
            }
            Event::Calling { peer } => {
                let peer = self.peer_label(&peer);
                self.push(now, EntryKind::Info(texts::calling(&peer)));
                if self.phase != Phase::Quitting {
                    self.ringing_since = Some(now);
                    self.set_phase(Phase::Calling { peer });
                }
            }
            Event::Established { peer: raw_peer, user } => {
                let (peer, user) = (self.peer_label(&raw_peer), escape::field(&user));
                self.push(now, EntryKind::Info(texts::chat_open(&user, &peer)));
                self.open_line = self.log.entries().last().map(|entry| entry.seq);
                if self.contacts.name_of(raw_peer).is_none() {
                    let suggested = config::check_contact_name(&user).is_ok().then_some(user.as_str());
                    self.push(now, EntryKind::Info(texts::offer_to_save(&peer, suggested)));
                }
                self.last_peer = Some((raw_peer, user.clone()));
                if self.phase != Phase::Quitting {
                    self.set_phase(Phase::Chatting { peer, user });
                }
                if let Some(ask) = self.history.open(raw_peer) {
                    let mut commands = vec![ask];
                    commands.extend(self.replay_held(now));
                    return commands;
                }
            }
            Event::Message { id, at, user, text } => {
                // Confirmed whether or not it was shown before: an earlier `seen` may have
                // been lost with the connection.
                let seen = Command::Seen { ids: vec![id] };
                if !self.shown.insert((id, at)) {
                    return vec![seen];
                }
                let (user, lines) = (escape::field(&user), escape::message_lines(&text));
                let first = lines.first().cloned().unwrap_or_default();
                self.alerts.push(Alert::Message { user: user.clone(), text: first });
                // Shown at its time of arrival: a message delivered again after a restart
                // keeps its own.
                let arrived = arrival_time(at).unwrap_or(now);
                let away = self.connected_at.is_some_and(|connected| arrived < connected);
                if away && self.history.is_enabled() && !std::mem::replace(&mut self.away_marked, true) {
                    self.push(arrived, EntryKind::Unread);
                }
                self.log.push_stored(arrived, EntryKind::Incoming { user, lines }, Some(id));
                let mut commands = self.replay_held(now);
                commands.insert(0, seen);
                return commands;
            }
            Event::Queued { id } => self.log.mark_queued(&id),
            Event::Delivered { id } => self.settled(&id, Delivery::Delivered, now),
            Event::Undelivered { id, reason } => {
                let mut reason = reason.to_string();
                if self.was_on_its_way(&id, &reason) {
                    reason = texts::may_have_arrived(&reason);
                }
                self.settled(&id, Delivery::Undelivered(reason), now);
            }
            Event::Held { id, peer, text, at } => {
                let label = self.peer_label(&peer);
                let held = crate::restart::HeldMessage { id, peer, label: &label, text: &text, sent: arrival_time(at) };
                self.restart.held(&mut self.log, held, now);
            }
            Event::Ended { reason, detail } => {
                self.gave_up_in_flight = false;
                let detail = detail.map(|d| escape::field(&d));
                let what = texts::what(&self.phase);
                // `you left` that no `leave` or `quit` of ours asked for: the daemon left the
                // chat itself, as it does when it stops (SIGTERM, SIGINT).
                let ours = matches!(self.phase, Phase::Leaving { .. } | Phase::Quitting);
                let cancelled = matches!(self.phase, Phase::Leaving { cancelling: true, .. });
                let line = if reason == simp_proto::ipc::EndReason::YouLeft && !ours {
                    texts::ended_by_daemon(&what)
                } else if reason == simp_proto::ipc::EndReason::YouLeft && cancelled {
                    texts::cancelled(&what)
                } else {
                    texts::ended(&what, &reason, detail.as_deref())
                };
                self.push(now, EntryKind::Info(line));
                if matches!(self.phase, Phase::Starting { .. } | Phase::Calling { .. }) {
                    self.refuse_held(now);
                }
                if matches!(
                    self.phase,
                    Phase::Ringing { .. }
                        | Phase::Accepting { .. }
                        | Phase::Starting { .. }
                        | Phase::Calling { .. }
                        | Phase::Chatting { .. }
                        | Phase::Leaving { .. }
                ) {
                    self.set_phase(Phase::Menu);
                }
            }
            Event::Error { code, message } => {
                if let Some(held) = self.history.fail(code) {
                    self.push(now, EntryKind::Error(texts::no_history(&escape::field(&message))));
                    let mut commands: Vec<Command> =
                        held.into_iter().flat_map(|event| self.on_event(event, now)).collect();
                    commands.extend(self.history.resume());
                    return commands;
                }
                self.on_error(code, &escape::field(&message), now)
            }
            // What a daemon's codec sends as an `error` event; handled the same way.
            Event::Refused(refusal) => {
                let message = simp_proto::ipc::jsonl::refusal_message(&refusal);
                self.on_error(refusal.code(), &escape::field(&message), now)
            }
            Event::Missed { peer, user } => {
                let (peer, user) = (self.peer_label(&peer), escape::field(&user));
                self.push(now, EntryKind::Info(texts::missed(&user, &peer)));
            }
            Event::Status(status) => self.push(now, EntryKind::Info(texts::status(&status))),
            Event::PeerQuirk { quirk, detail } => {
                self.push(now, EntryKind::Info(texts::peer_quirk(quirk.as_str(), &escape::field(&detail))))
            }
            Event::HistoryEnd { .. } => return self.show_history(now),
            // An entry that no request awaits (the history takes those it does), and the
            // answer to a command this client does not send.
            Event::History(_) | Event::Forgotten { .. } => {}
        }
        self.replay_held(now)
    }

    /// A `history` answer is complete: shows it (above the oldest message shown, for a page
    /// further back), then the messages held back meanwhile. Returns the `seen` for the
    /// messages the user sees here first, and whatever the held messages ask for.
    fn show_history(&mut self, now: NaiveDateTime) -> Vec<Command> {
        let Some(answer) = self.history.finish() else { return Vec::new() };
        let mut seen = Vec::new();
        // Only the first page can reach messages not seen yet.
        let mut marked = answer.older;
        let mut block = Vec::new();
        for entry in &answer.entries {
            let time = arrival_time(entry.at).unwrap_or(now);
            let (user, lines) = (escape::field(&entry.user), escape::message_lines(&entry.text));
            let kind = match entry.direction {
                Direction::In => {
                    if !self.shown.insert((entry.id, entry.at)) {
                        continue;
                    }
                    if entry.outcome == UNSEEN {
                        seen.push(entry.id);
                        // The line marks what came while the user was away, not a message
                        // that arrives as the chat opens.
                        let away = self.connected_at.is_some_and(|connected| time < connected);
                        if away && !std::mem::replace(&mut marked, true) {
                            block.push((time, EntryKind::Unread, None));
                        }
                    }
                    EntryKind::Incoming { user, lines }
                }
                Direction::Out => {
                    let delivery = stored_delivery(&entry.outcome);
                    EntryKind::Outgoing { user, id: String::new(), lines, delivery, queued: true }
                }
            };
            block.push((time, kind, Some(entry.id)));
        }
        if answer.older {
            if answer.exhausted {
                let time = block.first().map_or(now, |(time, ..)| *time);
                block.insert(0, (time, EntryKind::Info(texts::history_start(&self.peer_label(&answer.peer))), None));
            }
            let at = answer.above.and_then(|id| self.log.position_of_stored(id)).unwrap_or(0);
            self.log.insert(at, block);
        } else {
            // What came before the chat opened goes above the line saying it did (that line
            // came first, the answer after it), under a line saying where it comes from: what
            // is above it in the log (the call, another chat) is later. That line takes the
            // time of the one above it, so the stamps only go back where it says they do.
            // What arrived since (a greeting as the chat opened: its `message` event came after
            // `established`, and waited for this answer) follows below, in order. Their stamps
            // cannot tell: the daemon may store one before this client has handled
            // `established`.
            let open = self.open_line.and_then(|seq| self.log.entries().iter().position(|e| e.seq == seq));
            let at = open.unwrap_or(self.log.entries().len());
            let arrived_since: HashSet<u64> = answer
                .held
                .iter()
                .filter_map(|event| match event {
                    Event::Message { id, at, .. } if !self.arrived_while_away(*at) => Some(*id),
                    _ => None,
                })
                .collect();
            let (after, above): (Vec<_>, Vec<_>) =
                block.into_iter().partition(|(_, _, stored)| stored.is_some_and(|id| arrived_since.contains(&id)));
            let mut block = above;
            if !block.is_empty() {
                let above = at.checked_sub(1).and_then(|i| self.log.entries().get(i)).map(|entry| entry.time);
                let time = above.or(block.first().map(|(time, ..)| *time)).unwrap_or(now);
                let peer = self.peer_label(&answer.peer);
                block.insert(0, (time, EntryKind::Info(texts::earlier_messages(&peer)), None));
                self.log.insert(at, block);
            }
            for (time, kind, stored) in after {
                self.log.push_stored(time, kind, stored);
            }
        }
        let mut commands: Vec<Command> = if seen.is_empty() { Vec::new() } else { vec![Command::Seen { ids: seen }] };
        for event in answer.held {
            commands.extend(self.on_event(event, now));
        }
        commands.extend(self.replay_held(now));
        commands.extend(self.history.resume());
        commands
    }

    /// Whether a message stamped `at` (IPC.md: milliseconds since the epoch) was stored
    /// before this client connected, while nobody was attached.
    fn arrived_while_away(&self, at: u64) -> bool {
        let arrived = arrival_time(at);
        self.connected_at.is_some_and(|connected| arrived.is_some_and(|arrived| arrived < connected))
    }

    /// Records a line the daemon sent that could not be decoded.
    pub fn on_garbled(&mut self, what: &str, now: NaiveDateTime) {
        self.push(now, EntryKind::Error(escape::field(what)));
    }

    fn on_error(&mut self, code: ErrorCode, message: &str, now: NaiveDateTime) {
        if code == ErrorCode::ClientBusy {
            self.refused = Some(message.to_owned());
        }
        self.push(now, EntryKind::Error(texts::daemon_error(code, message)));
        match (&self.phase, code) {
            (Phase::Connecting, ErrorCode::BadUser) => self.set_phase(Phase::AskName),
            // Errors never change the daemon's state (IPC.md): the answer we waited for is
            // not coming, so go back to where a choice can be made.
            (Phase::Starting { .. } | Phase::Accepting { .. } | Phase::Leaving { .. }, _) => {
                if matches!(self.phase, Phase::Starting { .. }) {
                    self.refuse_held(now);
                }
                self.set_phase(Phase::Menu)
            }
            (_, ErrorCode::BadText | ErrorCode::QueueFull | ErrorCode::LineTooLong | ErrorCode::NotInChat) => {
                // The daemon answers each `chat` in order with `queued` or an error, so the
                // oldest message not yet queued is the one refused.
                self.log.mark_oldest_unqueued(Delivery::Undelivered(texts::error_code(code)), now);
            }
            _ => {}
        }
    }

    fn chat_line(&mut self, line: &str, now: NaiveDateTime) -> Vec<Command> {
        let text = line.trim_end_matches(['\r', '\n']);
        let text = match text.trim() {
            words::CHAT_QUIT => return self.quit(),
            words::CHAT_LEAVE => return self.leave(),
            words::CHAT_STATUS => return vec![Command::Status],
            "" => return Vec::new(),
            _ if text.starts_with(words::CHAT_SLASH_TEXT) => &text[1..],
            t if t.starts_with(words::CHAT_COMMAND) => return self.slash(t, now),
            _ => text,
        };
        self.send_text(text, now)
    }

    /// A `/` command outside the phase's own words: `/help`, `/who`, `/clear`, `/quit`,
    /// `/status`, `/call`, `/save`, `/lan`, `/me`, or one this client does not know. Every
    /// command [`texts::help`] lists for a phase works there.
    fn slash(&mut self, line: &str, now: NaiveDateTime) -> Vec<Command> {
        let (cmd, arg) = line.split_once(char::is_whitespace).map_or((line, ""), |(c, a)| (c, a.trim()));
        let chatting = matches!(self.phase, Phase::Chatting { .. });
        match cmd {
            words::CHAT_HELP => {
                for line in texts::help(&self.phase) {
                    self.push(now, EntryKind::Info(line.into()));
                }
            }
            words::CHAT_WHO => {
                let lines = texts::who(self.user(), self.daemon(), &self.phase, &self.contacts);
                lines.into_iter().for_each(|line| self.push(now, EntryKind::Info(line)));
            }
            words::CHAT_CLEAR => self.log.clear(),
            words::CHAT_QUIT => return self.quit(),
            words::CHAT_STATUS => return vec![Command::Status],
            words::CHAT_LEAVE => self.push(now, EntryKind::Error(texts::NOTHING_TO_LEAVE.into())),
            words::CHAT_CALL => match &self.phase {
                Phase::Chatting { user, peer } => {
                    let error = texts::leave_first(&texts::party(user, peer));
                    self.push(now, EntryKind::Error(error));
                }
                _ if arg.is_empty() => self.set_phase(Phase::AskPeer),
                _ => return self.start(arg, now),
            },
            words::CHAT_SAVE => self.save(arg, now),
            words::CHAT_LAN if self.lan_running => self.push(now, EntryKind::Error(texts::LAN_BUSY.into())),
            words::CHAT_LAN => {
                self.lan_wanted = true;
                self.lan_running = true;
                self.push(now, EntryKind::Info(texts::lan_looking(crate::lan::WAIT.as_secs())));
            }
            words::CHAT_ME if chatting && !arg.is_empty() => {
                let text = texts::me(self.user().unwrap_or(texts::YOU), arg);
                return self.send_text(&text, now);
            }
            words::CHAT_ME if chatting => self.push(now, EntryKind::Error(texts::ME_NEEDS_TEXT.into())),
            _ => {
                let cmd = escape::field(cmd);
                self.push(now, EntryKind::Error(texts::unknown_command(&cmd)));
            }
        }
        self.prompt_due = true;
        Vec::new()
    }

    /// `/save [NAME]`: the last peer becomes a contact.
    fn save(&mut self, name: &str, now: NaiveDateTime) {
        let Some((addr, user)) = self.last_peer.clone() else {
            return self.push(now, EntryKind::Error(texts::NOTHING_TO_SAVE.into()));
        };
        let name = if name.is_empty() { user.as_str() } else { name };
        match self.contacts.insert(name, addr) {
            Ok(()) => {
                self.push(now, EntryKind::Info(texts::saved(name, &addr.to_string())));
                self.to_save = Some((name.to_owned(), addr));
            }
            Err(err) => self.push(now, EntryKind::Error(escape::field(&err.to_string()))),
        }
    }

    /// A peer's address as shown: with the contact's name when it is one.
    fn peer_label(&self, addr: &SocketAddr) -> String {
        match self.contacts.name_of(*addr) {
            Some(name) => format!("{} ({addr})", escape::field(name)),
            None => addr.to_string(),
        }
    }

    fn send_text(&mut self, text: &str, now: NaiveDateTime) -> Vec<Command> {
        if let Some(why) = refusal(text, self.utf8) {
            self.push(now, EntryKind::Error(why));
            return Vec::new();
        }
        // Only a non-ASCII text needs the opt-in: ASCII goes as the course's clients send it.
        let utf8 = !text.is_ascii();
        if utf8 && !self.utf8_warned {
            self.utf8_warned = true;
            self.push(now, EntryKind::Info(texts::UTF8_WARNING.into()));
        }
        // Not the id of a message held from before the daemon's restart: its outcome is to come.
        let mut id = self.next_id.to_string();
        while self.restart.is_waiting(&id) {
            self.next_id += 1;
            id = self.next_id.to_string();
        }
        self.next_id += 1;
        let user = self.user.clone().unwrap_or_else(|| texts::YOU.into());
        let lines = escape::message_lines(text);
        self.push(now, EntryKind::Outgoing { user, id: id.clone(), lines, delivery: Delivery::Pending, queued: false });
        vec![Command::Chat { text: text.to_owned(), id: Some(id), utf8: utf8.then_some(true) }]
    }

    /// Whether the message `id`, given up as `reason`, is the one that was on its way: sending
    /// is stop-and-wait (SPEC 2.2), so when the peer stops answering (`peer unreachable`) the
    /// oldest message the daemon queued and did not settle is the one whose datagrams went out
    /// unacknowledged. It may have arrived (IPC.md `undelivered`): a peer whose daemon was
    /// stopped (SIGSTOP) past `timeout` × `retries` acknowledges it when it runs again, after
    /// the chat here has ended. The ones behind it were never sent.
    fn was_on_its_way(&mut self, id: &str, reason: &str) -> bool {
        let on_its_way = reason == simp_proto::ipc::EndReason::PeerUnreachable.to_string()
            && !self.gave_up_in_flight
            && self.log.oldest_queued_pending() == Some(id);
        self.gave_up_in_flight |= on_its_way;
        on_its_way
    }

    /// `delivered` or `undelivered`: the mark of our message, or of one held from before the
    /// daemon's restart. A message this client sent before its daemon went away and came back
    /// is held by the new run under the id this client gave it: its own line gets the mark.
    fn settled(&mut self, id: &str, delivery: Delivery, now: NaiveDateTime) {
        if self.log.is_pending(id) {
            self.restart.forget(id);
            self.log.mark(id, delivery, now);
        } else if !self.restart.settled(&mut self.log, id, delivery.clone(), now) {
            self.log.mark(id, delivery, now);
        }
    }

    fn leave(&mut self) -> Vec<Command> {
        let what = texts::what(&self.phase);
        let cancelling = matches!(self.phase, Phase::Calling { .. } | Phase::Starting { .. });
        self.set_phase(Phase::Leaving { what, cancelling });
        vec![Command::Leave]
    }

    fn start(&mut self, typed: &str, now: NaiveDateTime) -> Vec<Command> {
        let peer = config::resolve_peer(typed, &self.contacts);
        match parse_peer(&peer) {
            Ok(_) => {
                self.set_phase(Phase::Starting { peer: escape::field(typed) });
                vec![Command::Start { peer }]
            }
            Err(err) => {
                if self.phase != Phase::AskPeer {
                    self.set_phase(Phase::AskPeer);
                }
                self.refuse(now, escape::field(&err.to_string()))
            }
        }
    }

    /// Logs why an answer was refused and asks again.
    fn refuse(&mut self, now: NaiveDateTime, why: String) -> Vec<Command> {
        self.push(now, EntryKind::Error(why));
        self.prompt_due = true;
        Vec::new()
    }

    /// Drops the lines typed ahead for a chat that will not open, saying so.
    fn refuse_held(&mut self, now: NaiveDateTime) {
        if !self.held.is_empty() {
            let count = self.held.len();
            self.held.clear();
            self.push(now, EntryKind::Error(texts::held_not_sent(count)));
        }
    }

    /// Whether lines typed now must wait: for the daemon's answer, or for a ringing call
    /// to open.
    fn holds_lines(&self) -> bool {
        self.phase.is_transient() || matches!(self.phase, Phase::Calling { .. })
    }

    fn replay_held(&mut self, now: NaiveDateTime) -> Vec<Command> {
        let mut cmds = Vec::new();
        while !self.holds_lines() && self.phase != Phase::Quitting {
            let Some(line) = self.held.pop_front() else { break };
            cmds.extend(self.on_line(&line, now));
        }
        cmds.extend(self.finish_if_done());
        cmds
    }

    /// After the end of input: quits once no line waits and every message sent is settled.
    fn finish_if_done(&mut self) -> Vec<Command> {
        // An answer the daemon owes (to a leave, a start…) is part of what is queued.
        let waiting = self.phase.is_transient() || (!self.held.is_empty() && self.holds_lines());
        if self.ending && self.phase != Phase::Quitting && !waiting && !self.log.has_pending() {
            self.quit()
        } else {
            Vec::new()
        }
    }

    fn push(&mut self, time: NaiveDateTime, kind: EntryKind) {
        self.log.push(time, kind);
    }

    fn set_phase(&mut self, phase: Phase) {
        if self.phase != phase {
            self.phase = phase;
            self.prompt_due = true;
        }
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

/// How long a call rings before the client says it still does.
pub const RING_HINT_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

/// The `outcome` of a received message the user has not seen (IPC.md `history`).
const UNSEEN: &str = "unseen";

/// Why the client does not send `text` as a message, if it does not: SIMP carries ASCII only
/// unless `utf8` (SPEC 1), and the `chat` command carrying it must fit the daemon's line of
/// [`MAX_LINE`] bytes (IPC.md), which it would refuse (`line-too-long`) after the client had
/// shown the message as sent. The full-screen interface keeps such a text in the input line.
pub fn refusal(text: &str, utf8: bool) -> Option<String> {
    if let Err(err) = validate_text(text, utf8) {
        return Some(err.to_string());
    }
    // The longest id this client gives, and the opt-in flag: the longest line it may send.
    let chat = Command::Chat { text: text.to_owned(), id: Some(u64::MAX.to_string()), utf8: Some(true) };
    let mut line = Vec::new();
    let bytes = match simp_proto::ipc::jsonl::write_command(&mut line, &chat) {
        // Without its newline, as the daemon counts.
        Ok(()) => line.len().saturating_sub(1),
        Err(_) => usize::MAX,
    };
    (bytes > MAX_LINE).then(|| texts::too_long(bytes, MAX_LINE))
}

/// A message's time of arrival (milliseconds since the Unix epoch) as local date and time.
pub fn arrival_time(at: u64) -> Option<NaiveDateTime> {
    let utc = chrono::DateTime::from_timestamp_millis(i64::try_from(at).ok()?)?;
    Some(utc.with_timezone(&chrono::Local).naive_local())
}

/// A sent message's stored `outcome` (IPC.md `history`) as its delivery mark.
fn stored_delivery(outcome: &str) -> Delivery {
    match outcome {
        "delivered" => Delivery::Delivered,
        // Held from before the daemon's restart: sent in the next chat with its peer.
        "pending" | "held" => Delivery::Pending,
        other => Delivery::Undelivered(escape::field(other.strip_prefix("undelivered: ").unwrap_or(other))),
    }
}

/// `time` (local) as milliseconds since the Unix epoch, as the daemon stamps messages.
#[cfg(test)]
pub(crate) fn epoch_millis(time: NaiveDateTime) -> u64 {
    let local = time.and_local_timezone(chrono::Local).earliest();
    local.map_or(0, |t| u64::try_from(t.timestamp_millis()).unwrap_or(0))
}

/// A `message` event arriving at `time`, under an id above any before it (tests).
#[cfg(test)]
pub(crate) fn test_message(user: &str, text: &str, time: NaiveDateTime) -> Event {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let at = epoch_millis(time);
    Event::Message { id: NEXT.fetch_add(1, Ordering::Relaxed), at, user: user.into(), text: text.into() }
}

/// A stored message as `history` reports it, at `time`.
#[cfg(test)]
pub(crate) fn stored(id: u64, out: bool, time: NaiveDateTime, text: &str, outcome: &str) -> Event {
    let user = if out { "alice" } else { "bob" };
    Event::History(simp_proto::ipc::HistoryEntry {
        id,
        peer: "127.0.0.2:7777".into(),
        peer_user: "bob".into(),
        user: user.into(),
        direction: if out { Direction::Out } else { Direction::In },
        at: epoch_millis(time),
        text: text.into(),
        outcome: outcome.into(),
    })
}

/// Two daemons as `/lan` might find them (tests).
#[cfg(test)]
pub(crate) fn lan_daemons() -> Vec<crate::lan::LanDaemon> {
    vec![
        crate::lan::LanDaemon { addr: "192.168.1.20:7777".parse().unwrap(), user: Some("bob".into()) },
        crate::lan::LanDaemon { addr: "192.168.1.30:7000".parse().unwrap(), user: None },
    ]
}

/// 2026-12-02 at this time of day (tests).
#[cfg(test)]
pub(crate) fn test_time(h: u32, m: u32, s: u32) -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 2).and_then(|d| d.and_hms_opt(h, m, s)).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::{lan_daemons, stored};
    use crate::history;
    use crate::log::LOG_LIMIT;
    use simp_proto::ipc::EndReason;

    fn t(s: u32) -> NaiveDateTime {
        crate::app::test_time(12, 0, s)
    }

    fn connected(name: &str) -> App {
        let (mut app, cmds) = App::with_user(name, t(0));
        assert_eq!(cmds, vec![Command::Connect { user: name.into() }]);
        assert_eq!(app.phase(), &Phase::Connecting);
        let cmds = app.on_event(
            Event::Connected { user: name.into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "0.1.0".into() },
            t(1),
        );
        assert!(cmds.is_empty());
        assert_eq!(app.phase(), &Phase::Menu);
        app
    }

    fn chatting() -> App {
        let mut app = connected("alice");
        assert_eq!(app.on_line("127.0.0.2", t(2)), vec![Command::Start { peer: "127.0.0.2".into() }]);
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        app
    }

    fn last(app: &App) -> &EntryKind {
        &app.log().last().unwrap().kind
    }

    fn kinds(app: &App) -> Vec<(String, EntryKind)> {
        app.log().iter().map(|e| (e.time.format("%d %H:%M").to_string(), e.kind.clone())).collect()
    }

    fn incoming(text: &str) -> EntryKind {
        EntryKind::Incoming { user: "bob".into(), lines: vec![text.into()] }
    }

    fn held(id: &str, peer: &str, text: &str) -> Event {
        Event::Held { id: id.into(), peer: peer.parse().unwrap(), text: text.into(), at: 0 }
    }

    #[test]
    fn held_messages_are_one_line_per_run_and_their_outcomes_are_shown() {
        let mut app = connected("alice");
        let before = app.log().len();
        for i in 1..=3 {
            assert!(app.on_event(held(&i.to_string(), "127.0.0.2:7777", &format!("m{i}\x1b")), t(1)).is_empty());
        }
        app.on_event(held("4", "127.0.0.3:7777", "for carol"), t(1));
        let lines: Vec<EntryKind> = app.log()[before..].iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            lines,
            [
                EntryKind::Info(
                    "3 messages to 127.0.0.2:7777 from before the daemon restarted are held: they will be sent \
                     when the chat with 127.0.0.2:7777 is open again"
                        .into()
                ),
                EntryKind::Info(
                    "1 message to 127.0.0.3:7777 from before the daemon restarted is held: it will be sent \
                     when the chat with 127.0.0.3:7777 is open again"
                        .into()
                ),
            ]
        );
        // Once shown, a line is not rewritten: the next held message starts another.
        app.take_changes();
        app.on_event(held("5", "127.0.0.3:7777", "again"), t(1));
        assert!(matches!(last(&app), EntryKind::Info(text) if text.starts_with("1 message to 127.0.0.3:7777")));

        // The chat with bob opens; the client's own messages get ids of their own.
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        let cmds = app.on_line("new", t(3));
        assert_eq!(cmds, vec![Command::Chat { text: "new".into(), id: Some("6".into()), utf8: None }]);
        for id in ["1", "2", "3", "6"] {
            app.on_event(Event::Queued { id: id.into() }, t(4));
        }
        app.on_event(Event::Delivered { id: "1".into() }, t(4));
        app.on_event(Event::Undelivered { id: "2".into(), reason: EndReason::PeerUnreachable }, t(5));
        app.on_event(Event::Delivered { id: "6".into() }, t(5));
        let tail: Vec<EntryKind> = app.log()[app.log().len() - 3..].iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            tail,
            [
                EntryKind::Outgoing {
                    user: "alice".into(),
                    id: "6".into(),
                    lines: vec!["new".into()],
                    delivery: Delivery::Delivered,
                    queued: true
                },
                EntryKind::Info("held message to 127.0.0.2:7777 delivered: m1\\x1b".into()),
                EntryKind::Error("held message to 127.0.0.2:7777 undelivered (peer unreachable): m2\\x1b".into()),
            ]
        );
        // Told once: a repeated outcome adds nothing.
        let len = app.log().len();
        app.on_event(Event::Delivered { id: "1".into() }, t(6));
        assert_eq!(app.log().len(), len);
    }

    #[test]
    fn a_chat_shows_its_stored_history_once_with_an_unread_line_and_pages_back() {
        let yesterday = |m| test_time(9, m, 0) - chrono::Days::new(1);
        let mut app = connected("alice");
        app.set_history(true);
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        let cmds =
            app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        let ask = Command::History { peer: Some("127.0.0.2:7777".into()), limit: Some(history::PAGE), before: None };
        assert_eq!(cmds, vec![ask]);
        let open = app.log().len();
        // The daemon delivers an unconfirmed message again before the answer comes: it waits
        // for the history, so that it is shown once, below the older ones.
        let again = Event::Message { id: 99, at: epoch_millis(t(0)), user: "bob".into(), text: "new".into() };
        assert!(app.on_event(again, t(3)).is_empty());
        // A full page: older ones may be stored.
        assert!(app.on_event(stored(10, true, yesterday(1), "hi bob", "delivered"), t(3)).is_empty());
        for id in 11..10 + history::PAGE as u64 {
            app.on_event(stored(id, false, yesterday(2), "hi alice", "seen"), t(3));
        }
        app.on_event(stored(99, false, t(0), "new", "unseen"), t(3));
        // Not seen either, but it came as the chat opened: no unread line for it, and it goes
        // below the line saying the chat opened (its event came after `established`).
        app.on_event(stored(100, false, t(3), "just now", "unseen"), t(3));
        let just_now = Event::Message { id: 100, at: epoch_millis(t(3)), user: "bob".into(), text: "just now".into() };
        assert!(app.on_event(just_now, t(3)).is_empty());
        let cmds = app.on_event(Event::HistoryEnd { count: history::PAGE }, t(3));
        let seen = |ids: Vec<u64>| Command::Seen { ids };
        assert_eq!(cmds, vec![seen(vec![99, 100]), seen(vec![99]), seen(vec![100])]);
        let outgoing = EntryKind::Outgoing {
            user: "alice".into(),
            id: String::new(),
            lines: vec!["hi bob".into()],
            delivery: Delivery::Delivered,
            queued: true,
        };
        let shown = kinds(&app);
        assert_eq!(shown.len(), open + history::PAGE + 4, "each once, the unread line and the one above them");
        // They go above the line saying the chat opened, which came first: the log runs in time
        // order.
        let first = open - 2;
        let earlier = EntryKind::Info("earlier messages with 127.0.0.2:7777, from the daemon's store:".into());
        assert_eq!(
            shown[first - 1..first + 3],
            [
                ("02 12:00".into(), EntryKind::Info("calling 127.0.0.2:7777".into())),
                ("02 12:00".into(), earlier),
                ("01 09:01".into(), outgoing),
                ("01 09:02".into(), incoming("hi alice"))
            ]
        );
        assert_eq!(
            shown[shown.len() - 6..],
            [
                ("01 09:02".into(), incoming("hi alice")),
                ("02 12:00".into(), EntryKind::Unread),
                ("02 12:00".into(), incoming("new")),
                ("02 12:00".into(), EntryKind::Info("chat with bob at 127.0.0.2:7777 open".into())),
                shown[shown.len() - 2].clone(),
                ("02 12:00".into(), incoming("just now")),
            ],
            "at their own times, the unread line above the message not seen, then the chat's opening, then \
             what came as it opened"
        );
        let times: Vec<_> = app.log()[first + 1..].iter().map(|e| e.time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "below the line, in time order: {times:?}");

        // PgUp at the top: the page before the oldest shown goes above it.
        let older =
            Command::History { peer: Some("127.0.0.2:7777".into()), limit: Some(history::PAGE), before: Some(10) };
        assert_eq!(app.older_history(), vec![older]);
        assert!(app.older_history().is_empty(), "one request at a time");
        app.on_event(stored(4, false, yesterday(0), "older", "seen"), t(5));
        assert!(app.on_event(Event::HistoryEnd { count: 1 }, t(5)).is_empty());
        let times: Vec<_> = app.log()[first + 1..].iter().map(|e| e.time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "an older page too: {times:?}");
        assert_eq!(
            kinds(&app)[first + 1..first + 3],
            [
                ("01 09:00".into(), EntryKind::Info("the stored messages with 127.0.0.2:7777 start here".into())),
                ("01 09:00".into(), incoming("older")),
            ]
        );
        assert_eq!(app.log()[first + 3].stored, Some(10));
        assert!(app.older_history().is_empty(), "nothing older is stored");

        // A second chat with bob in this session asks nothing: it is all in the log.
        app.on_event(Event::Ended { reason: simp_proto::ipc::EndReason::PeerLeft, detail: None }, t(6));
        app.on_line("127.0.0.2", t(7));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(7));
        let cmds =
            app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(8));
        assert!(cmds.is_empty());
    }

    #[test]
    fn messages_stored_while_away_get_the_unread_line_and_plain_mode_asks_no_history() {
        let mut app = connected("alice");
        app.set_history(true);
        app.on_event(Event::Message { id: 3, at: epoch_millis(t(0)), user: "bob".into(), text: "a".into() }, t(5));
        app.on_event(Event::Message { id: 4, at: epoch_millis(t(0)), user: "bob".into(), text: "b".into() }, t(5));
        let kinds: Vec<EntryKind> = app.log().iter().map(|e| e.kind.clone()).collect();
        assert_eq!(kinds[1..], [EntryKind::Unread, incoming("a"), incoming("b")]);

        let mut app = chatting();
        app.on_event(Event::Message { id: 3, at: epoch_millis(t(0)), user: "bob".into(), text: "a".into() }, t(5));
        assert!(!app.log().iter().any(|e| e.kind == EntryKind::Unread), "plain mode keeps its lines");
        assert!(app.older_history().is_empty());
    }

    #[test]
    fn a_store_that_fails_leaves_the_chat_going_without_history() {
        let mut app = connected("alice");
        app.set_history(true);
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        app.on_event(Event::Message { id: 9, at: epoch_millis(t(3)), user: "bob".into(), text: "hi".into() }, t(3));
        let cmds = app.on_event(Event::error(ErrorCode::StoreFailed, "disk full"), t(3));
        assert_eq!(cmds, vec![Command::Seen { ids: vec![9] }], "the held message is shown now");
        assert_eq!(last(&app), &incoming("hi"));
        assert!(app
            .log()
            .iter()
            .any(|e| e.kind == EntryKind::Error("no stored history for this chat: disk full".into())));
    }

    #[test]
    fn lan_lists_the_daemons_found_and_a_number_calls_one() {
        let mut app = connected("alice");
        assert!(!app.take_lan_request());
        assert!(app.on_line("l", t(2)).is_empty());
        assert!(app.take_lan_request(), "the front is asked to listen");
        assert!(!app.take_lan_request(), "once");
        assert_eq!(last(&app), &EntryKind::Info("looking for daemons announcing themselves on the LAN (3 s)…".into()));
        app.on_line("/lan", t(2));
        assert_eq!(last(&app), &EntryKind::Error(texts::LAN_BUSY.into()), "one listing at a time");
        app.on_lan(Ok(lan_daemons()), t(5));
        assert!(matches!(app.phase(), Phase::PickLan { daemons } if daemons.len() == 2));
        let listed: Vec<&EntryKind> = app.log().iter().rev().take(2).map(|e| &e.kind).collect();
        assert_eq!(listed[1], &EntryKind::Info("  1  192.168.1.20  bob".into()));
        assert_eq!(listed[0], &EntryKind::Info("  2  192.168.1.30:7000  (no client attached)".into()));
        assert!(app.take_prompt().unwrap().starts_with("call which daemon? 1-2"));
        assert!(app.on_line("3", t(6)).is_empty());
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains('3')));
        assert_eq!(app.on_line("2", t(6)), vec![Command::Start { peer: "192.168.1.30:7000".into() }]);

        let mut app = connected("alice");
        app.on_line("/lan", t(2));
        app.on_lan(Ok(Vec::new()), t(5));
        assert_eq!(last(&app), &EntryKind::Info(texts::LAN_NONE.into()));
        assert_eq!(app.phase(), &Phase::Menu);
        app.on_line("/lan", t(6));
        app.on_lan(Err("no interface holds 127.0.0.9".into()), t(9));
        assert_eq!(last(&app), &EntryKind::Error("cannot list the LAN: no interface holds 127.0.0.9".into()));
        app.on_line("/lan", t(10));
        app.on_lan(Ok(lan_daemons()), t(11));
        assert_eq!(app.on_line("", t(12)), vec![], "Enter alone: back to the menu");
        assert_eq!(app.phase(), &Phase::Menu);

        // In a chat the list is shown, not offered: one chat at a time.
        let mut app = chatting();
        app.on_line("/lan", t(4));
        app.on_lan(Ok(lan_daemons()), t(5));
        assert!(matches!(app.phase(), Phase::Chatting { .. }));
    }

    #[test]
    fn a_message_is_confirmed_when_shown_and_shown_once_at_its_arrival_time() {
        let mut app = chatting();
        let first = test_message("bob", "first", t(1));
        let Event::Message { id, .. } = first else { unreachable!() };
        assert_eq!(app.on_event(first.clone(), t(9)), vec![Command::Seen { ids: vec![id] }]);
        assert_eq!(app.log().last().unwrap().time, t(1), "shown at its time of arrival, not at t(9)");
        let entries = app.log().len();
        // Delivered again (after a reconnect): confirmed again, not shown again.
        assert_eq!(app.on_event(first, t(10)), vec![Command::Seen { ids: vec![id] }]);
        assert_eq!(app.log().len(), entries);
    }

    fn delivery_of(app: &App, id: &str) -> Delivery {
        app.log()
            .iter()
            .find_map(|e| match &e.kind {
                EntryKind::Outgoing { id: i, delivery, .. } if i == id => Some(delivery.clone()),
                _ => None,
            })
            .unwrap()
    }

    #[test]
    fn the_message_on_its_way_when_the_peer_became_unreachable_may_have_arrived() {
        // Seen with real daemons: bob's daemon SIGSTOPped past timeout × retries; alice's gave
        // "m1" up (its datagram sent 4 times, no ACK) and "m2" (never sent); bob's daemon, run
        // again, stored and acknowledged m1 after alice's chat had ended.
        let mut app = chatting();
        app.on_line("m1", t(4));
        app.on_line("m2", t(4));
        app.on_event(Event::Queued { id: "1".into() }, t(4));
        app.on_event(Event::Queued { id: "2".into() }, t(4));
        for id in ["1", "2"] {
            app.on_event(Event::Undelivered { id: id.into(), reason: EndReason::PeerUnreachable }, t(9));
        }
        app.on_event(Event::Ended { reason: EndReason::PeerUnreachable, detail: None }, t(9));
        assert_eq!(delivery_of(&app, "1"), Delivery::Undelivered(texts::may_have_arrived("peer unreachable")));
        assert_eq!(delivery_of(&app, "2"), Delivery::Undelivered("peer unreachable".into()), "never sent");
        // The next chat's first message given up is told apart again.
        app.on_line("127.0.0.2", t(10));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(10));
        app.on_line("m3", t(11));
        app.on_event(Event::Queued { id: "3".into() }, t(11));
        app.on_event(Event::Undelivered { id: "3".into(), reason: EndReason::PeerUnreachable }, t(12));
        assert_eq!(delivery_of(&app, "3"), Delivery::Undelivered(texts::may_have_arrived("peer unreachable")));
    }

    #[test]
    fn name_menu_start_chat_delivery_end_and_back_to_the_menu() {
        let mut app = App::new();
        assert_eq!(app.take_prompt().as_deref(), Some("your name? (q quits)"));
        assert!(app.take_prompt().is_none(), "a prompt is shown once");
        assert_eq!(app.on_line("alice", t(0)), vec![Command::Connect { user: "alice".into() }]);
        app.on_event(
            Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "x".into() },
            t(1),
        );
        assert_eq!(app.user(), Some("alice"));
        assert_eq!(
            app.take_prompt().as_deref(),
            Some("[s] start a chat, [w] wait for a call, [l] list the LAN, [q] quit")
        );

        assert!(app.on_line("s", t(2)).is_empty());
        assert_eq!(app.phase(), &Phase::AskPeer);
        assert_eq!(app.on_line("127.0.0.2", t(2)), vec![Command::Start { peer: "127.0.0.2".into() }]);
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        assert_eq!(app.phase(), &Phase::Calling { peer: "127.0.0.2:7777".into() });
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        assert_eq!(app.phase(), &Phase::Chatting { peer: "127.0.0.2:7777".into(), user: "bob".into() });

        assert_eq!(
            app.on_line("hello", t(4)),
            vec![Command::Chat { text: "hello".into(), id: Some("1".into()), utf8: None }]
        );
        assert_eq!(
            app.on_line("again", t(4)),
            vec![Command::Chat { text: "again".into(), id: Some("2".into()), utf8: None }]
        );
        assert_eq!(delivery_of(&app, "1"), Delivery::Pending);
        app.take_changes();
        app.on_event(Event::Queued { id: "1".into() }, t(4));
        app.on_event(Event::Delivered { id: "1".into() }, t(5));
        assert_eq!(delivery_of(&app, "1"), Delivery::Delivered);
        let delivered_at =
            app.log().iter().position(|e| matches!(&e.kind, EntryKind::Outgoing { id, .. } if id == "1"));
        assert_eq!(app.take_changes(), vec![Change::Delivery(delivered_at.unwrap(), t(5))]);
        app.on_event(test_message("bob", "hi", t(5)), t(5));
        assert_eq!(last(&app), &EntryKind::Incoming { user: "bob".into(), lines: vec!["hi".into()] });
        app.on_event(Event::Undelivered { id: "2".into(), reason: EndReason::PeerUnreachable }, t(6));
        assert_eq!(delivery_of(&app, "2"), Delivery::Undelivered("peer unreachable".into()));

        app.on_event(Event::Ended { reason: EndReason::PeerUnreachable, detail: None }, t(7));
        assert_eq!(last(&app), &EntryKind::Info("chat with bob ended: peer unreachable".into()));
        assert_eq!(app.phase(), &Phase::Menu);
        assert!(app.take_prompt().unwrap().starts_with("[s] start"));
    }

    #[test]
    fn leave_ends_the_chat_and_quit_quits() {
        let mut app = chatting();
        assert_eq!(app.on_line("/leave", t(4)), vec![Command::Leave]);
        assert_eq!(app.phase(), &Phase::Leaving { what: "chat with bob".into(), cancelling: false });
        app.on_event(Event::Ended { reason: EndReason::YouLeft, detail: None }, t(4));
        assert_eq!(last(&app), &EntryKind::Info("chat with bob ended: you left".into()));
        assert_eq!(app.phase(), &Phase::Menu);

        let mut app = chatting();
        assert_eq!(app.on_line("q", t(4)), vec![Command::Chat { text: "q".into(), id: Some("1".into()), utf8: None }]);
        assert_eq!(app.on_line("/quit", t(4)), vec![Command::Quit]);
        assert!(app.is_finished());
        assert!(app.on_line("more", t(4)).is_empty());
    }

    #[test]
    fn slash_lines_in_a_chat() {
        let mut app = chatting();
        assert_eq!(
            app.on_line("//me", t(4)),
            vec![Command::Chat { text: "/me".into(), id: Some("1".into()), utf8: None }]
        );
        assert!(app.on_line("/dance", t(4)).is_empty());
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("unknown command /dance")));
        assert_eq!(app.on_line("/status", t(4)), vec![Command::Status]);
        assert!(app.on_line("", t(4)).is_empty());
    }

    #[test]
    fn request_is_accepted_or_declined() {
        let mut app = connected("bob");
        app.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(2));
        assert_eq!(app.take_prompt().as_deref(), Some("request from alice at 127.0.0.1:7777 — accept? [y/n/q]"));
        assert!(app.on_line("maybe", t(2)).is_empty());
        assert!(app.take_prompt().is_some(), "a refused answer asks again");
        assert_eq!(app.on_line("y", t(2)), vec![Command::Accept]);
        app.on_event(Event::Established { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(3));
        assert!(matches!(app.phase(), Phase::Chatting { .. }));

        let mut app = connected("bob");
        app.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(2));
        assert_eq!(app.on_line("d", t(2)), vec![Command::Decline]);
        assert_eq!(app.phase(), &Phase::Menu);
        assert!(matches!(last(&app), EntryKind::Info(m) if m.contains("declined")));
    }

    #[test]
    fn a_request_that_expires_goes_back_to_the_menu() {
        let mut app = connected("bob");
        app.on_line("w", t(1));
        assert_eq!(app.phase(), &Phase::Waiting);
        app.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(2));
        app.on_event(Event::Ended { reason: EndReason::RequestExpired, detail: None }, t(9));
        assert_eq!(app.phase(), &Phase::Menu);
        assert_eq!(last(&app), &EntryKind::Info("request from alice ended: request expired".into()));
    }

    #[test]
    fn q_quits_from_every_menu_and_prompt() {
        let mut app = App::new();
        assert!(app.on_line("q", t(0)).is_empty(), "nothing to tell a daemon we never named ourselves to");
        assert!(app.is_finished());

        let connect = |a: &mut App| drop(a.on_event(connected_event(), t(1)));
        type Setup<'a> = &'a dyn Fn(&mut App);
        let setups: [(&str, Setup); 6] = [
            ("connecting", &|_| {}),
            ("menu", &connect),
            ("peer prompt", &|a| drop((connect(a), a.on_line("s", t(1))))),
            ("waiting", &|a| drop((connect(a), a.on_line("w", t(1))))),
            ("ringing", &|a| {
                connect(a);
                a.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "x".into() }, t(1));
            }),
            ("calling", &|a| {
                connect(a);
                a.on_line("127.0.0.2", t(1));
                a.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(1));
            }),
        ];
        for (name, setup) in setups {
            let (mut app, _) = App::with_user("alice", t(0));
            setup(&mut app);
            assert_eq!(app.on_line("q", t(2)), vec![Command::Quit], "q in {name}");
            assert!(app.is_finished(), "{name}");
        }
    }

    fn connected_event() -> Event {
        Event::Connected { user: "alice".into(), daemon: "127.0.0.1:7777".parse().unwrap(), version: "x".into() }
    }

    #[test]
    fn bad_names_and_peers_are_refused_locally_and_asked_again() {
        let mut app = App::new();
        app.take_prompt();
        assert!(app.on_line("", t(0)).is_empty());
        assert!(app.on_line("é", t(0)).is_empty());
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("U+00E9")));
        assert_eq!(app.take_prompt().as_deref(), Some("your name? (q quits)"));

        let mut app = connected("alice");
        assert!(app.on_line("bob.example", t(1)).is_empty());
        assert_eq!(app.phase(), &Phase::Menu, "unknown menu words keep the menu");
        assert!(app.on_line("s", t(1)).is_empty());
        assert!(app.on_line("bob.example", t(1)).is_empty());
        assert_eq!(app.phase(), &Phase::AskPeer);
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("not an IP address")));
        assert!(app.on_line("", t(1)).is_empty());
        assert_eq!(app.phase(), &Phase::Menu);
    }

    #[test]
    fn the_daemon_refusing_a_name_asks_again() {
        let (mut app, _) = App::with_user("alice", t(0));
        app.on_event(Event::error(ErrorCode::BadUser, "taken"), t(1));
        assert_eq!(app.phase(), &Phase::AskName);
        assert!(app.on_line("q", t(2)).is_empty());
    }

    #[test]
    fn non_ascii_text_is_refused_naming_the_character_and_nothing_is_sent() {
        let mut app = chatting();
        assert!(app.on_line("café", t(4)).is_empty());
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("'é' (U+00E9)") && m.contains("character 4")));
        assert!(app.on_line("a\x1bb", t(4)).is_empty());
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("U+001B")));
        assert_eq!(
            app.on_line("tab\tok", t(4)),
            vec![Command::Chat { text: "tab\tok".into(), id: Some("1".into()), utf8: None }]
        );
    }

    #[test]
    fn with_utf8_non_ascii_text_is_sent_with_the_opt_in_and_a_warning_shown_once() {
        let mut app = chatting();
        app.set_utf8(true);
        assert_eq!(
            app.on_line("tab\tok", t(4)),
            vec![Command::Chat { text: "tab\tok".into(), id: Some("1".into()), utf8: None }]
        );
        assert!(!app.log().iter().any(|e| e.kind == EntryKind::Info(texts::UTF8_WARNING.into())));
        let cafe = Command::Chat { text: "café".into(), id: Some("2".into()), utf8: Some(true) };
        assert_eq!(app.on_line("café", t(4)), vec![cafe]);
        app.on_line("más", t(4));
        let warnings = app.log().iter().filter(|e| e.kind == EntryKind::Info(texts::UTF8_WARNING.into())).count();
        assert_eq!(warnings, 1);
        assert!(app.on_line("a\x1bb", t(4)).is_empty());
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("U+001B")));
    }

    #[test]
    fn a_chat_refused_by_the_daemon_is_marked_undelivered() {
        let mut app = chatting();
        app.on_line("one", t(4));
        app.on_line("two", t(4));
        app.on_event(Event::Queued { id: "1".into() }, t(4));
        app.on_event(Event::error(ErrorCode::QueueFull, "too many messages waiting"), t(4));
        assert_eq!(delivery_of(&app, "1"), Delivery::Pending);
        assert_eq!(delivery_of(&app, "2"), Delivery::Undelivered("queue-full".into()));
    }

    #[test]
    fn failed_start_returns_to_the_menu_and_busy_is_explained() {
        let mut app = connected("alice");
        app.on_line("127.0.0.2", t(1));
        app.on_event(Event::error(ErrorCode::Busy, "a chat is already running"), t(1));
        assert_eq!(app.phase(), &Phase::Menu);

        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        app.on_event(
            Event::Ended { reason: EndReason::Busy, detail: Some("User already in another chat".into()) },
            t(3),
        );
        assert_eq!(
            last(&app),
            &EntryKind::Info("call to 127.0.0.2:7777 ended: busy (User already in another chat)".into())
        );
        assert_eq!(app.phase(), &Phase::Menu);
    }

    #[test]
    fn lines_typed_while_waiting_for_the_daemon_are_replayed() {
        let (mut app, _) = App::with_user("alice", t(0));
        assert!(app.on_line("127.0.0.2", t(0)).is_empty(), "held until connected");
        let cmds = app.on_event(connected_event(), t(1));
        assert_eq!(cmds, vec![Command::Start { peer: "127.0.0.2".into() }]);
        assert!(matches!(app.phase(), Phase::Starting { .. }));
    }

    #[test]
    fn a_request_pending_at_connect_is_asked_right_away() {
        let (mut app, _) = App::with_user("bob", t(0));
        app.on_event(connected_event(), t(1));
        app.on_event(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "alice".into() }, t(1));
        assert!(app.take_prompt().unwrap().starts_with("request from alice at 127.0.0.1:7777"));
    }

    #[test]
    fn event_strings_are_escaped_on_the_way_in() {
        let mut app = connected("bob");
        // A peer address is a typed `SocketAddr` (a line whose `peer` is not an address does not
        // decode: conn.rs), so only names and texts carry bytes from the network.
        app.on_event(Event::Request { peer: "1.2.3.4:7777".parse().unwrap(), user: "ev\x07il\r".into() }, t(1));
        assert_eq!(app.phase(), &Phase::Ringing { peer: "1.2.3.4:7777".into(), user: "ev\\x07il\\x0d".into() });
        app.on_line("y", t(1));
        app.on_event(Event::Established { peer: "1.2.3.4:7777".parse().unwrap(), user: "u".into() }, t(1));
        app.on_event(test_message("u\0", "a\nb\x1b", t(2)), t(2));
        assert_eq!(
            last(&app),
            &EntryKind::Incoming { user: "u\\x00".into(), lines: vec!["a".into(), "b\\x1b".into()] }
        );
        app.on_event(Event::error(ErrorCode::PeerError, "\x1b]0;title\x07"), t(2));
        assert!(matches!(last(&app), EntryKind::Error(m) if !m.contains('\x1b') && !m.contains('\x07')));
    }

    #[test]
    fn unknown_ids_and_stray_events_do_not_panic() {
        let mut app = App::new();
        app.on_event(Event::Delivered { id: "99".into() }, t(0));
        app.on_event(Event::Undelivered { id: "x".into(), reason: EndReason::PeerLeft }, t(0));
        app.on_event(Event::Queued { id: "1".into() }, t(0));
        app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(0));
        app.on_event(Event::error(ErrorCode::QueueFull, "x"), t(0));
        app.on_garbled("garbage \x1b", t(0));
        assert!(matches!(last(&app), EntryKind::Error(m) if m == "garbage \\x1b"));
    }

    #[test]
    fn the_log_keeps_the_newest_entries_only() {
        let mut app = chatting();
        for i in 0..LOG_LIMIT * 2 {
            app.on_event(test_message("bob", &format!("m{i}"), t(4)), t(4));
            app.take_changes();
            app.trim_log();
        }
        assert!(app.log().len() <= LOG_LIMIT + LOG_LIMIT / 10);
        let last = app.log().last().unwrap();
        assert!(
            matches!(&last.kind, EntryKind::Incoming { lines, .. } if lines[0] == format!("m{}", LOG_LIMIT * 2 - 1))
        );
    }

    #[test]
    fn a_script_typed_ahead_waits_for_the_chat_and_the_end_of_input_for_delivery() {
        // The pipe example of `man simp`: everything arrives before the daemon answers.
        let mut app = App::new();
        let mut cmds = Vec::new();
        for line in ["alice", "s", "192.168.1.20", "hello", "/quit"] {
            cmds.extend(app.on_line(line, t(0)));
        }
        assert!(app.end_of_input().is_empty(), "lines are still held");
        assert_eq!(cmds, vec![Command::Connect { user: "alice".into() }]);
        let cmds = app.on_event(connected_event(), t(1));
        assert_eq!(cmds, vec![Command::Start { peer: "192.168.1.20".into() }]);
        assert!(app.on_event(Event::Calling { peer: "192.168.1.20:7777".parse().unwrap() }, t(1)).is_empty());
        let cmds =
            app.on_event(Event::Established { peer: "192.168.1.20:7777".parse().unwrap(), user: "bob".into() }, t(2));
        assert_eq!(cmds, vec![Command::Chat { text: "hello".into(), id: Some("1".into()), utf8: None }, Command::Quit]);

        // Without the /quit, the end of input waits for the delivery mark.
        let mut app = chatting();
        app.on_line("hello", t(4));
        assert!(app.end_of_input().is_empty());
        assert!(app.on_event(Event::Queued { id: "1".into() }, t(4)).is_empty());
        assert_eq!(app.on_event(Event::Delivered { id: "1".into() }, t(5)), vec![Command::Quit]);

        // A leave typed last is answered before the client quits.
        let mut app = chatting();
        assert_eq!(app.on_line("/leave", t(4)), vec![Command::Leave]);
        assert!(app.end_of_input().is_empty());
        let cmds = app.on_event(Event::Ended { reason: EndReason::YouLeft, detail: None }, t(5));
        assert_eq!(cmds, vec![Command::Quit]);
    }

    #[test]
    fn lines_held_for_a_call_that_fails_are_refused_with_a_message() {
        let mut app = connected("alice");
        app.on_line("127.0.0.2", t(1));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(1));
        assert!(app.on_line("hello", t(1)).is_empty(), "held while the call rings");
        assert!(app.on_line("/quit", t(1)).is_empty(), "behind a held line, /quit waits its turn");
        assert!(app.end_of_input().is_empty());
        let cmds = app.on_event(Event::Ended { reason: EndReason::Declined, detail: None }, t(2));
        assert!(app
            .log()
            .iter()
            .any(|e| e.kind == EntryKind::Error("2 lines typed for the chat not sent: the call did not open".into())));
        assert_eq!(cmds, vec![Command::Quit], "then the end of input quits");

        let mut app = connected("alice");
        app.on_line("127.0.0.2", t(1));
        app.on_line("hello", t(1));
        app.on_event(Event::error(ErrorCode::Busy, "a chat is already running"), t(1));
        assert!(matches!(last(&app), EntryKind::Error(m) if m.starts_with("1 line typed")));
        assert_eq!(app.phase(), &Phase::Menu);
    }

    #[test]
    fn while_calling_q_and_c_act_at_once() {
        let mut app = connected("alice");
        app.on_line("127.0.0.2", t(1));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(1));
        app.on_line("hello", t(1));
        assert_eq!(app.on_line("c", t(1)), vec![Command::Leave]);
        assert!(matches!(last(&app), EntryKind::Error(m) if m.starts_with("1 line typed")));
        // The call's end says it was cancelled, not that we left a chat (a chat's: the test
        // after `/leave` below).
        app.on_event(Event::Ended { reason: EndReason::YouLeft, detail: None }, t(2));
        assert_eq!(last(&app), &EntryKind::Info("call to 127.0.0.2:7777 cancelled".into()));
        assert_eq!(app.phase(), &Phase::Menu);
    }

    #[test]
    fn contacts_are_called_by_name_shown_by_name_and_saved() {
        let mut app = connected("alice");
        let mut contacts = Contacts::default();
        contacts.insert("bobby", "10.0.0.2:7777".parse().unwrap()).unwrap();
        app.set_contacts(contacts);
        assert_eq!(app.on_line("bobby", t(1)), vec![Command::Start { peer: "10.0.0.2:7777".into() }]);
        app.on_event(Event::Ended { reason: EndReason::NoAnswer, detail: None }, t(1));
        assert_eq!(app.on_line("/call localhost", t(1)), vec![Command::Start { peer: "127.0.0.1".into() }]);
        app.on_event(Event::error(ErrorCode::Busy, "x"), t(1));
        assert_eq!(app.on_line("/call", t(1)), vec![]);
        assert_eq!(app.phase(), &Phase::AskPeer);
        assert_eq!(app.on_line("bobby", t(1)), vec![Command::Start { peer: "10.0.0.2:7777".into() }]);
        app.on_event(Event::Calling { peer: "10.0.0.2:7777".parse().unwrap() }, t(1));
        assert_eq!(app.phase(), &Phase::Calling { peer: "bobby (10.0.0.2:7777)".into() });
        app.on_event(Event::Established { peer: "10.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(2));
        assert_eq!(last(&app), &EntryKind::Info("chat with bob at bobby (10.0.0.2:7777) open".into()));

        app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(3));
        app.on_event(Event::Request { peer: "10.0.0.3:7777".parse().unwrap(), user: "carol".into() }, t(4));
        app.on_line("y", t(4));
        app.on_event(Event::Established { peer: "10.0.0.3:7777".parse().unwrap(), user: "carol".into() }, t(4));
        assert_eq!(
            last(&app),
            &EntryKind::Info(
                "10.0.0.3:7777 is not in your contacts: /save keeps it as carol, /save NAME as NAME".into()
            )
        );
        assert!(app.on_line("/save", t(5)).is_empty());
        assert_eq!(app.take_contact_to_save(), Some(("carol".into(), "10.0.0.3:7777".parse().unwrap())));
        assert_eq!(app.contacts().address("carol"), Some("10.0.0.3:7777".parse().unwrap()));
        assert!(matches!(last(&app), EntryKind::Info(m) if m.starts_with("saved carol = 10.0.0.3:7777")));
        app.on_line("/save 1.2.3.4", t(5));
        assert!(matches!(last(&app), EntryKind::Error(m) if m.contains("reads as an address")));
        assert_eq!(app.take_contact_to_save(), None);
        // Saved under the name carol goes by, she is named once.
        app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(6));
        app.on_event(Event::Request { peer: "10.0.0.3:7777".parse().unwrap(), user: "carol".into() }, t(7));
        assert_eq!(last(&app), &EntryKind::Info("request from carol (10.0.0.3:7777)".into()));
        app.on_line("y", t(7));
        app.on_event(Event::Established { peer: "10.0.0.3:7777".parse().unwrap(), user: "carol".into() }, t(7));
        assert_eq!(last(&app), &EntryKind::Info("chat with carol (10.0.0.3:7777) open".into()));
    }

    #[test]
    fn a_message_stored_as_the_chat_opened_is_no_earlier_message_nor_unread() {
        // The demo's bot greets within the millisecond of the call (in one process): its
        // stamp, to the millisecond, must not read as from before the connect, nor its place
        // in the history answer as from before the opening.
        let moment = test_time(12, 0, 1) + chrono::TimeDelta::microseconds(500);
        let (mut app, _) = App::with_user("alice", moment);
        app.set_history(true);
        app.on_event(connected_event(), moment);
        app.on_line("127.0.0.2", moment);
        // The client handles `established` later than the daemon stored the greeting.
        let later = moment + chrono::TimeDelta::milliseconds(3);
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, later);
        app.on_event(stored(7, false, moment, "hi, I am a bot", "unseen"), later);
        let greeting = Event::Message { id: 7, at: epoch_millis(moment), user: "bob".into(), text: "hi".into() };
        app.on_event(greeting, later);
        app.on_event(Event::HistoryEnd { count: 1 }, later);
        let kinds: Vec<EntryKind> = app.log().iter().map(|e| e.kind.clone()).collect();
        assert!(!kinds.contains(&EntryKind::Unread), "{kinds:?}");
        assert_eq!(kinds.last(), Some(&incoming("hi, I am a bot")), "below the opening: {kinds:?}");
    }

    #[test]
    fn a_call_still_ringing_after_a_few_seconds_says_so_once() {
        let mut app = connected("alice");
        assert_eq!(app.wakeup(), None);
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        assert_eq!(app.wakeup(), Some(t(2) + RING_HINT_AFTER));
        app.on_tick(t(6));
        assert_eq!(last(&app), &EntryKind::Info("calling 127.0.0.2:7777".into()), "not yet");
        app.on_tick(t(7));
        assert_eq!(
            last(&app),
            &EntryKind::Info(
                "still ringing 127.0.0.2:7777: nobody has answered yet (a call rings up to 60 s with simpd's \
                 default --call-timeout); c or /leave cancels"
                    .into()
            )
        );
        assert_eq!(app.wakeup(), None, "once");
        // A call answered in time says nothing.
        let mut app = connected("alice");
        app.on_line("127.0.0.2", t(2));
        app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(3));
        assert_eq!(app.wakeup(), None);
    }

    #[test]
    fn a_peer_whose_name_is_not_known_is_shown_by_address_alone() {
        // An auto-accepted call's `established` may carry no name.
        let mut app = connected("alice");
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: String::new() }, t(3));
        assert!(app.log().iter().any(|e| e.kind == EntryKind::Info("chat with 127.0.0.2:7777 open".into())));
        assert_eq!(texts::describe(app.phase()), "chatting with 127.0.0.2:7777");
        assert!(app.prompt().unwrap().starts_with("chatting with 127.0.0.2:7777 — "));
        app.on_event(Event::Ended { reason: EndReason::PeerLeft, detail: None }, t(4));
        assert_eq!(last(&app), &EntryKind::Info("chat with 127.0.0.2:7777 ended: peer left".into()));
        // A contact: the user's name, then the contact's and the address, in one pair of brackets.
        let mut contacts = Contacts::default();
        contacts.insert("bobby", "127.0.0.2:7777".parse().unwrap()).unwrap();
        app.set_contacts(contacts);
        app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(5));
        assert_eq!(texts::describe(app.phase()), "chatting with bob (bobby, 127.0.0.2:7777)");
    }

    #[test]
    fn help_lists_every_command_that_works_where_it_is_asked_and_only_those() {
        let at_the_menu: fn() -> App = || connected("alice");
        let asking_the_peer: fn() -> App = || {
            let mut app = connected("alice");
            app.on_line("s", t(1));
            app
        };
        let waiting: fn() -> App = || {
            let mut app = connected("alice");
            app.on_line("w", t(1));
            app
        };
        for (name, make) in
            [("chat", chatting as fn() -> App), ("menu", at_the_menu), ("peer", asking_the_peer), ("wait", waiting)]
        {
            let mut app = make();
            app.on_line("/help", t(4));
            let listed = help_commands(&app);
            assert!(listed.contains(&"/call".to_owned()) && listed.contains(&"/quit".to_owned()), "{name}: {listed:?}");
            for cmd in listed {
                let mut app = make();
                let arg = if cmd == "/me" || cmd == "/call" { " 127.0.0.9" } else { "" };
                app.on_line(&format!("{cmd}{arg}"), t(4));
                assert!(
                    !app.log()
                        .iter()
                        .any(|e| matches!(&e.kind, EntryKind::Error(m) if m.starts_with("unknown command"))),
                    "{name}: {cmd} is listed but unknown"
                );
            }
        }
    }

    /// The commands `/help` listed: the first word of each info line that starts with `/`.
    fn help_commands(app: &App) -> Vec<String> {
        app.log()
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Info(m) => m.split_whitespace().next().filter(|w| w.starts_with('/')).map(str::to_owned),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn while_a_call_rings_or_the_daemon_is_away_help_who_and_clear_act_at_once() {
        let calling: fn() -> App = || {
            let mut app = connected("alice");
            app.on_line("127.0.0.2", t(2));
            app.on_event(Event::Calling { peer: "127.0.0.2:7777".parse().unwrap() }, t(2));
            app
        };
        let away: fn() -> App = || {
            let mut app = connected("alice");
            app.daemon_lost("127.0.0.1:7778".parse().unwrap(), "simpd 127.0.0.1", t(2));
            app
        };
        for (name, make) in [("calling", calling), ("away", away)] {
            let mut app = make();
            assert_eq!(app.on_line("/help", t(4)), Vec::new());
            let listed = help_commands(&app);
            assert_eq!(listed, ["/who", "/clear", "/help", "/quit"], "{name}: shown at once, only what works");
            app.on_line("/who", t(4));
            assert!(
                matches!(last(&app), EntryKind::Info(m) if m.starts_with("no contacts")),
                "{name}: {:?}",
                last(&app)
            );
            app.on_line("/clear", t(4));
            assert!(app.log().is_empty(), "{name}");
        }
        // Nothing of it waited for the chat: it opens and sends nothing.
        let mut app = calling();
        app.on_line("/help", t(4));
        let cmds =
            app.on_event(Event::Established { peer: "127.0.0.2:7777".parse().unwrap(), user: "bob".into() }, t(5));
        assert_eq!(cmds, Vec::new());
        assert!(!app.log().iter().any(|e| matches!(&e.kind, EntryKind::Error(_))), "{:#?}", app.log());
    }

    #[test]
    fn a_message_over_the_daemons_line_limit_is_refused_here_and_nothing_is_sent() {
        let mut app = chatting();
        let entries = app.log().len();
        let big = "word ".repeat(14_000);
        let sent = app.on_line(&big, t(4));
        assert!(sent.is_empty(), "{} commands sent", sent.len());
        assert_eq!(app.log().len(), entries + 1, "no message line, only the refusal");
        assert!(
            matches!(last(&app), EntryKind::Error(m) if m.starts_with("nothing was sent: the message takes 70")),
            "{:?}",
            last(&app)
        );
        // Up to the limit it goes: the longest line the daemon takes.
        let room = MAX_LINE - r#"{"cmd":"chat","text":"","id":"18446744073709551615","utf8":true}"#.len();
        let fits = "x".repeat(room);
        assert!(refusal(&fits, false).is_none());
        assert!(refusal(&format!("{fits}x"), false).is_some());
        assert!(matches!(app.on_line(&fits, t(5))[..], [Command::Chat { .. }]));
    }

    #[test]
    fn a_chat_the_daemon_leaves_as_it_stops_is_not_said_to_be_left_by_the_user() {
        let mut app = chatting();
        app.on_event(Event::Ended { reason: EndReason::YouLeft, detail: None }, t(5));
        assert_eq!(last(&app), &EntryKind::Info("chat with bob ended: the daemon left it (simpd is stopping)".into()));
        assert_eq!(app.phase(), &Phase::Menu);
        // After our /leave, it is ours.
        let mut app = chatting();
        app.on_line("/leave", t(5));
        app.on_event(Event::Ended { reason: EndReason::YouLeft, detail: None }, t(6));
        assert_eq!(last(&app), &EntryKind::Info("chat with bob ended: you left".into()));
    }

    #[test]
    fn help_who_clear_me_and_unknown_commands() {
        let mut app = chatting();
        app.on_line("/help", t(4));
        assert!(app.log().iter().any(|e| matches!(&e.kind, EntryKind::Info(m) if m.contains("/me TEXT"))));
        app.on_line("/who", t(4));
        assert!(app
            .log()
            .iter()
            .any(|e| e.kind == EntryKind::Info("you are alice, through the daemon at 127.0.0.1:7777".into())));
        assert_eq!(last(&app), &EntryKind::Info("no contacts yet: /save NAME after a chat adds one".into()));
        assert_eq!(
            app.on_line("/me waves", t(4)),
            vec![Command::Chat { text: "* alice waves".into(), id: Some("1".into()), utf8: None }]
        );
        assert!(app.on_line("/call 10.0.0.9", t(4)).is_empty(), "one chat at a time");
        assert_eq!(
            last(&app),
            &EntryKind::Error(
                "one chat at a time: /leave ends the chat with bob (127.0.0.2:7777), then /call PEER calls another"
                    .into()
            )
        );
        app.on_line("/clear", t(4));
        assert!(app.log().is_empty());
        app.on_line("/nope", t(4));
        assert!(matches!(last(&app), EntryKind::Error(m) if m.starts_with("unknown command /nope: /help")));
        let mut app = connected("alice");
        app.on_line("/help", t(4));
        assert!(app.log().iter().any(|e| matches!(&e.kind, EntryKind::Info(m) if m.contains("/call PEER"))));
        assert_eq!(app.phase(), &Phase::Menu);
    }
}
