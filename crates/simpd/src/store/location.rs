//! Where the store lives: `--state-dir`, by default `$XDG_STATE_HOME/simp/<address>` (falling
//! back to `~/.local/state/simp/<address>`), one directory per daemon address. The directory
//! is the user's alone (0700) and so is the database (0600): it holds private conversations.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use etcetera::BaseStrategy;

use super::{StoreError, DB_FILE};

/// The default state directory of a daemon bound to `ip` with peer port `port`: the address
/// alone for the default port, `ADDRESS-PORT` otherwise. `None` when no home directory is
/// known (then `--state-dir` is needed).
pub fn default_state_dir(ip: IpAddr, port: u16) -> Option<PathBuf> {
    let base = etcetera::base_strategy::Xdg::new().ok()?.state_dir()?;
    let name = if port == simp_proto::ipc::DEFAULT_PORT { ip.to_string() } else { format!("{ip}-{port}") };
    Some(base.join("simp").join(name))
}

/// Creates `dir` (0700) and the database file in it (0600) if they do not exist; returns the
/// file's path. SQLite gives its `-wal` and `-shm` files the database file's mode.
pub(super) fn prepare(dir: &Path) -> Result<PathBuf, StoreError> {
    let create = |path: &Path, source| StoreError::Create { path: path.to_owned(), source };
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|e| create(dir, e))?;
    let file = dir.join(DB_FILE);
    let mut options = fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(&file).map_err(|e| create(&file, e))?;
    Ok(file)
}
