#compdef simpd

autoload -U is-at-least

_simpd() {
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
'--port=[Daemon-to-daemon UDP port; every datagram is sent from it]:PORT:_default' \
'--client-port=[Client port\: TCP (JSON Lines) and UDP (the course'\''s dialect)]:CLIENT_PORT:_default' \
'--timeout=[Retransmission timeout, e.g. 250ms, 5s, 1m; at least 10ms]:TIMEOUT:_default' \
'--retries=[Re-sends of one datagram before the peer counts as unreachable]:RETRIES:_default' \
'--call-timeout=[How long a call keeps ringing before "no answer"]:CALL_TIMEOUT:_default' \
'--ring-timeout=[How long an incoming request waits for accept/decline]:RING_TIMEOUT:_default' \
'--rto=[Retransmission timeout policy (SPEC 2.6)]:RTO:((fixed\:"Always --timeout"
adaptive\:"RFC 6298 estimate, 200 ms floor, --timeout ceiling"))' \
'--seq-mode=[Sequence bits per direction, one shared bit, or auto\: per direction until the peer shows it shares one bit (SPEC 2.6)]:SEQ_MODE:((auto\:"Per direction, switching to one shared bit when the peer proves it uses one"
per-direction\:"One alternating bit for each direction"
shared\:"One alternating bit for both directions (turn-taking peers)"))' \
'--max-payload=[Largest payload sent in one datagram; longer messages are split]:MAX_PAYLOAD:_default' \
'--state-dir=[Directory of the message store \[default\: \$XDG_STATE_HOME/simp/IP, or ~/.local/state/simp/IP; IP-PORT for a --port other than 7777\]]:DIR:_files' \
'--auto-accept[Accept every call without asking (bots, graders)]' \
'--allow-remote-clients[Serve clients from other hosts]' \
'--no-history[Keep only the messages the client has not confirmed and those not yet sent\: no chat history]' \
'--announce[Announce this daemon on the LAN (mDNS/DNS-SD, \`_simp._udp\`), with the attached user'\''s name, so that \`simp --lan\` lists it; only on the interface that holds IP, never on the others. Refused for 0.0.0.0 and \:\:; on a loopback IP only this host sees it]' \
'-h[Print help (see more with '\''--help'\'')]' \
'--help[Print help (see more with '\''--help'\'')]' \
'-V[Print version]' \
'--version[Print version]' \
'::ip -- IP address to bind, for peers and clients:_default' \
&& ret=0
}

(( $+functions[_simpd_commands] )) ||
_simpd_commands() {
    local commands; commands=()
    _describe -t commands 'simpd commands' commands "$@"
}

if [ "$funcstack[1]" = "_simpd" ]; then
    _simpd "$@"
else
    compdef _simpd simpd
fi
