//! A faulty peer: a SIMP daemon built on simp-proto's `Endpoint`, with one injectable fault
//! from the list of defects seen in real student implementations (issue 10). It serves the
//! course's dialect on a UDP client port, so the checker can drive it with `--drive course`.
//!
//! Each fault is a small rewrite of what goes in or out of a correct endpoint, made
//! consistent the way the faulty implementation would be (a daemon that numbers its chat
//! datagrams differently also expects ACKs in its own numbering).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use serde_json::{json, Value};
use simp_proto::ipc::{Command, Event};
use simp_proto::wire::{Datagram, Kind, HEADER_LEN, TYPE_CHAT, TYPE_CONTROL, USER_LEN};
use simp_proto::{Config, Endpoint, Instant, SeqMode, Stored};

/// One defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every ACK carries seq 0 instead of echoing.
    FixedSeqAck,
    /// Chat seq never alternates (always 0).
    NoAlternation,
    /// One counter for both directions.
    SharedCounter,
    /// Chat seq counts 0, 1, 2, 3…
    CountingSeq,
    /// Chat seq counts from 2.
    StartAtTwo,
    /// Two checksum bytes after every datagram.
    BytesAppended,
    /// Control datagrams without payload lack the length field (35 bytes).
    ShortControl,
    /// No SYN+ACK at all; the caller puts text in its SYN.
    NoSynAck,
    /// The handshake consumes seq 0: chat starts at 1.
    HandshakeConsumesSeq,
    /// SYN+ACK at once, before the user decided.
    SynAckBeforeAccept,
    /// Nothing is ever re-sent.
    NoResend,
    /// The ACK of a FIN goes to the peer's IP on port 7777.
    FinAckElsewhere,
    /// Chat is acknowledged and then dropped, never shown to the user.
    AckThenDrop,
    // Beyond issue 10's list: one more fault for every case the list cannot make fail.
    /// The ACK of a FIN has operation 0x0c ("FIN+ACK").
    FinAckOp0c,
    /// The user field is padded with spaces.
    SpacePadding,
    /// A declined call gets no FIN.
    SilentDecline,
    /// The caller does not answer SYN+ACK with ACK.
    NoHandshakeAck,
    /// A duplicate chat datagram is not acknowledged again.
    DupNotReacked,
    /// A duplicate chat datagram is delivered again.
    DupDelivered,
    /// Re-sends (almost) forever.
    RetryForever,
    /// Any ACK from the peer acknowledges the outstanding datagram.
    AnyAckAccepted,
    /// An ACK for anything but the outstanding datagram re-sends it at once.
    ResendOnDupAck,
    /// Malformed datagrams are answered with ACK.
    AcceptsGarbage,
    /// Datagrams are read into a 1024-byte buffer.
    SmallBuffer,
    /// The busy ERR says "busy".
    BusyText,
    /// The busy ERR and FIN are sent twice.
    BusyResent,
    /// Strangers' datagrams are answered with ACK.
    AcksStrangers,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 27] = [
        Fault::FixedSeqAck,
        Fault::NoAlternation,
        Fault::SharedCounter,
        Fault::CountingSeq,
        Fault::StartAtTwo,
        Fault::BytesAppended,
        Fault::ShortControl,
        Fault::NoSynAck,
        Fault::HandshakeConsumesSeq,
        Fault::SynAckBeforeAccept,
        Fault::NoResend,
        Fault::FinAckElsewhere,
        Fault::AckThenDrop,
        Fault::FinAckOp0c,
        Fault::SpacePadding,
        Fault::SilentDecline,
        Fault::NoHandshakeAck,
        Fault::DupNotReacked,
        Fault::DupDelivered,
        Fault::RetryForever,
        Fault::AnyAckAccepted,
        Fault::ResendOnDupAck,
        Fault::AcceptsGarbage,
        Fault::SmallBuffer,
        Fault::BusyText,
        Fault::BusyResent,
        Fault::AcksStrangers,
    ];
}

/// A running faulty daemon; stopped on drop.
pub struct FaultyPeer {
    /// Its peer port.
    pub udp: SocketAddr,
    /// Its course client port.
    pub client: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FaultyPeer {
    /// Starts a daemon on `ip` (ports chosen by the system) with `fault` and RTO `timeout`.
    pub fn start(ip: IpAddr, fault: Option<Fault>, timeout: Duration) -> FaultyPeer {
        let peer = UdpSocket::bind((ip, 0)).expect("faulty peer binds its peer port");
        let client = UdpSocket::bind((ip, 0)).expect("faulty peer binds its client port");
        let (udp, client_addr) = (peer.local_addr().expect("addr"), client.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut config = Config::new(udp);
            config.timeout = timeout;
            config.retries = if fault == Some(Fault::RetryForever) { 1000 } else { 5 };
            if fault == Some(Fault::SharedCounter) {
                config.seq_mode = SeqMode::Shared;
            }
            Shell::new(Endpoint::new(config), fault, peer, client).run(&flag);
        });
        FaultyPeer { udp, client: client_addr, stop, thread: Some(thread) }
    }
}

impl Drop for FaultyPeer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Shell {
    ep: Endpoint,
    fault: Option<Fault>,
    peer: UdpSocket,
    client: UdpSocket,
    client_addr: Option<SocketAddr>,
    start: StdInstant,
    /// The last chat datagram sent: its seq as the endpoint numbered it and as sent.
    last_chat: Option<(Vec<u8>, u8, u8)>,
    /// Chat datagrams of this session (for the counting faults).
    chats: u8,
    /// The kind of the last datagram received from the peer.
    last_in: Option<Kind>,
    /// The last chat datagram received, and whether the one being handled repeats it.
    last_chat_in: Option<Vec<u8>>,
    duplicate: bool,
    /// The user's last command was decline.
    declined: bool,
    /// Message parts "stored" so far: the store of this test shell is a counter.
    stored: u64,
}

impl Shell {
    fn new(ep: Endpoint, fault: Option<Fault>, peer: UdpSocket, client: UdpSocket) -> Shell {
        peer.set_nonblocking(true).expect("nonblocking");
        client.set_nonblocking(true).expect("nonblocking");
        Shell {
            ep,
            fault,
            peer,
            client,
            client_addr: None,
            start: StdInstant::now(),
            last_chat: None,
            chats: 0,
            last_in: None,
            last_chat_in: None,
            duplicate: false,
            declined: false,
            stored: 0,
        }
    }

    fn now(&self) -> Instant {
        Instant::from_duration(self.start.elapsed())
    }

    fn run(mut self, stop: &AtomicBool) {
        let mut buf = vec![0u8; 65_536];
        while !stop.load(Ordering::Relaxed) {
            let mut busy = false;
            if let Ok((n, from)) = self.peer.recv_from(&mut buf) {
                busy = true;
                let n = if self.fault == Some(Fault::SmallBuffer) { n.min(1024) } else { n };
                let mut bytes = buf[..n].to_vec();
                if self.incoming(from, &mut bytes) {
                    let now = self.now();
                    self.ep.handle_datagram(now, from, &bytes);
                    self.drain(false);
                }
            }
            if let Ok((n, from)) = self.client.recv_from(&mut buf) {
                busy = true;
                self.client_addr = Some(from);
                let text = String::from_utf8_lossy(&buf[..n]).trim_end().to_owned();
                self.command(&text);
            }
            if self.ep.poll_timeout().is_some_and(|t| t <= self.now()) {
                let now = self.now();
                self.ep.handle_timeout(now);
                self.drain(true);
            }
            if !busy {
                thread::sleep(Duration::from_millis(5));
            }
        }
    }

    /// Rewrites a received datagram as the faulty daemon would understand it; false when
    /// the faulty daemon has dealt with it alone.
    fn incoming(&mut self, from: SocketAddr, bytes: &mut [u8]) -> bool {
        let parsed = Datagram::parse(bytes).map(|d| (d.kind(), d.seq().byte()));
        let Ok((kind, seq)) = parsed else {
            if self.fault == Some(Fault::AcceptsGarbage) {
                self.reply(Kind::Ack, 0, from);
            }
            return true;
        };
        let from_peer = self.ep.peer() == Some(from);
        if !from_peer && self.ep.peer().is_some() && kind != Kind::Syn && self.fault == Some(Fault::AcksStrangers) {
            self.reply(Kind::Ack, seq, from);
            return false;
        }
        if from_peer {
            self.last_in = Some(kind);
        }
        if kind == Kind::Syn && self.fault == Some(Fault::SynAckBeforeAccept) && self.ep.peer().is_none() {
            self.reply(Kind::SynAck, 0, from);
        }
        if kind == Kind::Chat && from_peer {
            self.duplicate = self.last_chat_in.as_deref() == Some(&bytes[..]);
            self.last_chat_in = Some(bytes.to_vec());
            if self.duplicate && self.fault == Some(Fault::DupDelivered) {
                let text = String::from_utf8_lossy(&bytes[HEADER_LEN..]).into_owned();
                self.to_client(&format!("message|username=simp-check|text={text}"));
            }
        }
        // A daemon numbering its chat datagrams its own way expects ACKs in that numbering.
        if let (Kind::Ack, true, Some((chat, internal, wire))) = (kind, from_peer, self.last_chat.clone()) {
            if seq != wire && self.fault == Some(Fault::ResendOnDupAck) {
                let _ = self.peer.send_to(&rewired(&chat, wire), from);
            }
            bytes[2] = match self.fault {
                Some(Fault::AnyAckAccepted) => internal,
                _ if seq == wire => internal,
                _ => internal ^ 1,
            };
        }
        true
    }

    /// A header-only datagram the faulty daemon sends on its own.
    fn reply(&self, kind: Kind, seq: u8, to: SocketAddr) {
        let mut bytes = vec![0u8; HEADER_LEN];
        (bytes[0], bytes[1]) = kind.bytes();
        bytes[2] = seq;
        let _ = self.peer.send_to(&bytes, to);
    }

    fn drain(&mut self, from_timer: bool) {
        // The drive contract: a received message is stored before its ACK goes out.
        if let Some(incoming) = self.ep.poll_persist() {
            let first_id = self.stored + 1;
            self.stored += incoming.parts().count() as u64;
            let now = self.now();
            self.ep.handle_persisted(now, Some(Stored { first_id, at: 0 }));
        }
        let mut again = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            if from_timer && self.fault == Some(Fault::NoResend) {
                continue;
            }
            let mut to = t.to;
            let Some(bytes) = self.outgoing(t.bytes(), &mut to) else { continue };
            let _ = self.peer.send_to(&bytes, to);
            if self.fault == Some(Fault::BusyResent) && self.ep.peer() != Some(to) {
                again.push((bytes, to));
            }
        }
        for (bytes, to) in again {
            let _ = self.peer.send_to(&bytes, to);
        }
        self.duplicate = false;
        while let Some(e) = self.ep.poll_event() {
            self.event(e);
        }
    }

    /// Rewrites a datagram of the correct endpoint into the faulty one's.
    fn outgoing(&mut self, bytes: &[u8], to: &mut SocketAddr) -> Option<Vec<u8>> {
        let mut out = bytes.to_vec();
        let kind = Kind::from_bytes(out[0], out[1]).ok()?;
        let after_fin = self.last_in == Some(Kind::Fin);
        match (self.fault, kind) {
            (Some(Fault::FixedSeqAck), Kind::Ack) => out[2] = 0,
            (Some(Fault::NoSynAck), Kind::SynAck) => return None,
            (Some(Fault::NoSynAck), Kind::Syn) => {
                out.extend_from_slice(b"hello");
                out[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&5u32.to_be_bytes());
            }
            (Some(Fault::FinAckElsewhere), Kind::Ack) if after_fin => {
                *to = SocketAddr::new(to.ip(), simp_proto::ipc::DEFAULT_PORT);
            }
            (Some(Fault::FinAckOp0c), Kind::Ack) if after_fin => out[1] = 0x0c,
            (Some(Fault::SilentDecline), Kind::Fin) if self.declined => return None,
            (Some(Fault::NoHandshakeAck), Kind::Ack) if self.last_in == Some(Kind::SynAck) => return None,
            (Some(Fault::DupNotReacked), Kind::Ack) if self.duplicate => return None,
            (Some(Fault::BusyText), Kind::Err) => {
                out.truncate(HEADER_LEN);
                out.extend_from_slice(b"busy");
                out[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&4u32.to_be_bytes());
            }
            (Some(Fault::SpacePadding), _) => {
                let end = out[3..3 + USER_LEN].iter().position(|&b| b == 0).map_or(3 + USER_LEN, |p| 3 + p);
                out[end..3 + USER_LEN].fill(b' ');
            }
            (Some(Fault::BytesAppended), _) => out.extend_from_slice(&[0xbe, 0xef]),
            (Some(Fault::ShortControl), _) if out[0] == TYPE_CONTROL && out.len() == HEADER_LEN => {
                out.truncate(HEADER_LEN - 4)
            }
            (_, Kind::Chat) => self.renumber(&mut out),
            _ => {}
        }
        Some(out)
    }

    fn renumber(&mut self, out: &mut [u8]) {
        let internal = out[2];
        let resend = self.last_chat.as_ref().is_some_and(|(b, _, _)| b.as_slice() == &out[..]);
        if !resend {
            self.chats = self.chats.saturating_add(1);
        }
        let n = self.chats - 1;
        let wire = match self.fault {
            Some(Fault::NoAlternation) => 0,
            Some(Fault::CountingSeq) => n,
            Some(Fault::StartAtTwo) => n + 2,
            Some(Fault::HandshakeConsumesSeq) => internal ^ 1,
            _ => internal,
        };
        self.last_chat = Some((out.to_vec(), internal, wire));
        debug_assert_eq!(out[0], TYPE_CHAT);
        out[2] = wire;
    }

    /// The numbering faults count per session.
    fn new_session(&mut self) {
        self.chats = 0;
        self.last_chat = None;
        self.last_chat_in = None;
    }

    fn command(&mut self, text: &str) {
        let (word, rest) = text.split_once('|').unwrap_or((text, ""));
        let field = |key: &str| rest.split('|').find_map(|f| f.strip_prefix(key)).unwrap_or_default().to_owned();
        let value = match word {
            "connect" => json!({"cmd": "connect", "user": field("username=")}),
            "invite" => json!({"cmd": "start", "peer": format!("{}:{}", field("ip="), field("port="))}),
            "accept" => json!({"cmd": "accept"}),
            "decline" => json!({"cmd": "decline"}),
            "send" => json!({"cmd": "chat", "text": rest.strip_prefix("text=").unwrap_or_default()}),
            "quit" => json!({"cmd": "quit"}),
            _ => return self.to_client("error|message=unknown command"),
        };
        let Ok(cmd) = serde_json::from_value::<Command>(value) else {
            return self.to_client("error|message=bad command");
        };
        self.declined = word == "decline";
        let now = self.now();
        self.ep.handle_command(now, cmd);
        if word == "quit" {
            self.to_client("ok");
        }
        self.drain(false);
    }

    fn event(&mut self, event: Event) {
        let value = serde_json::to_value(&event).unwrap_or(Value::Null);
        let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
        let line = match text("event").as_str() {
            "connected" => "ok".to_owned(),
            "request" => format!("invitation|username={}|ip={}", text("user"), text("peer")),
            "established" => {
                self.new_session();
                format!("connected|username={}", text("user"))
            }
            "message" if self.fault == Some(Fault::AckThenDrop) => return,
            "message" => format!("message|username={}|text={}", text("user"), text("text")),
            "ended" => {
                self.new_session();
                "disconnected".to_owned()
            }
            "error" => format!("error|message={}", text("message")),
            _ => return,
        };
        self.to_client(&line);
    }

    fn to_client(&self, line: &str) {
        if let Some(addr) = self.client_addr {
            let _ = self.client.send_to(line.as_bytes(), addr);
        }
    }
}

/// `chat` with its sequence byte as sent.
fn rewired(chat: &[u8], wire: u8) -> Vec<u8> {
    let mut out = chat.to_vec();
    out[2] = wire;
    out
}
