//! `simp --demo`: two daemons in-process and an echo bot, so the first command of the README
//! shows a working chat on one machine.

/// Runs the demo with the chosen front end.
pub async fn run(_full_screen: bool) -> Result<(), String> {
    Err("--demo needs the simpd library, which this build does not include yet".into())
}
