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
    /// Inside `try:` whose `except ImportError` (or broader) handler carries
    /// on without it (no `raise`, no exit): the program runs either way.
    pub optional: bool,
}

/// Parses `source` (named `path` in messages).
pub fn parse(path: &Path, source: &str) -> Result<ModModule> {
    ruff_python_parser::parse_module(source).map(|p| p.into_syntax()).map_err(|e| {
        let (line, column) = position(source, e.location.start());
        Error::Parse { path: path.to_owned(), line, column, message: e.error.to_string() }
    })
}

/// 1-based line and column of a byte offset (for the one error message).
fn position(source: &str, at: TextSize) -> (usize, usize) {
    let before = &source[..usize::from(at).min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The imports of `module` that `scope` selects, in source order. With a
/// target `(3, minor)`, branches on `sys.version_info` that cannot run on
/// it are skipped.
pub fn collect(module: &ModModule, source: &str, scope: &Scope, target: Option<(u8, u8)>) -> Vec<Import> {
    let line_starts = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let mut c = Collector { line_starts, scope, target, found: Vec::new(), defs: 0, in_target: 0, optional: 0 };
    c.visit_body(&module.body);
    c.found
}

struct Collector<'s> {
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
    scope: &'s Scope,
    target: Option<(u8, u8)>,
    found: Vec<Import>,
    /// Depth of `def`/`class` bodies we are in.
    defs: usize,
    /// Depth of functions named as in `Scope::Function` we are in.
    in_target: usize,
    /// Depth of `try:` bodies whose import failure is tolerated.
    optional: usize,
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
            let line = self.line_starts.partition_point(|&s| s <= usize::from(at));
            let optional = self.optional > 0;
            self.found.push(Import { module: module.to_owned(), level, names, line, optional });
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

/// A `try` with a handler that catches `ImportError` (by that name,
/// `ModuleNotFoundError`, `Exception`, `BaseException` or bare) and does not
/// give up in it (raise, or call `exit`/`sys.exit`/`quit`).
fn tolerates_import_error(t: &ruff_python_ast::StmtTry) -> bool {
    t.handlers.iter().any(|h| {
        let ruff_python_ast::ExceptHandler::ExceptHandler(h) = h;
        let catches = match h.type_.as_deref() {
            None => true,
            Some(Expr::Tuple(tuple)) => tuple.elts.iter().any(catches_import_error),
            Some(e) => catches_import_error(e),
        };
        catches && !h.body.iter().any(gives_up)
    })
}

fn catches_import_error(e: &Expr) -> bool {
    let name = match e {
        Expr::Name(n) => n.id.as_str(),
        Expr::Attribute(a) => a.attr.as_str(),
        _ => return false,
    };
    matches!(name, "ImportError" | "ModuleNotFoundError" | "Exception" | "BaseException")
}

/// A statement that always ends the program or re-raises (a `raise` under
/// an `if` is a choice, not giving up).
fn gives_up(stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Raise(_) => true,
        Stmt::Expr(e) => match &*e.value {
            Expr::Call(c) => match &*c.func {
                Expr::Name(n) => matches!(n.id.as_str(), "exit" | "quit"),
                Expr::Attribute(a) => a.attr.as_str() == "exit",
                _ => false,
            },
            _ => false,
        },
        _ => false,
    }
}

/// The value of a `sys.version_info <op> (3, N[, M])` test (also with
/// `version_info` imported bare, and with the tuple on the left) for
/// Python `target`; `None` when `test` is not such a comparison.
fn version_test(test: &Expr, target: (u8, u8)) -> Option<bool> {
    use ruff_python_ast::CmpOp;
    let Expr::Compare(c) = test else { return None };
    let ([op], [right]) = (&*c.ops, &*c.comparators) else { return None };
    let is_version_info = |e: &Expr| match e {
        Expr::Attribute(a) => {
            a.attr.as_str() == "version_info" && matches!(&*a.value, Expr::Name(n) if n.id.as_str() == "sys")
        }
        Expr::Name(n) => n.id.as_str() == "version_info",
        _ => false,
    };
    let tuple = |e: &Expr| -> Option<Vec<u32>> {
        let Expr::Tuple(t) = e else { return None };
        t.elts
            .iter()
            .map(|x| match x {
                Expr::NumberLiteral(n) => match &n.value {
                    ruff_python_ast::Number::Int(i) => i.as_u8().map(u32::from),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    };
    let (want, op) = if is_version_info(&c.left) {
        (tuple(right)?, *op)
    } else if is_version_info(right) {
        // (3, 10) <= sys.version_info  is  sys.version_info >= (3, 10)
        let flipped = match op {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtE => CmpOp::GtE,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtE => CmpOp::LtE,
            other => *other,
        };
        (tuple(&c.left)?, flipped)
    } else {
        return None;
    };
    // Compare (major, minor) with the tuple's first two parts; a micro
    // part is unknown for a X.Y target, so such tests are left alone.
    if want.len() > 2 || want.is_empty() {
        return None;
    }
    let have = [u32::from(target.0), u32::from(target.1)];
    let ord = have[..want.len()].cmp(&want[..]);
    Some(match op {
        CmpOp::Lt => ord.is_lt(),
        CmpOp::LtE => ord.is_le(),
        CmpOp::Gt => ord.is_gt(),
        CmpOp::GtE => ord.is_ge(),
        CmpOp::Eq => ord.is_eq(),
        CmpOp::NotEq => ord.is_ne(),
        _ => return None,
    })
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
            Stmt::If(s) if self.target.and_then(|t| version_test(&s.test, t)).is_some() => {
                // `if sys.version_info >= (3, 10):` and friends: only the
                // branch the target version takes.
                let target = self.target.unwrap_or((3, 0));
                let mut branches = std::iter::once((Some(&*s.test), &s.body))
                    .chain(s.elif_else_clauses.iter().map(|c| (c.test.as_ref(), &c.body)));
                let live = branches.find(|(test, _)| match test {
                    None => true,
                    Some(t) => version_test(t, target).unwrap_or(true),
                });
                if let Some((_, body)) = live {
                    self.visit_body(body);
                }
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
            Stmt::Try(t) if tolerates_import_error(t) => {
                // Imports in the body may fail; imports in the handlers are
                // the fallbacks (py2/py3 compatibility and the like).
                self.optional += 1;
                self.visit_body(&t.body);
                for h in &t.handlers {
                    self.visit_except_handler(h);
                }
                // `else:` runs only when the guarded import worked.
                self.visit_body(&t.orelse);
                self.optional -= 1;
                self.visit_body(&t.finalbody);
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
        collect(&m, src, &scope, None).into_iter().map(|i| (i.module, i.level, i.names)).collect()
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
    fn tolerated_import_failures_are_optional() {
        let src = "try:\n    import simplejson as json\nexcept ImportError:\n    import json\ntry:\n    import yaml\nexcept ImportError:\n    sys.exit('pip install pyyaml')\ntry:\n    import numpy\nexcept (ValueError, ModuleNotFoundError):\n    numpy = None\ntry:\n    import zlib2\nexcept OSError:\n    pass\n";
        let m = parse(Path::new("t.py"), src).unwrap();
        let got: Vec<(String, bool)> =
            collect(&m, src, &Scope::All, None).into_iter().map(|i| (i.module, i.optional)).collect();
        let want = [("simplejson", true), ("json", true), ("yaml", false), ("numpy", true), ("zlib2", false)];
        assert_eq!(got, want.map(|(m, o)| (m.to_string(), o)));
    }

    #[test]
    fn version_branches_follow_the_target() {
        let src = "import sys\nif sys.version_info >= (3, 11):\n    import tomllib\nelse:\n    import tomli\nif sys.version_info < (3, 8):\n    import importlib_metadata\nelif (3, 12) <= sys.version_info:\n    import new_thing\nif sys.version_info >= (3, 8, 1):\n    import micro\n";
        let m = parse(Path::new("t.py"), src).unwrap();
        let names = |t| collect(&m, src, &Scope::All, t).into_iter().map(|i| i.module).collect::<Vec<_>>();
        assert_eq!(names(Some((3, 11))), ["sys", "tomllib", "micro"]);
        assert_eq!(names(Some((3, 7))), ["sys", "tomli", "importlib_metadata", "micro"]);
        assert_eq!(names(Some((3, 12))), ["sys", "tomllib", "new_thing", "micro"]);
        assert_eq!(names(None), ["sys", "tomllib", "tomli", "importlib_metadata", "new_thing", "micro"]);
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
