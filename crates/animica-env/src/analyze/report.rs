//! What `analyze` found, and its two written forms.

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// The result of an analysis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Target interpreter version (`3.11.7`).
    pub python: String,
    /// Top-level names of the non-stdlib, non-local modules imported.
    pub modules: BTreeSet<String>,
    /// What to `pip install`: `Name==version` when installed, else `Name`.
    pub requirements: BTreeSet<String>,
    /// Dotted names of the local modules followed.
    pub local: BTreeSet<String>,
    /// Top-level names imported only where a failed import is tolerated
    /// (`try: import x` / `except ImportError:` carrying on): not required.
    pub optional: BTreeSet<String>,
    /// Things worth telling the user (not part of the JSON).
    pub warnings: Vec<String>,
    /// Poncho form: conda packages (`name=version`).
    pub conda: BTreeSet<String>,
    /// Poncho form: pip packages.
    pub pip: BTreeSet<String>,
    /// Poncho form: channels.
    pub channels: Vec<String>,
}

impl Report {
    /// The seed's format, extended: one line, keys and lists sorted,
    /// Python's `json.dumps` separators, trailing newline. Same input,
    /// same bytes.
    pub fn to_seed_json(&self) -> String {
        let list = |s: &BTreeSet<String>| format!("[{}]", s.iter().map(|x| quote(x)).collect::<Vec<_>>().join(", "));
        format!(
            "{{\"local\": {}, \"modules\": {}, \"optional\": {}, \"python\": {}, \"requirements\": {}}}\n",
            list(&self.local),
            list(&self.modules),
            list(&self.optional),
            quote(&self.python),
            list(&self.requirements)
        )
    }

    /// cctools poncho's spec: conda `channels` and `dependencies`, with
    /// the pip packages in a nested `{"pip": [...]}`; indented by four like
    /// poncho's own `json.dump(..., indent=4, sort_keys=True)`.
    pub fn to_poncho_json(&self) -> String {
        let mut deps: Vec<Value> = vec![json!(format!("python={}", self.python))];
        let mut conda: Vec<&String> = self.conda.iter().collect();
        let pip_needed = !self.pip.is_empty() && !self.conda.iter().any(|c| c == "pip" || c.starts_with("pip="));
        let pip = String::from("pip");
        if pip_needed {
            conda.push(&pip);
            conda.sort();
        }
        deps.extend(conda.into_iter().map(|c| json!(c)));
        if !self.pip.is_empty() {
            deps.push(json!({ "pip": self.pip.iter().collect::<Vec<_>>() }));
        }
        let doc = json!({ "channels": self.channels, "dependencies": deps });
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        serde::Serialize::serialize(&doc, &mut ser).expect("a JSON value always serialises");
        let mut s = String::from_utf8(out).expect("serde_json writes UTF-8");
        s.push('\n');
        s
    }
}

/// A JSON string literal, escaped as Python's json.dumps does for ASCII.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn seed_form_is_one_sorted_line() {
        let r = Report {
            python: "3.11.7".into(),
            modules: set(&["yaml", "matplotlib"]),
            requirements: set(&["PyYAML==6.0.1", "matplotlib==3.8.2"]),
            local: set(&["helpers"]),
            ..Default::default()
        };
        assert_eq!(
            r.to_seed_json(),
            "{\"local\": [\"helpers\"], \"modules\": [\"matplotlib\", \"yaml\"], \"optional\": [], \"python\": \"3.11.7\", \"requirements\": [\"PyYAML==6.0.1\", \"matplotlib==3.8.2\"]}\n"
        );
    }

    #[test]
    fn poncho_form() {
        let r = Report {
            python: "3.11.7".into(),
            conda: set(&["numpy=1.26.4"]),
            pip: set(&["PyYAML==6.0.1"]),
            channels: vec!["conda-forge".into()],
            ..Default::default()
        };
        let want = "{\n    \"channels\": [\n        \"conda-forge\"\n    ],\n    \"dependencies\": [\n        \"python=3.11.7\",\n        \"numpy=1.26.4\",\n        \"pip\",\n        {\n            \"pip\": [\n                \"PyYAML==6.0.1\"\n            ]\n        }\n    ]\n}\n";
        assert_eq!(r.to_poncho_json(), want);
    }
}
