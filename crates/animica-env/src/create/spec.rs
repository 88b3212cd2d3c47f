//! What `create` is asked to build: analyze's JSON (the seed format),
//! cctools poncho's spec, or a conda `environment.yml`.

use rattler_conda_types::EnvironmentYaml;

use crate::analyze::dists::DistMap;
use crate::error::{Error, Result};

/// An environment request, whatever its source format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Channels named by the spec (poncho / environment.yml).
    pub channels: Vec<String>,
    /// Conda match specs, `python` included when known.
    pub conda: Vec<String>,
    /// Requirements that may come from conda or pip (analyze's list):
    /// `create` takes each from conda when a channel has it, else pip.
    pub either: Vec<String>,
    /// Requirements for pip only (a `pip:` section).
    pub pip: Vec<String>,
}

/// Reads `text` (named `origin` in messages).
pub fn parse(text: &str, origin: &str) -> Result<Spec> {
    let bad = |reason: String| Error::Spec { origin: origin.to_owned(), reason };
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text)
        && map.contains_key("python")
        && (map.contains_key("modules") || map.contains_key("requirements"))
    {
        return seed(&map).map_err(bad);
    }
    let env = EnvironmentYaml::from_yaml_str(text)
        .map_err(|e| bad(format!("not analyze JSON, a poncho spec or environment.yml: {e}")))?;
    let mut spec = Spec {
        channels: env.channels.iter().map(|c| c.to_string()).collect(),
        conda: env.match_specs().map(|m| m.to_string()).collect(),
        ..Spec::default()
    };
    spec.pip = env.pip_specs().map(<[String]>::to_vec).unwrap_or_default();
    if spec.conda.is_empty() && spec.pip.is_empty() {
        return Err(bad("no dependencies".into()));
    }
    Ok(spec)
}

/// analyze's JSON: `python`, and `requirements` (or, from the original
/// tool, only `modules`, mapped to distributions here).
fn seed(map: &serde_json::Map<String, serde_json::Value>) -> std::result::Result<Spec, String> {
    let python = map["python"].as_str().ok_or("\"python\" must be a version string")?;
    let list = |key: &str| -> std::result::Result<Vec<String>, String> {
        match map.get(key) {
            None => Ok(Vec::new()),
            Some(v) => v
                .as_array()
                .ok_or(format!("\"{key}\" must be a list"))?
                .iter()
                .map(|x| x.as_str().map(str::to_owned).ok_or(format!("\"{key}\" must hold strings")))
                .collect(),
        }
    };
    let either = if map.contains_key("requirements") {
        list("requirements")?
    } else {
        let dists = DistMap::embedded();
        list("modules")?.iter().map(|m| dists.lookup(m).name).collect()
    };
    Ok(Spec { conda: vec![format!("python {}.*", python.trim_end_matches(".*"))], either, ..Spec::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_formats() {
        let s = parse(r#"{"python": "3.7.3", "modules": ["antigravity", "yaml"]}"#, "x").unwrap();
        assert_eq!(s.conda, ["python 3.7.3.*"]);
        assert_eq!(s.either, ["antigravity", "PyYAML"]);
        let s = parse(r#"{"local": [], "modules": ["yaml"], "optional": [], "python": "3.11", "requirements": ["PyYAML==6.0.1"]}"#, "x").unwrap();
        assert_eq!((s.conda, s.either), (vec!["python 3.11.*".to_string()], vec!["PyYAML==6.0.1".to_string()]));
        let poncho = r#"{"channels": ["conda-forge"], "dependencies": ["python=3.11.7", "numpy=1.26.4", "pip", {"pip": ["six==1.16.0"]}]}"#;
        let s = parse(poncho, "x").unwrap();
        assert_eq!(s.channels, ["conda-forge"]);
        assert_eq!(s.conda.len(), 3);
        assert_eq!(s.pip, ["six==1.16.0"]);
        let yml =
            "name: demo\nchannels:\n  - ./channel\ndependencies:\n  - python=3.11\n  - tabulate\n  - pip:\n    - six\n";
        let s = parse(yml, "x").unwrap();
        assert_eq!(s.channels, ["./channel"]);
        assert_eq!(s.pip, ["six"]);
        assert!(parse("{}", "x").is_err());
        assert!(parse("[1, 2", "x").is_err());
    }
}
