//! Parses arbitrary UTF-8 as a message filter script. Properties checked:
//! the parser never panics, and whatever it accepts prints to a script that
//! parses back to the same filters.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filters) = breakwater::filters::parse(src) {
        let printed = breakwater::filters::print_script(&filters);
        let again = breakwater::filters::parse(&printed).expect("printed script parses");
        assert_eq!(again, filters, "print/parse round trip");
    }
});
