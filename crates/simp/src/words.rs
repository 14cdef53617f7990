//! The words the menus, prompts and chats understand (IPC.md, last section: `q` quits from
//! every menu and prompt), each set of aliases in one place. Lines are trimmed before they are
//! looked up. The full-screen interface spells its menu keys as the first word of each set, so
//! both front ends feed the [`App`](crate::app::App) the same lines.

/// Quits from every menu and prompt. It is the only quitting word where free text is read (a
/// name, an address), since `quit` could be the text itself; in a chat it is a message.
pub const QUIT: &str = "q";
/// Starts a chat from the menu, asking the peer unless it follows on the same line.
pub const START: &str = "s";
/// Waits for a call.
pub const WAIT: &str = "w";
/// Back from waiting to the menu (an empty line).
pub const MENU: &str = "";
/// Lists the daemons on the LAN from the menu (as `/lan`).
pub const LAN: &str = "l";
/// Accepts a request.
pub const ACCEPT: &str = "y";
/// Declines a request.
pub const DECLINE: &str = "n";
/// Cancels our call.
pub const CANCEL: &str = "c";

/// Quits from a chat, where `q` is a message.
pub const CHAT_QUIT: &str = "/quit";
/// Ends the chat (or cancels a call) without quitting.
pub const CHAT_LEAVE: &str = "/leave";
/// Asks the daemon for its counters.
pub const CHAT_STATUS: &str = "/status";
/// Lists the commands.
pub const CHAT_HELP: &str = "/help";
/// Says who is who: us, the peer, the contacts.
pub const CHAT_WHO: &str = "/who";
/// Clears the log.
pub const CHAT_CLEAR: &str = "/clear";
/// Calls a peer (an IP, IP:port, `localhost` or a contact's name) from the menu.
pub const CHAT_CALL: &str = "/call";
/// Saves the last peer as a contact.
pub const CHAT_SAVE: &str = "/save";
/// Sends an action line, `* NAME TEXT`.
pub const CHAT_ME: &str = "/me";
/// Lists the daemons announcing themselves on the LAN, to call one.
pub const CHAT_LAN: &str = "/lan";
/// Every `/` command, for Tab to complete.
pub const COMMANDS: [&str; 10] =
    [CHAT_CALL, CHAT_CLEAR, CHAT_HELP, CHAT_LAN, CHAT_LEAVE, CHAT_ME, CHAT_QUIT, CHAT_SAVE, CHAT_STATUS, CHAT_WHO];
/// Starts a command in a chat.
pub const CHAT_COMMAND: char = '/';
/// Starts a chat line that is sent without its first `/`, so a message may start with one.
pub const CHAT_SLASH_TEXT: &str = "//";

/// Whether `line` is a command that only shows something here (`/help`, `/who`, `/clear`):
/// it works in every phase, even while a call rings or the daemon is away.
pub fn is_local_command(line: &str) -> bool {
    let cmd = line.split_whitespace().next().unwrap_or_default();
    matches!(cmd, CHAT_HELP | CHAT_WHO | CHAT_CLEAR)
}

/// Whether `word` quits from a menu: the main menu, waiting, a request, a call.
pub fn is_quit(word: &str) -> bool {
    matches!(word, QUIT | "quit" | CHAT_QUIT)
}

/// Whether a line typed while the client waits for the daemon quits at once instead of being
/// held: the spellings that quit in a menu as well as in a chat, where a held line may land.
pub fn is_quit_while_waiting(line: &str) -> bool {
    matches!(line, QUIT | CHAT_QUIT)
}

/// Whether `word` lists the LAN from the menu.
pub fn is_lan(word: &str) -> bool {
    matches!(word, LAN | "lan")
}

/// Whether `word` starts a chat from the menu.
pub fn is_start(word: &str) -> bool {
    matches!(word, START | "start")
}

/// Whether `word` waits for a call from the menu.
pub fn is_wait(word: &str) -> bool {
    matches!(word, WAIT | "wait")
}

/// Whether `word` goes back from waiting to the menu.
pub fn is_menu(word: &str) -> bool {
    matches!(word, MENU | "m" | "menu")
}

/// Whether `word` accepts a request.
pub fn is_accept(word: &str) -> bool {
    matches!(word, ACCEPT | "yes" | "a" | "accept")
}

/// Whether `word` declines a request.
pub fn is_decline(word: &str) -> bool {
    matches!(word, DECLINE | "no" | "d" | "decline")
}

/// Whether `word` cancels our call; `/leave` does too, as it would end the chat.
pub fn is_cancel(word: &str) -> bool {
    matches!(word, CANCEL | "cancel" | CHAT_LEAVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Set = (&'static str, fn(&str) -> bool);

    #[test]
    fn each_menu_word_has_one_meaning() {
        let sets: [Set; 7] = [
            ("quit", is_quit),
            ("start", is_start),
            ("wait", is_wait),
            ("menu", is_menu),
            ("accept", is_accept),
            ("decline", is_decline),
            ("cancel", is_cancel),
        ];
        let all = ["q", "quit", "/quit", "s", "start", "w", "wait", "", "m", "menu", "y", "yes", "a", "accept"];
        let all = all.iter().chain(&["n", "no", "d", "decline", "c", "cancel", "/leave", "x"]);
        for word in all {
            let meanings: Vec<&str> = sets.iter().filter(|(_, is)| is(word)).map(|(name, _)| *name).collect();
            assert!(meanings.len() <= 1, "{word:?} means {meanings:?}");
        }
        assert!(is_quit_while_waiting(QUIT) && is_quit_while_waiting(CHAT_QUIT) && !is_quit_while_waiting("quit"));
    }
}
