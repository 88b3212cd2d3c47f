//! What `create` is asked to build: analyze's JSON (the seed format),
//! cctools poncho's spec (`conda`, `pip`, `git`, `http` sections, in its
//! current and older layouts), or a conda `environment.yml` (also as JSON).

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
    /// Data poncho's `git` and `http` sections put into the environment.
    pub data: Vec<Data>,
}

/// One entry of poncho's `git` or `http` section: fetched into
/// `<prefix>/<name>`, whose path activation exports as `$<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The directory (or file) name under the prefix, and the variable.
    pub name: String,
    /// Where it comes from.
    pub source: DataSource,
}

/// Where a [`Data`] entry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// `git clone REMOTE`, then `git checkout REF` when given.
    Git {
        /// The repository.
        remote: String,
        /// A branch, tag or commit.
        reference: Option<String>,
    },
    /// A download: a file, or with `type: tar` (and `compression: gzip`)
    /// a directory unpacked from it; `compression: gzip` alone gunzips.
    Http {
        /// The URL (http or https).
        url: String,
        /// poncho's `type` (`tar` or absent).
        kind: Option<String>,
        /// poncho's `compression` (`gzip` or absent).
        compression: Option<String>,
    },
}

/// Reads `text` (named `origin` in messages).
pub fn parse(text: &str, origin: &str) -> Result<Spec> {
    let bad = |reason: String| Error::Spec { origin: origin.to_owned(), reason };
    let spec = read(text).map_err(bad)?;
    check(&spec).map_err(bad)?;
    Ok(spec)
}

/// [`parse`] without the safety checks.
fn read(text: &str) -> std::result::Result<Spec, String> {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        if map.contains_key("python") && (map.contains_key("modules") || map.contains_key("requirements")) {
            return seed(&map);
        }
        if ["conda", "git", "http"].iter().any(|k| map.contains_key(*k)) && !map.contains_key("dependencies") {
            return poncho(&map);
        }
    }
    let env = EnvironmentYaml::from_yaml_str(text)
        .map_err(|e| format!("not analyze JSON, a poncho spec or environment.yml: {e}"))?;
    let mut spec = Spec {
        channels: env.channels.iter().map(|c| c.to_string()).collect(),
        conda: env.match_specs().map(|m| m.to_string()).collect(),
        ..Spec::default()
    };
    spec.pip = env.pip_specs().map(<[String]>::to_vec).unwrap_or_default();
    if spec.conda.is_empty() && spec.pip.is_empty() {
        return Err("no dependencies".into());
    }
    Ok(spec)
}

/// URL schemes a channel may use: what rattler fetches over the network,
/// and local directories.
const CHANNEL_SCHEMES: [&str; 3] = ["http", "https", "file"];
/// git transports a data entry may use (never `ext::`, which runs a
/// command, nor `fd::`).
const GIT_SCHEMES: [&str; 5] = ["https", "http", "ssh", "git", "file"];

/// Refuses what a spec from elsewhere could use to reach beyond the
/// environment it describes: command-line options where a requirement
/// belongs (pip would take `--index-url=...` or `--target=...` as one),
/// control characters, channels and git remotes on unexpected schemes or
/// transports, and git references that read as options.
fn check(spec: &Spec) -> std::result::Result<(), String> {
    for r in spec.pip.iter().chain(&spec.either) {
        // PEP 508: a name of letters, digits, `-`, `_`, `.`, then extras,
        // a version, a marker or `@ URL`; never a path or an option.
        let after_name = r.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let named = r.starts_with(|c: char| c.is_ascii_alphanumeric())
            && after_name.chars().next().is_none_or(|c| c.is_whitespace() || "[(<>=!~;@,".contains(c));
        if !named || r.chars().any(char::is_control) {
            return Err(format!(
                "pip requirement {r:?} is not a distribution name with an optional version: options (such as \
                 --index-url) and paths cannot be passed to pip through a spec"
            ));
        }
    }
    for c in &spec.conda {
        if c.chars().any(char::is_control) || c.starts_with('-') {
            return Err(format!("conda requirement {c:?} is not a match spec"));
        }
        if let Some((channel, _)) = c.split_once("::") {
            check_channel(channel)?;
        }
    }
    for c in &spec.channels {
        check_channel(c)?;
    }
    for d in &spec.data {
        if let DataSource::Git { remote, reference } = &d.source {
            let scheme = remote.split_once("://").map(|(s, _)| s);
            if remote.starts_with('-')
                || remote.contains("::")
                || remote.chars().any(char::is_control)
                || scheme.is_some_and(|s| !GIT_SCHEMES.contains(&s))
            {
                return Err(format!(
                    "git.{}: remote {remote:?} is not a repository address ({} or a path)",
                    d.name,
                    GIT_SCHEMES.join(", ")
                ));
            }
            if let Some(r) = reference.as_deref().filter(|r| r.starts_with('-') || r.chars().any(char::is_control)) {
                return Err(format!("git.{}: ref {r:?} is not a branch, tag or commit", d.name));
            }
        }
    }
    Ok(())
}

/// A channel is a name, a path or a URL on one of [`CHANNEL_SCHEMES`].
fn check_channel(c: &str) -> std::result::Result<(), String> {
    if c.chars().any(char::is_control) || c.starts_with('-') {
        return Err(format!("channel {c:?} is not a channel name, path or URL"));
    }
    match c.split_once("://") {
        Some((scheme, _)) if !CHANNEL_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => {
            Err(format!("channel {c:?}: the scheme {scheme:?} is not one of {}", CHANNEL_SCHEMES.join(", ")))
        }
        _ => Ok(()),
    }
}

/// poncho's spec. Current layout: `{"conda": {"channels": [...],
/// "dependencies": [..., {"pip": [...]}]}, "git": {...}, "http": {...}}`;
/// older ones: `"conda": {"channels", "packages"}` with a top-level `"pip"`
/// list, and cctools 9.9's analyze output, `"conda": ["channel::name=ver"]`.
fn poncho(map: &serde_json::Map<String, serde_json::Value>) -> std::result::Result<Spec, String> {
    let strings = |v: &serde_json::Value, what: &str| -> std::result::Result<Vec<String>, String> {
        v.as_array()
            .ok_or(format!("{what} must be a list"))?
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or(format!("{what} must hold strings")))
            .collect()
    };
    let mut spec = Spec::default();
    match map.get("conda") {
        None => {}
        Some(list @ serde_json::Value::Array(_)) => spec.conda = strings(list, "\"conda\"")?,
        Some(serde_json::Value::Object(conda)) => {
            if let Some(c) = conda.get("channels") {
                spec.channels = strings(c, "conda.channels")?;
            }
            if let Some(p) = conda.get("packages") {
                spec.conda = strings(p, "conda.packages")?;
            }
            for dep in conda.get("dependencies").and_then(|d| d.as_array()).into_iter().flatten() {
                match dep {
                    serde_json::Value::String(s) => spec.conda.push(s.clone()),
                    serde_json::Value::Object(o) if o.len() == 1 && o.contains_key("pip") => {
                        spec.pip.extend(strings(&o["pip"], "conda.dependencies' pip")?)
                    }
                    other => return Err(format!("conda.dependencies: unexpected {other}")),
                }
            }
        }
        Some(_) => return Err("\"conda\" must be an object or a list".into()),
    }
    if let Some(p) = map.get("pip") {
        spec.pip.extend(strings(p, "\"pip\"")?);
    }
    for (section, is_git) in [("git", true), ("http", false)] {
        let Some(entries) = map.get(section) else { continue };
        let entries = entries.as_object().ok_or(format!("\"{section}\" must map names to sources"))?;
        for (name, fields) in entries {
            let field = |k: &str| fields.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            let source = if is_git {
                DataSource::Git {
                    remote: field("remote").ok_or(format!("git.{name}: no \"remote\""))?,
                    reference: field("ref"),
                }
            } else {
                DataSource::Http {
                    url: field("url").ok_or(format!("http.{name}: no \"url\""))?,
                    kind: field("type"),
                    compression: field("compression"),
                }
            };
            spec.data.push(Data { name: data_name(section, name)?, source });
        }
    }
    if spec.conda.is_empty() && spec.pip.is_empty() {
        return Err("no dependencies (poncho's \"conda\" and \"pip\" sections are empty)".into());
    }
    Ok(spec)
}

/// A data entry's name becomes a directory under the prefix and a shell
/// variable: a plain identifier, nothing else.
fn data_name(section: &str, name: &str) -> std::result::Result<String, String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(format!(
            "{section}: {name:?} is not a valid name (letters, digits and _, not starting with a digit): it becomes a directory and a shell variable"
        ))
    }
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
        // poncho's spec, current layout, with data.
        let p = r#"{"conda": {"channels": ["conda-forge"], "dependencies": ["python=3.11", {"pip": ["six"]}]},
                    "git": {"REPO": {"remote": "https://example.org/r.git", "ref": "v1"}},
                    "http": {"DATA": {"url": "https://example.org/d.tar.gz", "type": "tar", "compression": "gzip"}}}"#;
        let s = parse(p, "x").unwrap();
        assert_eq!(
            (s.channels.as_slice(), s.conda.as_slice(), s.pip.as_slice()),
            (&["conda-forge".to_owned()][..], &["python=3.11".to_owned()][..], &["six".to_owned()][..])
        );
        assert_eq!(
            s.data[0],
            Data {
                name: "REPO".into(),
                source: DataSource::Git { remote: "https://example.org/r.git".into(), reference: Some("v1".into()) }
            }
        );
        assert!(matches!(&s.data[1].source, DataSource::Http { kind: Some(k), .. } if k == "tar"));
        // Older layouts.
        let s = parse(r#"{"conda": {"channels": ["c"], "packages": ["numpy"]}, "pip": ["six"]}"#, "x").unwrap();
        assert_eq!((s.conda, s.pip), (vec!["numpy".to_owned()], vec!["six".to_owned()]));
        let s =
            parse(r#"{"conda": ["conda-forge::python=3.11.2", "conda-forge::pip=23"], "pip": ["dill==0.3.6"]}"#, "x")
                .unwrap();
        assert_eq!(s.conda.len(), 2);
        // Names that would escape the prefix or break the shell.
        for bad in ["../x", "a b", "x;rm", "1x", ""] {
            let p = format!(r#"{{"conda": ["python"], "git": {{"{bad}": {{"remote": "r"}}}}}}"#);
            assert!(parse(&p, "x").unwrap_err().to_string().contains("not a valid name"), "{bad}");
        }
        assert!(parse("[1, 2", "x").is_err());
    }
}
