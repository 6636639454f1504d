//! Feeds arbitrary bytes to the supervisor's install socket reader (the
//! mail daemon, which may be compromised, is the peer) and to the daemon's
//! answer reader. Properties checked: no panic; a header parses to the one
//! spelling it emits (`Head::emit` gives back the bytes it took); an
//! accepted request holds at most `MAX_PACKAGE_BYTES` and exactly the
//! length its header announced.
#![no_main]

use breakwater::supervisor::install::{
    Head, MAX_PACKAGE_BYTES, Parsed, read_answer, read_request,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Done { head, consumed }) = Head::parse(data) {
        assert_eq!(head.emit().as_bytes(), &data[..consumed], "{head:?}");
        if let Ok(request) = read_request(&mut &data[..]) {
            assert!(request.package.len() as u64 <= MAX_PACKAGE_BYTES);
            assert_eq!(request.package.len() as u64, head.body_len());
        }
    }
    let _ = read_answer(&mut &data[..]);
});
