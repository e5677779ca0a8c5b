//! Every module a source file names: its `use` trees (groups, renames and
//! globs included), the paths in its code, the paths inside macro calls
//! and the `crate::…` paths attributes carry in strings (serde's `with`).
//! Each is resolved to an absolute module path from the crate root, so
//! `use super::super::publish` and `use crate::{error::{Error as E},
//! publish as P}` name `publish` like `use crate::publish` does.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// A module path a file names, resolved from the crate root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The line it is written on.
    pub line: usize,
    /// The path from the crate root, e.g. `["publish", "github"]`.
    pub target: Vec<String>,
    /// Written in test code (`#[cfg(test)]`), which the import graph
    /// leaves out.
    pub in_test: bool,
}

/// A file's `mod` declarations without a body (`mod tests;`), and whether
/// each is test code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub in_test: bool,
}

/// What one file names and declares.
#[derive(Debug, Default)]
pub struct Found {
    pub references: Vec<Reference>,
    pub declared: Vec<Declared>,
}

/// Parses `source`, the file of module `module` (`[]` for the crate root),
/// which is test code as a whole when `in_test`.
pub fn find(module: &[String], source: &str, in_test: bool) -> syn::Result<Found> {
    let file = syn::parse_file(source)?;
    let mut finder = Finder {
        modules: vec![module.to_vec()],
        tests: vec![in_test],
        found: Found::default(),
    };
    finder.visit_file(&file);
    Ok(finder.found)
}

struct Finder {
    /// The module each nested inline `mod` is, innermost last.
    modules: Vec<Vec<String>>,
    /// Whether each of them is test code.
    tests: Vec<bool>,
    found: Found,
}

impl Finder {
    fn module(&self) -> &[String] {
        self.modules.last().expect("the file's own module")
    }

    fn in_test(&self) -> bool {
        *self.tests.last().expect("the file's own flag")
    }

    /// Records `segments` (as written) when they resolve to a module path.
    fn note(&mut self, line: usize, segments: &[String]) {
        if let Some(target) = resolve(self.module(), segments) {
            let in_test = self.in_test();
            self.found.references.push(Reference {
                line,
                target,
                in_test,
            });
        }
    }

    /// Every path a use tree names, with the prefix written before it.
    fn use_tree(&mut self, tree: &syn::UseTree, prefix: &mut Vec<String>) {
        let line = tree.span().start().line;
        match tree {
            syn::UseTree::Path(path) => {
                prefix.push(path.ident.to_string());
                self.use_tree(&path.tree, prefix);
                prefix.pop();
            }
            syn::UseTree::Name(name) => {
                prefix.push(name.ident.to_string());
                self.note(line, prefix);
                prefix.pop();
            }
            syn::UseTree::Rename(rename) => {
                prefix.push(rename.ident.to_string());
                self.note(line, prefix);
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.note(line, prefix),
            syn::UseTree::Group(group) => {
                for item in &group.items {
                    self.use_tree(item, prefix);
                }
            }
        }
    }

    /// `crate::a::b` and `super::…` sequences in a token stream (a macro's
    /// arguments are not parsed as code).
    fn tokens(&mut self, tokens: TokenStream) {
        let trees: Vec<TokenTree> = tokens.into_iter().collect();
        let mut i = 0;
        while i < trees.len() {
            match &trees[i] {
                TokenTree::Group(group) => self.tokens(group.stream()),
                TokenTree::Literal(literal) => self.string_path(literal),
                TokenTree::Ident(ident) if is_anchor(&ident.to_string()) => {
                    let (segments, next) = path_at(&trees, i);
                    if segments.len() > 1 {
                        self.note(ident.span().start().line, &segments);
                    }
                    i = next;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// A string literal holding a path, as serde's `with = "crate::…"`.
    fn string_path(&mut self, literal: &proc_macro2::Literal) {
        let text = literal.to_string();
        let inner = text.trim_matches('"');
        if !text.starts_with('"') || !inner.split("::").next().is_some_and(is_anchor) {
            return;
        }
        let segments: Vec<String> = inner.split("::").map(str::to_string).collect();
        if segments.iter().all(|s| is_ident(s)) {
            self.note(literal.span().start().line, &segments);
        }
    }
}

impl<'ast> Visit<'ast> for Finder {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let in_test = self.in_test() || is_test(&item.attrs);
        for attr in &item.attrs {
            self.visit_attribute(attr);
        }
        let Some((_, items)) = &item.content else {
            self.found.declared.push(Declared {
                name: item.ident.to_string(),
                in_test,
            });
            return;
        };
        let mut module = self.module().to_vec();
        module.push(item.ident.to_string());
        self.modules.push(module);
        self.tests.push(in_test);
        for item in items {
            self.visit_item(item);
        }
        self.modules.pop();
        self.tests.pop();
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.within_test_if(is_test(&item.attrs), |finder| {
            visit::visit_item_fn(finder, item);
        });
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        self.within_test_if(is_test(&item.attrs), |finder| {
            visit::visit_item_impl(finder, item);
        });
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.within_test_if(is_test(&item.attrs), |finder| {
            finder.use_tree(&item.tree, &mut Vec::new());
        });
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.note(path.span().start().line, &segments);
        }
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        self.tokens(mac.tokens.clone());
    }

    fn visit_attribute(&mut self, attr: &'ast syn::Attribute) {
        self.tokens(attr.meta.to_token_stream());
    }
}

impl Finder {
    /// Runs `f` with the test flag set when `test` is.
    fn within_test_if(&mut self, test: bool, f: impl FnOnce(&mut Finder)) {
        let in_test = self.in_test() || test;
        self.tests.push(in_test);
        f(self);
        self.tests.pop();
    }
}

/// Whether attributes mark an item as test-only (`#[cfg(test)]`,
/// `#[test]`, `#[tokio::test]`).
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        let path = attr.path();
        if path.is_ident("test") || path.segments.last().is_some_and(|s| s.ident == "test") {
            return true;
        }
        path.is_ident("cfg")
            && attr
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// Whether a path starting with `segment` can be resolved within the crate.
fn is_anchor(segment: &str) -> bool {
    matches!(segment, "crate" | "super" | "self")
}

fn is_ident(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The path written at `trees[start]` (`crate :: a :: b`), and the index
/// after it.
fn path_at(trees: &[TokenTree], start: usize) -> (Vec<String>, usize) {
    let mut segments = Vec::new();
    let mut i = start;
    while let Some(TokenTree::Ident(ident)) = trees.get(i) {
        segments.push(ident.to_string());
        let colons = matches!(
            (trees.get(i + 1), trees.get(i + 2)),
            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
                if a.as_char() == ':' && b.as_char() == ':'
        );
        if !colons {
            return (segments, i + 1);
        }
        i += 3;
    }
    (segments, i)
}

/// `segments` as written in `module`, as a path from the crate root; `None`
/// when it does not start at the crate, `super` or `self` (an external
/// crate, a local name) or climbs above the root.
pub fn resolve(module: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String>;
    let mut rest = segments;
    match segments.first().map(String::as_str) {
        Some("crate") => {
            base = Vec::new();
            rest = &segments[1..];
        }
        Some("self") => {
            base = module.to_vec();
            rest = &segments[1..];
        }
        Some("super") => {
            base = module.to_vec();
            while rest.first().map(String::as_str) == Some("super") {
                base.pop()?;
                rest = &rest[1..];
            }
        }
        _ => return None,
    }
    base.extend(rest.iter().filter(|s| *s != "self").cloned());
    Some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(module: &[&str], source: &str) -> Vec<(String, bool)> {
        let module: Vec<String> = module.iter().map(|s| s.to_string()).collect();
        find(&module, source, false)
            .unwrap()
            .references
            .into_iter()
            .map(|r| (r.target.join("::"), r.in_test))
            .collect()
    }

    #[test]
    fn groups_renames_and_nesting_are_followed() {
        let found = targets(
            &["store", "write"],
            "use crate::{error::{Error as E}, publish as P};",
        );
        assert_eq!(
            found,
            [
                ("error::Error".to_string(), false),
                ("publish".to_string(), false)
            ]
        );
    }

    #[test]
    fn super_climbs_from_the_files_module() {
        let found = targets(
            &["store", "write"],
            "use super::super::publish;\nuse super::read;",
        );
        assert_eq!(
            found,
            [
                ("publish".to_string(), false),
                ("store::read".to_string(), false)
            ]
        );
        assert_eq!(resolve(&[], &["super".into(), "x".into()]), None);
    }

    #[test]
    fn code_after_an_early_test_module_is_still_read() {
        let found = targets(
            &["store"],
            "#[cfg(test)]\nmod tests;\n\nfn later() { crate::publish::post(); }\n",
        );
        assert_eq!(found, [("publish::post".to_string(), false)]);
        let declared = find(
            &["store".into()],
            "#[cfg(test)]\nmod tests;\nmod read;",
            false,
        )
        .unwrap()
        .declared;
        assert_eq!(
            declared,
            [
                Declared {
                    name: "tests".into(),
                    in_test: true
                },
                Declared {
                    name: "read".into(),
                    in_test: false
                }
            ]
        );
    }

    #[test]
    fn paths_in_code_macros_and_attribute_strings_count() {
        let source = r#"
            #[derive(serde::Deserialize)]
            struct S {
                #[serde(deserialize_with = "crate::compare::stats::f64_or_nan")]
                x: f64,
            }
            fn f() -> crate::report::Report {
                let _ = format!("{}", crate::publish::name());
                todo!()
            }
            #[cfg(test)]
            mod tests {
                use crate::commands::run;
            }
        "#;
        let found = targets(&["store"], source);
        assert_eq!(
            found,
            [
                ("compare::stats::f64_or_nan".to_string(), false),
                ("report::Report".to_string(), false),
                ("publish::name".to_string(), false),
                ("commands::run".to_string(), true),
            ]
        );
    }
}
