//! Environment specs (analyze's JSON, poncho's spec, environment.yml).

use animica_env::create::spec;

/// Any text as a spec: parsing never panics, and what it accepts carries
/// no option, path or control character into pip's argv.
pub fn env_spec(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(s) = spec::parse(&text, "fuzz") else { return };
    for r in s.pip.iter().chain(&s.either) {
        assert!(r.starts_with(|c: char| c.is_ascii_alphanumeric()), "accepted pip requirement {r:?}");
        assert!(!r.chars().any(char::is_control), "accepted pip requirement {r:?}");
    }
    for c in &s.channels {
        assert!(!c.starts_with('-'), "accepted channel {c:?}");
    }
}
