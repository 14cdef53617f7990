//! The datagram parser on arbitrary bytes: never panics, and whatever it accepts emits back
//! to the same datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use simp_proto::wire::Datagram;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = Datagram::parse(data) {
        let bytes = d.to_vec();
        assert_eq!(Datagram::parse(&bytes), Ok(d));
        let _ = simp_proto::wire::escape(d.payload());
        let _ = simp_proto::wire::escape_name(d.user());
    }
});
