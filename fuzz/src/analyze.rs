//! The import analyzer on arbitrary Python source.

use std::path::Path;

use animica_env::analyze::imports::{self, Scope};

/// Any text as a module: parsing and collecting imports (every scope, a
/// few target versions) never panic, and no import collected holds what
/// no dotted name of identifiers can (space, a path separator, a quote, `-`).
pub fn analyze_source(data: &[u8]) {
    let source = String::from_utf8_lossy(data);
    let Ok(module) = imports::parse(Path::new("fuzz.py"), &source) else { return };
    for scope in [Scope::All, Scope::TopLevel, Scope::Function("main".into())] {
        for target in [None, Some((3, 6)), Some((3, 14))] {
            for import in imports::collect(&module, &source, &scope, target) {
                let name = import.module.as_str();
                let odd = |c: char| c.is_whitespace() || c.is_control() || "/\\'\"-".contains(c);
                assert!(!name.contains(odd), "collected {name:?}");
            }
        }
    }
}
