complete -c simp -l port -d 'The daemon\'s client port' -r
complete -c simp -l user -d 'Your name (1-32 printable ASCII characters). Default: `user` in the config file, else asked' -r
complete -c simp -l config -d 'The config file: the default daemon, your name, and contacts (name = "IP") for `/call NAME`. Default: $XDG_CONFIG_HOME/simp/config.toml (~/.config/simp/config.toml)' -r -F
complete -c simp -l quiet -d 'No notifications: no bell, window title or desktop notification on a call or on a message while the window is unfocused or scrolled back'
complete -c simp -l plain -d 'Line mode: one line per event. The default when stdin or stdout is not a terminal'
complete -c simp -l demo -d 'Try it out: start two daemons in-process on 127.0.0.1 and 127.0.0.2 with an echo bot on the second, and call it as user `you`'
complete -c simp -l demo-any-port -d 'For tests: the demo\'s daemons take free ports even when 7777/7778 are free'
complete -c simp -s h -l help -d 'Print help (see more with \'--help\')'
complete -c simp -s V -l version -d 'Print version'
