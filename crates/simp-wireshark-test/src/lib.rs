//! No code: this crate only holds `tests/dissector.rs`, which runs the Wireshark dissector
//! `contrib/wireshark/simp.lua` under `tshark` on every shared test vector. It needs
//! `tshark` and `text2pcap` on PATH (`apt-get install tshark`).
