//! A `simpd` inside this process, living as long as the client: what `simp` starts when no
//! daemon answers (after asking, or at once with `--daemon`), so a newcomer types one command
//! to chat; the demo runs two of them.

use std::time::Duration;

use simpd::Daemon;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long stopping may take: the daemon leaves its chat, bounded by its timeout.
const STOP_GRACE: Duration = Duration::from_secs(6);

/// A running in-process daemon.
#[derive(Debug)]
pub struct OwnDaemon {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl OwnDaemon {
    /// Runs a bound daemon until [`OwnDaemon::stop`]. A daemon that fails meanwhile shows up
    /// as the client losing its daemon.
    pub fn spawn(daemon: Daemon) -> OwnDaemon {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = daemon
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        });
        OwnDaemon { stop, task }
    }

    /// Stops it, waiting a bounded time for it to leave its chat (FIN to the peer).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(STOP_GRACE, self.task).await;
    }
}
