//! `simp --demo`: two daemons in-process on 127.0.0.1 and 127.0.0.2, talking real UDP, with
//! an echo bot attached to the second, and the interface already calling it as user `you`.
//! It is the README's first command: a working chat on one machine with nothing to set up.
//!
//! The daemons take the real ports (UDP 7777, client TCP 7778) when those are free, so
//! `simp 127.0.0.1` from another terminal could even join; otherwise the system picks free
//! ports and the demo says which.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use simp_proto::ipc::{Command, Event, DEFAULT_CLIENT_PORT, DEFAULT_PORT};
use simp_proto::wire::validate_text;
use simpd::{Daemon, DaemonConfig, DaemonError};
use tokio::task::JoinHandle;

use crate::conn::{self, ConnError, Incoming};
use crate::own_daemon::OwnDaemon;

/// The user the demo calls itself.
pub const DEMO_USER: &str = "you";
/// The bot's name.
pub const BOT_USER: &str = "echo";
/// What the bot says when a chat opens.
pub const BOT_GREETING: &str =
    "hi! I am an echo bot: type a line and I send it back. /leave ends the chat, /quit quits";
/// The bot's reply prefix.
pub const ECHO_PREFIX: &str = "echo: ";

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A daemon could not bind.
    #[error("cannot start the demo daemon on {ip}: {source}{hint}", hint = loopback_hint(*.ip))]
    Daemon {
        /// Its address.
        ip: IpAddr,
        /// Why.
        source: DaemonError,
    },
    /// The bot could not attach to its daemon.
    #[error("the echo bot cannot reach its daemon: {0}")]
    Bot(#[from] ConnError),
}

/// Two running daemons and the bot.
#[derive(Debug)]
pub struct Demo {
    /// Where the user's client connects (the daemon on 127.0.0.1).
    pub client_addr: SocketAddr,
    /// What the user's daemon calls: the bot's daemon.
    pub bot_udp: SocketAddr,
    daemons: Vec<OwnDaemon>,
    bot: JoinHandle<()>,
}

impl Demo {
    /// Starts both daemons and the bot. With `prefer_default_ports` each daemon first tries
    /// 7777/7778 and falls back to free ports; without, it always takes free ports (tests).
    pub async fn start(prefer_default_ports: bool) -> Result<Demo, DemoError> {
        let mine = bind(Ipv4Addr::new(127, 0, 0, 1), false, prefer_default_ports).await?;
        let theirs = bind(Ipv4Addr::new(127, 0, 0, 2), true, prefer_default_ports).await?;
        let client_addr = mine.client_addr();
        let bot_udp = theirs.udp_addr();
        let bot_client = theirs.client_addr();
        let daemons = vec![OwnDaemon::spawn(mine), OwnDaemon::spawn(theirs)];
        let bot = match echo_bot(bot_client).await {
            Ok(bot) => bot,
            Err(err) => {
                let demo = Demo { client_addr, bot_udp, daemons, bot: tokio::spawn(async {}) };
                demo.stop().await;
                return Err(err.into());
            }
        };
        Ok(Demo { client_addr, bot_udp, daemons, bot })
    }

    /// The lines to feed the client so it connects as `you` and calls the bot at once.
    pub fn script(&self) -> Vec<String> {
        vec![DEMO_USER.to_owned(), self.bot_udp.to_string()]
    }

    /// Stops the bot and both daemons, waiting a bounded time for them to leave their chat.
    pub async fn stop(self) {
        self.bot.abort();
        for daemon in self.daemons {
            daemon.stop().await;
        }
    }
}

/// Runs the demo with the chosen front end (`setup`: `--quiet` and `--utf8`).
pub async fn run(full_screen: bool, prefer_default_ports: bool, setup: crate::Setup) -> Result<(), String> {
    let demo = Demo::start(prefer_default_ports).await.map_err(|e| e.to_string())?;
    let addr = demo.client_addr;
    let result = async {
        let (reader, writer) = conn::connect(addr).await?;
        crate::run_with(addr, reader, writer, &demo.script(), &setup, full_screen).await
    }
    .await;
    demo.stop().await;
    result.map_err(|e| e.to_string())
}

/// Binds one demo daemon, on the real ports if free.
async fn bind(ip: Ipv4Addr, auto_accept: bool, prefer_default_ports: bool) -> Result<Daemon, DemoError> {
    let ip = IpAddr::V4(ip);
    let config = |port, client_port| {
        let mut config = DaemonConfig::new(ip);
        config.port = port;
        config.client_port = client_port;
        config.endpoint.auto_accept = auto_accept;
        config
    };
    if prefer_default_ports {
        if let Ok(daemon) = Daemon::bind(config(DEFAULT_PORT, DEFAULT_CLIENT_PORT)).await {
            return Ok(daemon);
        }
    }
    Daemon::bind(config(0, 0)).await.map_err(|source| DemoError::Daemon { ip, source })
}

/// Attaches the echo bot to the daemon at `addr`; it answers every message until aborted or
/// until its daemon goes away.
pub async fn echo_bot(addr: SocketAddr) -> Result<JoinHandle<()>, ConnError> {
    let (reader, mut writer) = conn::connect(addr).await?;
    writer.send(&Command::Connect { user: BOT_USER.into() }).await?;
    let mut events = reader.spawn();
    Ok(tokio::spawn(async move {
        while let Some(Ok(Some(item))) = events.recv().await {
            let Incoming::Event(event) = item else { continue };
            if let Some(cmd) = bot_reply(event) {
                if writer.send(&cmd).await.is_err() {
                    return;
                }
            }
        }
    }))
}

/// What the bot does about one event: greet a new chat, echo a message, accept a call (in
/// case its daemon does not auto-accept).
pub fn bot_reply(event: Event) -> Option<Command> {
    let text = match event {
        Event::Request { .. } => return Some(Command::Accept),
        Event::Established { .. } => BOT_GREETING.to_owned(),
        // The daemon delivers text escaped to printable ASCII; check anyway, never echo
        // something the daemon would refuse.
        Event::Message { text, .. } => format!("{ECHO_PREFIX}{text}"),
        _ => return None,
    };
    validate_text(&text, false).ok()?;
    Some(Command::Chat { text, id: None, utf8: None })
}

fn loopback_hint(ip: IpAddr) -> &'static str {
    if cfg!(target_os = "linux") || ip == IpAddr::V4(Ipv4Addr::LOCALHOST) {
        ""
    } else {
        " (this system may not route 127.0.0.2 to loopback; on macOS: sudo ifconfig lo0 alias 127.0.0.2)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bot_echoes_greets_and_accepts() {
        assert_eq!(
            bot_reply(Event::Message { id: 1, at: 0, user: "you".into(), text: "hi".into() }),
            Some(Command::Chat { text: "echo: hi".into(), id: None, utf8: None })
        );
        assert!(matches!(
            bot_reply(Event::Established { peer: "127.0.0.1:7777".parse().unwrap(), user: "you".into() }),
            Some(Command::Chat { .. })
        ));
        assert_eq!(
            bot_reply(Event::Request { peer: "127.0.0.1:7777".parse().unwrap(), user: "you".into() }),
            Some(Command::Accept)
        );
        assert_eq!(bot_reply(Event::Message { id: 2, at: 0, user: "you".into(), text: "\u{1b}".into() }), None);
        assert_eq!(bot_reply(Event::Delivered { id: "1".into() }), None);
    }
}
