//! Every import a Python module makes at run time, from its syntax tree.

use std::path::Path;

use ruff_python_ast::visitor::{self, Visitor};
use ruff_python_ast::{Expr, ModModule, Stmt};
use ruff_text_size::{Ranged, TextSize};

use crate::error::{Error, Result};

/// Which imports count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every import anywhere in the module.
    #[default]
    All,
    /// Imports that run when the module runs: not inside a `def` or
    /// `class` body (module-level `if`/`try`/`with` blocks included).
    TopLevel,
    /// Imports inside functions of this name (and what they nest).
    Function(String),
}

/// One import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The dotted module (`a.b` for `import a.b` and `from a.b import c`;
    /// empty for `from . import c`).
    pub module: String,
    /// Leading dots of a relative import (0 = absolute).
    pub level: u32,
    /// For `from m import x, y`: `x`, `y` (which may be submodules).
    pub names: Vec<String>,
    /// 1-based line of the statement or call.
    pub line: usize,
}

/// Parses `source` (named `path` in messages).
pub fn parse(path: &Path, source: &str) -> Result<ModModule> {
    ruff_python_parser::parse_module(source).map(|p| p.into_syntax()).map_err(|e| {
        let (line, column) = position(source, e.location.start());
        Error::Parse { path: path.to_owned(), line, column, message: e.error.to_string() }
    })
}

/// 1-based line and column of a byte offset.
fn position(source: &str, at: TextSize) -> (usize, usize) {
    let before = &source[..usize::from(at).min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The imports of `module` that `scope` selects, in source order.
pub fn collect(module: &ModModule, source: &str, scope: &Scope) -> Vec<Import> {
    let mut c = Collector { source, scope, found: Vec::new(), defs: 0, in_target: 0 };
    c.visit_body(&module.body);
    c.found
}

struct Collector<'s> {
    source: &'s str,
    scope: &'s Scope,
    found: Vec<Import>,
    /// Depth of `def`/`class` bodies we are in.
    defs: usize,
    /// Depth of functions named as in `Scope::Function` we are in.
    in_target: usize,
}

impl Collector<'_> {
    fn counts(&self) -> bool {
        match self.scope {
            Scope::All => true,
            Scope::TopLevel => self.defs == 0,
            Scope::Function(_) => self.in_target > 0,
        }
    }

    fn add(&mut self, module: &str, level: u32, names: Vec<String>, at: TextSize) {
        if self.counts() {
            let (line, _) = position(self.source, at);
            self.found.push(Import { module: module.to_owned(), level, names, line });
        }
    }

    /// `importlib.import_module("x")`, `import_module("x")`,
    /// `__import__("x")`, `importlib.__import__("x")` with a literal name.
    fn dynamic(&mut self, call: &ruff_python_ast::ExprCall) {
        let is_import_call = match &*call.func {
            Expr::Name(n) => matches!(n.id.as_str(), "__import__" | "import_module"),
            Expr::Attribute(a) => {
                matches!(a.attr.as_str(), "import_module" | "__import__")
                    && matches!(&*a.value, Expr::Name(v) if v.id.as_str() == "importlib")
            }
            _ => false,
        };
        if !is_import_call {
            return;
        }
        if let Some(Expr::StringLiteral(s)) = call.arguments.args.first() {
            let name = s.value.to_str();
            let dots = name.len() - name.trim_start_matches('.').len();
            let module = name.trim_start_matches('.');
            let valid = module.is_empty() || module.split('.').all(is_identifier);
            if valid && !(module.is_empty() && dots == 0) {
                self.add(module, dots as u32, Vec::new(), call.start());
            }
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic()) && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// `TYPE_CHECKING` or `<anything>.TYPE_CHECKING` (typing's constant).
fn is_type_checking(test: &Expr) -> bool {
    match test {
        Expr::Name(n) => n.id.as_str() == "TYPE_CHECKING",
        Expr::Attribute(a) => a.attr.as_str() == "TYPE_CHECKING",
        _ => false,
    }
}

impl<'a> Visitor<'a> for Collector<'_> {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::Import(i) => {
                for alias in &i.names {
                    self.add(alias.name.as_str(), 0, Vec::new(), i.start());
                }
            }
            Stmt::ImportFrom(i) => {
                let names = i.names.iter().map(|a| a.name.to_string()).collect();
                let module = i.module.as_ref().map_or("", |m| m.as_str());
                self.add(module, i.level, names, i.start());
            }
            Stmt::If(s) if is_type_checking(&s.test) => {
                // The body only runs under a type checker; the other
                // branches run for real.
                self.visit_expr(&s.test);
                for clause in &s.elif_else_clauses {
                    if let Some(t) = &clause.test {
                        self.visit_expr(t);
                    }
                    self.visit_body(&clause.body);
                }
            }
            Stmt::FunctionDef(f) => {
                let target = matches!(self.scope, Scope::Function(n) if n == f.name.as_str());
                self.defs += 1;
                self.in_target += usize::from(target);
                visitor::walk_stmt(self, stmt);
                self.in_target -= usize::from(target);
                self.defs -= 1;
            }
            Stmt::ClassDef(_) => {
                self.defs += 1;
                visitor::walk_stmt(self, stmt);
                self.defs -= 1;
            }
            _ => visitor::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Call(call) = expr {
            self.dynamic(call);
        }
        visitor::walk_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(src: &str, scope: Scope) -> Vec<(String, u32, Vec<String>)> {
        let m = parse(Path::new("t.py"), src).unwrap();
        collect(&m, src, &scope).into_iter().map(|i| (i.module, i.level, i.names)).collect()
    }

    fn modules(src: &str, scope: Scope) -> Vec<String> {
        imports(src, scope).into_iter().map(|(m, ..)| m).collect()
    }

    #[test]
    fn every_form() {
        let src = r#"
import a, b.c as d
from e.f import g, h
from . import local
from ..pkg.mod import thing
try:
    import i
except ImportError:
    import j
def f():
    import k
    class C:
        import l
    importlib.import_module("m.n")
    __import__("o")
    import_module(".rel")
    importlib.import_module(name)
lambda: __import__("p")
match x:
    case 1:
        import q
type Alias[T] = list[T]
print(f"{f'{1}'}")
"#;
        assert_eq!(
            imports(src, Scope::All),
            vec![
                ("a".into(), 0, vec![]),
                ("b.c".into(), 0, vec![]),
                ("e.f".into(), 0, vec!["g".into(), "h".into()]),
                ("".into(), 1, vec!["local".into()]),
                ("pkg.mod".into(), 2, vec!["thing".into()]),
                ("i".into(), 0, vec![]),
                ("j".into(), 0, vec![]),
                ("k".into(), 0, vec![]),
                ("l".into(), 0, vec![]),
                ("m.n".into(), 0, vec![]),
                ("o".into(), 0, vec![]),
                ("rel".into(), 1, vec![]),
                ("p".into(), 0, vec![]),
                ("q".into(), 0, vec![]),
            ]
        );
    }

    #[test]
    fn type_checking_blocks_are_not_runtime() {
        let src = "from typing import TYPE_CHECKING\nimport typing\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\nif typing.TYPE_CHECKING:\n    import c\nelif x:\n    import d\nif not TYPE_CHECKING:\n    import e\n";
        assert_eq!(modules(src, Scope::All), ["typing", "typing", "b", "d", "e"]);
    }

    #[test]
    fn scopes() {
        let src = "import a\nif x:\n    import b\ndef f():\n    import c\n    def g():\n        import d\ndef h():\n    import e\nclass K:\n    import z\n";
        assert_eq!(modules(src, Scope::TopLevel), ["a", "b"]);
        assert_eq!(modules(src, Scope::Function("f".into())), ["c", "d"]);
        assert_eq!(modules(src, Scope::Function("h".into())), ["e"]);
        assert!(modules(src, Scope::Function("nope".into())).is_empty());
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse(Path::new("bad.py"), "import os\n\ndef f(:\n    pass\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("bad.py:3:"), "{msg}");
    }
}
