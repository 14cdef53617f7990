complete -c simpd -l port -d 'Daemon-to-daemon UDP port; every datagram is sent from it' -r
complete -c simpd -l client-port -d 'Client port: TCP (JSON Lines) and UDP (the course\'s dialect)' -r
complete -c simpd -l timeout -d 'Retransmission timeout, e.g. 250ms, 5s, 1m; at least 10ms' -r
complete -c simpd -l retries -d 'Re-sends of one datagram before the peer counts as unreachable' -r
complete -c simpd -l call-timeout -d 'How long a call keeps ringing before "no answer"' -r
complete -c simpd -l ring-timeout -d 'How long an incoming request waits for accept/decline' -r
complete -c simpd -l rto -d 'Retransmission timeout policy (SPEC 2.6)' -r -f -a "fixed\t'Always --timeout'
adaptive\t'RFC 6298 estimate, 200 ms floor, --timeout ceiling'"
complete -c simpd -l seq-mode -d 'Sequence bits per direction, one shared bit, or auto: per direction until the peer shows it shares one bit (SPEC 2.6)' -r -f -a "auto\t'Per direction, switching to one shared bit when the peer proves it uses one'
per-direction\t'One alternating bit for each direction'
shared\t'One alternating bit for both directions (turn-taking peers)'"
complete -c simpd -l max-payload -d 'Largest payload sent in one datagram; longer messages are split' -r
complete -c simpd -l state-dir -d 'Directory of the message store [default: $XDG_STATE_HOME/simp/IP, or ~/.local/state/simp/IP; IP-PORT for a --port other than 7777]' -r -F
complete -c simpd -l auto-accept -d 'Accept every call without asking (bots, graders)'
complete -c simpd -l allow-remote-clients -d 'Serve clients from other hosts'
complete -c simpd -l no-history -d 'Keep only the messages the client has not confirmed and those not yet sent: no chat history'
complete -c simpd -l announce -d 'Announce this daemon on the LAN (mDNS/DNS-SD, `_simp._udp`), with the attached user\'s name, so that `simp --lan` lists it; only on the interface that holds IP, never on the others. Refused for 0.0.0.0 and ::; on a loopback IP only this host sees it'
complete -c simpd -s h -l help -d 'Print help (see more with \'--help\')'
complete -c simpd -s V -l version -d 'Print version'
