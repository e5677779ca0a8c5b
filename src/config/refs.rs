//! Names that reach GitHub: a branch must be one git accepts (the rules of
//! `git check-ref-format --branch`), so a name with a newline, a space or
//! `..` never reaches a cache key, an output or a query.

/// Checks `name` as `git check-ref-format --branch` would; the error says
/// which rule it breaks.
pub fn check_branch(name: &str) -> Result<(), String> {
    let broken = if name.is_empty() {
        Some("it is empty")
    } else if name == "@" || name == "HEAD" {
        Some("it is reserved")
    } else if name.starts_with('-') {
        Some("it starts with '-'")
    } else if name.starts_with('/') || name.ends_with('/') || name.contains("//") {
        Some("it starts or ends with '/' or holds '//'")
    } else if name.ends_with('.') {
        Some("it ends with '.'")
    } else if name.contains("..") {
        Some("it holds '..'")
    } else if name.contains("@{") {
        Some("it holds '@{'")
    } else if let Some(c) = name.chars().find(|&c| forbidden(c)) {
        return Err(format!(
            "{name:?} is not a valid branch name: it holds {c:?} (no control characters, spaces or any of ~^:?*[\\)"
        ));
    } else if name
        .split('/')
        .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        Some("a part of it starts with '.' or ends with '.lock'")
    } else {
        None
    };
    match broken {
        Some(rule) => Err(format!("{name:?} is not a valid branch name: {rule}")),
        None => Ok(()),
    }
}

fn forbidden(c: char) -> bool {
    c.is_ascii_control() || matches!(c, ' ' | '~' | '^' | ':' | '?' | '*' | '[' | '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_git_accepts() {
        for name in [
            "main",
            "release/1.x",
            "feature/a-b_c.d",
            "gh-readonly-queue/main/pr-1-abc",
            "ünïcode",
            "a@b",
        ] {
            assert_eq!(check_branch(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn branch_names_git_refuses() {
        for name in [
            "",
            "@",
            "HEAD",
            "-x",
            "/main",
            "main/",
            "a//b",
            "main.",
            "a..b",
            "a@{1}",
            "main\n::error::x",
            "main\r",
            "a b",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[b",
            "a\\b",
            "a\u{7f}",
            ".hidden",
            "a/.b",
            "x.lock",
            "x.lock/y",
        ] {
            assert!(check_branch(name).is_err(), "{name:?}");
        }
        let message = check_branch("main\n::error::x").unwrap_err();
        assert!(!message.contains('\n'), "{message}");
    }
}
