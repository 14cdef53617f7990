//! The full-screen terminal interface.
use std::net::SocketAddr;

use crate::conn::{CommandWriter, EventReader};
use crate::session::SessionError;

/// Runs a session in the full-screen interface.
pub async fn run(
    _addr: SocketAddr,
    _reader: EventReader,
    _writer: CommandWriter,
    _user: Option<&str>,
) -> Result<(), SessionError> {
    todo!()
}
