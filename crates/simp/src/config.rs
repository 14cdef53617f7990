//! The config file, `$XDG_CONFIG_HOME/simp/config.toml` (`~/.config/simp/config.toml` when the
//! variable is unset): the daemon to use, the user name, and contacts (a name for an address),
//! so people call `bob` rather than `192.168.1.20`.
//!
//! ```toml
//! daemon = "192.168.1.10"      # DAEMON_IP when none is given
//! user = "alice"               # --user when none is given
//!
//! [contacts]
//! bob = "192.168.1.20"         # IP, or IP:port (default port 7777)
//! carol = "192.168.1.30:7777"
//! ```
//!
//! A missing file is an empty one. Saving a contact edits the file in place, keeping the
//! user's comments and layout.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use simp_proto::ipc::parse_peer;
use toml_edit::{DocumentMut, Item, Table};

/// The file's name inside `$XDG_CONFIG_HOME/simp/`.
pub const FILE_NAME: &str = "config.toml";

/// Longest contact name.
pub const MAX_CONTACT_NAME: usize = 32;

/// Why the config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Not TOML.
    #[error("{path} is not valid TOML: {source}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: toml_edit::TomlError,
    },
    /// A key has the wrong kind of value.
    #[error("{path}: {key} must be {want}")]
    Value {
        /// The file.
        path: PathBuf,
        /// The key, e.g. `contacts.bob`.
        key: String,
        /// What it should be.
        want: &'static str,
    },
    /// No home directory to find the file in.
    #[error("no home directory to keep {FILE_NAME} in; pass --config FILE")]
    NoHome,
}

/// Why a name cannot be a contact's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactNameError {
    /// Empty, too long, or with characters other than letters, digits, `-`, `_` and `.`.
    #[error("{0:?} cannot be a contact name: use 1-{MAX_CONTACT_NAME} letters, digits, '-', '_' or '.'")]
    Invalid(String),
    /// It reads as an address.
    #[error("{0:?} reads as an address, so it cannot be a contact name")]
    LooksLikeAnAddress(String),
}

/// What the config file says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The daemon to use when none is given.
    pub daemon: Option<String>,
    /// The user name to use when none is given.
    pub user: Option<String>,
    /// Contacts: name → address as written.
    pub contacts: Contacts,
}

/// Contact names and their addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    by_name: BTreeMap<String, SocketAddr>,
}

impl Contacts {
    /// Adds or replaces a contact.
    pub fn insert(&mut self, name: &str, addr: SocketAddr) -> Result<(), ContactNameError> {
        check_contact_name(name)?;
        self.by_name.insert(name.to_owned(), addr);
        Ok(())
    }

    /// The address of contact `name`.
    pub fn address(&self, name: &str) -> Option<SocketAddr> {
        self.by_name.get(name).copied()
    }

    /// The name of the contact at `addr` (the first in name order, if several share it).
    pub fn name_of(&self, addr: SocketAddr) -> Option<&str> {
        self.by_name.iter().find(|(_, a)| **a == addr).map(|(n, _)| n.as_str())
    }

    /// Every contact, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, SocketAddr)> {
        self.by_name.iter().map(|(n, a)| (n.as_str(), *a))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// What the user typed for a peer, made into what the daemon's `start` takes: a contact's
/// address, `localhost` as 127.0.0.1, or the text itself (the daemon and [`parse_peer`] judge
/// it).
pub fn resolve_peer(text: &str, contacts: &Contacts) -> String {
    let text = text.trim();
    if let Some(addr) = contacts.address(text) {
        return addr.to_string();
    }
    resolve_localhost(text)
}

/// `localhost` (alone or with `:port`) as 127.0.0.1; anything else unchanged.
pub fn resolve_localhost(text: &str) -> String {
    match text.strip_prefix("localhost") {
        Some("") => "127.0.0.1".into(),
        Some(port) if port.starts_with(':') => format!("127.0.0.1{port}"),
        _ => text.to_owned(),
    }
}

/// Checks a contact name: short, plain, and never mistakable for an address.
pub fn check_contact_name(name: &str) -> Result<(), ContactNameError> {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_CONTACT_NAME || !name.chars().all(plain) {
        return Err(ContactNameError::Invalid(name.to_owned()));
    }
    if parse_peer(name).is_ok() || name == "localhost" {
        return Err(ContactNameError::LooksLikeAnAddress(name.to_owned()));
    }
    Ok(())
}

/// Where the config file lives by default.
pub fn default_path() -> Result<PathBuf, ConfigError> {
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy().map_err(|_| ConfigError::NoHome)?;
    Ok(base.config_dir().join("simp").join(FILE_NAME))
}

/// Reads the file; a missing one is empty.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Config::default()),
        Err(source) => Err(ConfigError::Io { path: path.to_owned(), source }),
    }
}

/// Parses the file's text.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let doc: DocumentMut = text.parse().map_err(|source| ConfigError::Toml { path: path.to_owned(), source })?;
    let bad = |key: &str, want| ConfigError::Value { path: path.to_owned(), key: key.to_owned(), want };
    let string = |key: &str| match doc.get(key) {
        None => Ok(None),
        Some(item) => item.as_str().map(|s| Some(s.to_owned())).ok_or_else(|| bad(key, "a string")),
    };
    let mut config = Config { daemon: string("daemon")?, user: string("user")?, contacts: Contacts::default() };
    if let Some(item) = doc.get("contacts") {
        let table = item.as_table_like().ok_or_else(|| bad("contacts", "a table of name = \"IP\""))?;
        for (name, value) in table.iter() {
            let key = format!("contacts.{name}");
            let addr = value
                .as_str()
                .map(resolve_localhost)
                .and_then(|a| parse_peer(&a).ok())
                .ok_or_else(|| bad(&key, "an IP or IP:port in quotes"))?;
            config.contacts.insert(name, addr).map_err(|_| bad(&key, "under a plain name (letters, digits, - _ .)"))?;
        }
    }
    Ok(config)
}

/// Adds (or replaces) a contact in the file, creating it (and its directory) if need be, and
/// keeping everything else as written.
pub fn save_contact(path: &Path, name: &str, addr: SocketAddr) -> Result<(), ConfigError> {
    check_contact_name(name).map_err(|_| ConfigError::Value {
        path: path.to_owned(),
        key: format!("contacts.{name}"),
        want: "under a plain name (letters, digits, - _ .)",
    })?;
    let io_err = |source| ConfigError::Io { path: path.to_owned(), source };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(io_err(source)),
    };
    let mut doc: DocumentMut = text.parse().map_err(|source| ConfigError::Toml { path: path.to_owned(), source })?;
    let contacts = doc.entry("contacts").or_insert_with(|| Item::Table(Table::new()));
    let table = contacts.as_table_like_mut().ok_or_else(|| ConfigError::Value {
        path: path.to_owned(),
        key: "contacts".into(),
        want: "a table of name = \"IP\"",
    })?;
    table.insert(name, toml_edit::value(addr.to_string()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    std::fs::write(path, doc.to_string()).map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_daemon_user_and_contacts() {
        let text = "daemon = \"192.168.1.10\"\nuser = \"alice\"\n[contacts]\nbob = \"192.168.1.20\"\nme = \"localhost:7000\"\n";
        let config = parse(Path::new("c.toml"), text).unwrap();
        assert_eq!(config.daemon.as_deref(), Some("192.168.1.10"));
        assert_eq!(config.user.as_deref(), Some("alice"));
        assert_eq!(config.contacts.address("bob"), Some(addr("192.168.1.20:7777")));
        assert_eq!(config.contacts.address("me"), Some(addr("127.0.0.1:7000")));
        assert_eq!(config.contacts.name_of(addr("192.168.1.20:7777")), Some("bob"));
        assert_eq!(parse(Path::new("c.toml"), "").unwrap(), Config::default());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let err = |text| parse(Path::new("c.toml"), text).unwrap_err().to_string();
        assert!(err("user = 3").contains("user must be a string"));
        assert!(err("[contacts]\nbob = \"nowhere\"").contains("contacts.bob must be an IP"));
        assert!(err("[contacts]\n\"10.0.0.1\" = \"10.0.0.1\"").contains("plain name"));
        assert!(err("user = ").contains("not valid TOML"));
    }

    #[test]
    fn peers_resolve_through_contacts_and_localhost() {
        let mut contacts = Contacts::default();
        contacts.insert("bob", addr("10.0.0.2:7777")).unwrap();
        assert_eq!(resolve_peer("bob", &contacts), "10.0.0.2:7777");
        assert_eq!(resolve_peer(" localhost ", &contacts), "127.0.0.1");
        assert_eq!(resolve_peer("localhost:7000", &contacts), "127.0.0.1:7000");
        assert_eq!(resolve_peer("10.0.0.9", &contacts), "10.0.0.9");
        assert!(contacts.insert("10.0.0.1", addr("10.0.0.1:7777")).is_err());
        assert!(contacts.insert("bo b", addr("10.0.0.1:7777")).is_err());
        assert!(contacts.insert("localhost", addr("10.0.0.1:7777")).is_err());
    }

    #[test]
    fn saving_a_contact_keeps_the_file_as_written() {
        let dir = std::env::temp_dir().join(format!("simp-config-test-{}", std::process::id()));
        let path = dir.join("sub").join(FILE_NAME);
        save_contact(&path, "bob", addr("10.0.0.2:7777")).unwrap();
        assert_eq!(load(&path).unwrap().contacts.address("bob"), Some(addr("10.0.0.2:7777")));
        std::fs::write(&path, "# mine\nuser = \"alice\" # me\n\n[contacts]\nbob = \"10.0.0.2\"\n").unwrap();
        save_contact(&path, "carol", addr("10.0.0.3:7000")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# mine\nuser = \"alice\" # me\n"), "{text}");
        assert!(text.contains("carol = \"10.0.0.3:7000\""), "{text}");
        assert_eq!(load(&path).unwrap().contacts.iter().count(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
