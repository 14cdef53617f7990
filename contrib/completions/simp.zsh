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
'--port=[The daemon'\''s client port]:PORT:_default' \
'--user=[Your name (1-32 printable ASCII characters). Default\: \`user\` in the config file, else asked]:USER:_default' \
'--config=[The config file\: the default daemon, your name, and contacts (name = "IP") for \`/call NAME\`. Default\: \$XDG_CONFIG_HOME/simp/config.toml (~/.config/simp/config.toml)]:FILE:_files' \
'--quiet[No notifications\: no bell, window title or desktop notification on a call or on a message while the window is unfocused or scrolled back]' \
'--plain[Line mode\: one line per event. The default when stdin or stdout is not a terminal]' \
'(--port --user --config)--demo[Try it out\: start two daemons in-process on 127.0.0.1 and 127.0.0.2 with an echo bot on the second, and call it as user \`you\`]' \
'--demo-any-port[For tests\: the demo'\''s daemons take free ports even when 7777/7778 are free]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::daemon_ip -- IP of the daemon to use (start one with `simpd IP`); `localhost` is 127.0.0.1. Default\: `daemon` in the config file, else 127.0.0.1:_default' \
&& ret=0
}

(( $+functions[_simp_commands] )) ||
_simp_commands() {
    local commands; commands=()
    _describe -t commands 'simp commands' commands "$@"
}

if [ "$funcstack[1]" = "_simp" ]; then
    _simp "$@"
else
    compdef _simp simp
fi
