#compdef simp

autoload -U is-at-least

_simp() {
    typeset -A opt_args
    typeset -a _arguments_options
    local ret=1

    if is-at-least 5.2; then
        _arguments_options=(-s -S -C)
    else
        _arguments_options=(-s -C)
    fi

    local context curcontext="$curcontext" state line
    _arguments "${_arguments_options[@]}" : \
'--daemon-ip=[IP of the daemon; \`localhost\` is 127.0.0.1. Default\: \`daemon\` in the config file, else 127.0.0.1]:IP:_default' \
'--port=[The daemon'\''s client port]:PORT:_default' \
'--user=[Your name (1-32 printable ASCII characters). Default\: \`user\` in the config file, else asked]:USER:_default' \
'--config=[The config file\: the default daemon, your name, and contacts (name = "IP") for \`/call NAME\`. Default\: \$XDG_CONFIG_HOME/simp/config.toml (~/.config/simp/config.toml)]:FILE:_files' \
'--quiet[No notifications\: no bell, window title or desktop notification on a call or on a message while the window is unfocused or scrolled back]' \
'--daemon[When no daemon answers, start one in this process (on DAEMON_IP, ports 7777 and --port) that lives as long as simp, without asking. On a terminal simp asks first. Its store is simpd'\''s default state directory for that address, so what it received outlives simp and a later \`simpd DAEMON_IP\` finds it]' \
'--utf8[Send UTF-8 text, not only ASCII\: outside the course spec, so course peers may reject or mangle it (a warning says so on the first such message). Control characters other than TAB and newline stay refused. Without it, non-ASCII text is refused and not sent]' \
'(--demo)--lan[List the daemons announcing themselves on the LAN (\`simpd --announce\`), one line each (address, then the user attached), and exit. It asks over mDNS only on the interface that holds DAEMON_IP, never on the others. In a session, \`l\` and Enter in the menu (or /lan) lists them to call one]' \
'--plain[Line mode\: one line per event. The default when stdin or stdout is not a terminal]' \
'(--daemon-ip --port --user --config)--demo[Try it out\: start two daemons in-process on 127.0.0.1 and 127.0.0.2 with an echo bot on the second, and call it as user \`you\`]' \
'-h[Print help]' \
'--help[Print help]' \
'-V[Print version]' \
'--version[Print version]' \
'::daemon_ip -- IP of the daemon to use (start one with `simpd IP`), the same as --daemon-ip; `localhost` is 127.0.0.1. Default\: `daemon` in the config file, else 127.0.0.1:_default' \
":: :_simp_commands" \
"*::: :->simp" \
&& ret=0
    case $state in
    (simp)
        words=($line[2] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:simp-command-$line[2]:"
        case $line[2] in
            (status)
_arguments "${_arguments_options[@]}" : \
'--daemon-ip=[IP of the daemon; \`localhost\` is 127.0.0.1. Default\: \`daemon\` in the config file, else 127.0.0.1]:IP:_default' \
'--port=[The daemon'\''s client port]:PORT:_default' \
'-h[Print help]' \
'--help[Print help]' \
'::daemon_ip -- IP of the daemon, the same as --daemon-ip; `localhost` is 127.0.0.1. Default\: `daemon` in the config file, else 127.0.0.1:_default' \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
'-n+[At most this many messages, the most recent (1-1000)]:N:_default' \
'--limit=[At most this many messages, the most recent (1-1000)]:N:_default' \
'--daemon-ip=[IP of the daemon; \`localhost\` is 127.0.0.1. Default\: \`daemon\` in the config file, else 127.0.0.1]:IP:_default' \
'--port=[The daemon'\''s client port]:PORT:_default' \
'--json[One JSON object per message, as the daemon'\''s \`history\` event (docs/IPC.md), instead of text]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'::peer -- The peer\: an IP, IP\:port, localhost or a contact'\''s name. Default\: every peer:_default' \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
":: :_simp__subcmd__help_commands" \
"*::: :->help" \
&& ret=0

    case $state in
    (help)
        words=($line[1] "${words[@]}")
        (( CURRENT += 1 ))
        curcontext="${curcontext%:*:*}:simp-help-command-$line[1]:"
        case $line[1] in
            (status)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(history)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
(help)
_arguments "${_arguments_options[@]}" : \
&& ret=0
;;
        esac
    ;;
esac
;;
        esac
    ;;
esac
}

(( $+functions[_simp_commands] )) ||
_simp_commands() {
    local commands; commands=(
'status:Print the daemon'\''s state in one line and exit, without attaching to it\: works while another client is attached, and leaves stored messages where they are' \
'history:Print the messages stored by the daemon, with PEER or with everyone, oldest first, and exit\: one line each (date and time, from or to, the peer, who wrote it, the text escaped, the delivery mark), a multi-line message'\''s further lines indented under its first. The daemon is named with --daemon-ip (PEER is the other side of the chats)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'simp commands' commands "$@"
}
(( $+functions[_simp__subcmd__help_commands] )) ||
_simp__subcmd__help_commands() {
    local commands; commands=(
'status:Print the daemon'\''s state in one line and exit, without attaching to it\: works while another client is attached, and leaves stored messages where they are' \
'history:Print the messages stored by the daemon, with PEER or with everyone, oldest first, and exit\: one line each (date and time, from or to, the peer, who wrote it, the text escaped, the delivery mark), a multi-line message'\''s further lines indented under its first. The daemon is named with --daemon-ip (PEER is the other side of the chats)' \
'help:Print this message or the help of the given subcommand(s)' \
    )
    _describe -t commands 'simp help commands' commands "$@"
}
(( $+functions[_simp__subcmd__help__subcmd__help_commands] )) ||
_simp__subcmd__help__subcmd__help_commands() {
    local commands; commands=()
    _describe -t commands 'simp help help commands' commands "$@"
}
(( $+functions[_simp__subcmd__help__subcmd__history_commands] )) ||
_simp__subcmd__help__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'simp help history commands' commands "$@"
}
(( $+functions[_simp__subcmd__help__subcmd__status_commands] )) ||
_simp__subcmd__help__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'simp help status commands' commands "$@"
}
(( $+functions[_simp__subcmd__history_commands] )) ||
_simp__subcmd__history_commands() {
    local commands; commands=()
    _describe -t commands 'simp history commands' commands "$@"
}
(( $+functions[_simp__subcmd__status_commands] )) ||
_simp__subcmd__status_commands() {
    local commands; commands=()
    _describe -t commands 'simp status commands' commands "$@"
}

if [ "$funcstack[1]" = "_simp" ]; then
    _simp "$@"
else
    compdef _simp simp
fi
