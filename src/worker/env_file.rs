//! A consumer's `env_file:`: variables for the handler kept in a file on the host (secrets that
//! stay out of the committed manifest), in systemd's `EnvironmentFile=` format, read by the
//! worker each time it starts the handler so that a rotated secret takes effect at the next
//! start.
//!
//! [`parse`] is the format, pure; [`read`] reads a file and parses it. Neither ever puts a
//! value in an error message: values are secrets, and errors end up in the journal.

use crate::manifest::rules::is_env_name;
use crate::manifest::EnvFile;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// An env file as read at one handler start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loaded {
    /// The assignments in file order (a name given twice: the last one wins once collected).
    pub vars: Vec<(String, String)>,
    /// Whether every user of the host may read it (mode & 0o004).
    pub readable_by_others: bool,
}

impl Loaded {
    /// The names it sets, sorted, each once: what may be logged of it.
    pub(crate) fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.vars.iter().map(|(k, _)| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// Reads and parses the env file at `file.path` (already resolved against the app's root).
/// `Ok(None)`: it does not exist and `file.optional` says that is fine.
///
/// # Errors
/// The file cannot be read, is not UTF-8 or does not parse: `PATH[:LINE]: what`, no value.
pub(crate) fn read(file: &EnvFile) -> Result<Option<Loaded>, String> {
    let path = &file.path;
    let cannot = |e: std::io::Error| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound && !file.optional {
            " (write `-` before the path in the manifest's env_file: if it may be missing)"
        } else {
            ""
        };
        format!("{}: cannot read the env_file: {e}{hint}", path.display())
    };
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.optional => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let mode = f.metadata().map_err(cannot)?.permissions().mode();
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).map_err(cannot)?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        format!("{}:{line}: the env_file must be UTF-8 text", path.display())
    })?;
    Ok(Some(Loaded {
        vars: parse(&text, path)?,
        readable_by_others: mode & 0o004 != 0,
    }))
}

/// Whitespace around keys and unquoted values, as systemd counts it (a CRLF file's `\r` too).
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r')
}

/// Parses an env file's text (`file` names it in errors) as systemd's `EnvironmentFile=` does:
///
/// - `KEY=VALUE` lines; blank lines and lines starting with `#` or `;` are ignored; whitespace
///   around the key and before the value is dropped;
/// - an unquoted value loses its trailing whitespace; `\` keeps the next character as is
///   (`\\` is one backslash, `\ ` a space that is kept), and a `\` at the end of a line
///   continues the value on the next one;
/// - `'...'` keeps everything up to the next `'`, newlines included, with no escapes;
/// - `"..."` keeps everything up to the next unescaped `"`, newlines included; `\"`, `\\`,
///   `` \` `` and `\$` stand for the second character, `\` then a newline continues the line,
///   and any other `\x` is kept as the two characters (so `\n` is a backslash and an `n`, as
///   in systemd and the shell);
/// - quotes only open a value (`A=x"y"` is `x"y"`); quoted parts and what follows them are
///   joined (`A="a b"c` is `a bc`).
///
/// Stricter than systemd where it would silently drop or guess: a line without `=`, a name
/// that is not `[A-Za-z_][A-Za-z0-9_]*`, an unterminated quote and a NUL are errors.
///
/// # Errors
/// `FILE:LINE: what is wrong`, without the line's text, which may hold a secret.
pub(crate) fn parse(text: &str, file: &Path) -> Result<Vec<(String, String)>, String> {
    let err = |line: usize, what: &str| format!("{}:{line}: {what}", file.display());
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() + 1;
        return Err(err(
            line,
            "a NUL byte (an environment variable cannot hold one)",
        ));
    }
    let mut out = Vec::new();
    let mut chars = text.chars();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                continue;
            }
            c if is_blank(c) => continue,
            '#' | ';' => {
                if chars.by_ref().any(|c| c == '\n') {
                    line += 1;
                }
                continue;
            }
            _ => {}
        }

        let key_line = line;
        let mut key = String::new();
        let mut next = Some(c);
        loop {
            match next {
                Some('=') => break,
                None | Some('\n') => {
                    return Err(err(
                        key_line,
                        "expected KEY=VALUE, found a line without `=` (comments start with \
                         `#` or `;`)",
                    ))
                }
                Some(c) => key.push(c),
            }
            next = chars.next();
        }
        let key = key.trim_end_matches(is_blank);
        if !is_env_name(key) {
            return Err(err(
                key_line,
                "the name before `=` is not an environment variable name \
                 ([A-Za-z_][A-Za-z0-9_]*)",
            ));
        }

        let mut value = String::new();
        // Bytes of `value` that trimming must keep: quoted or escaped text is kept whole.
        let mut keep = 0;
        // Whether unquoted text has begun: until then, blanks are skipped and a quote opens.
        let mut unquoted = false;
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    line += 1;
                    break;
                }
                c if is_blank(c) && !unquoted => {}
                '\'' if !unquoted => {
                    let open = line;
                    loop {
                        match chars.next() {
                            None => return Err(err(open, "a single quote (') is not closed")),
                            Some('\'') => break,
                            Some(c) => {
                                line += usize::from(c == '\n');
                                value.push(c);
                            }
                        }
                    }
                    keep = value.len();
                }
                '"' if !unquoted => {
                    let open = line;
                    loop {
                        match chars.next() {
                            None => return Err(err(open, "a double quote (\") is not closed")),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                None => return Err(err(open, "a double quote (\") is not closed")),
                                Some('\n') => line += 1,
                                Some(c @ ('"' | '\\' | '`' | '$')) => value.push(c),
                                Some(c) => {
                                    value.push('\\');
                                    value.push(c);
                                }
                            },
                            Some(c) => {
                                line += usize::from(c == '\n');
                                value.push(c);
                            }
                        }
                    }
                    keep = value.len();
                }
                '\\' => {
                    unquoted = true;
                    match chars.next() {
                        None => {}
                        Some('\n') => line += 1,
                        Some(c) => {
                            value.push(c);
                            keep = value.len();
                        }
                    }
                }
                c => {
                    unquoted = true;
                    value.push(c);
                }
            }
        }
        let end = keep.max(value.trim_end_matches(is_blank).len());
        value.truncate(end);
        out.push((key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<(String, String)> {
        parse(text, Path::new("/etc/app.env")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn one(text: &str) -> String {
        let vars = ok(text);
        assert_eq!(vars.len(), 1, "{vars:?}");
        vars[0].1.clone()
    }

    fn err(text: &str) -> String {
        parse(text, Path::new("/etc/app.env")).unwrap_err()
    }

    #[test]
    fn lines_comments_and_blanks() {
        let text = "# a comment\n\n; another\n  A=1\nB = two words  \n\t C\t=\t3\nEMPTY=\nLAST=x";
        let vars = ok(text);
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "3"),
            ("EMPTY", ""),
            ("LAST", "x"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(vars, want);
        assert_eq!(ok(""), []);
        assert_eq!(ok("\n  \n# only comments\n"), []);
        // A CRLF file: the `\r` is trailing whitespace.
        assert_eq!(one("A=1\r\n"), "1");
        // `#` inside a value is not a comment.
        assert_eq!(one("A=x#y ;z"), "x#y ;z");
    }

    #[test]
    fn single_quotes_keep_everything() {
        assert_eq!(
            one("A='  spaced \\n $x \"q\"  '"),
            "  spaced \\n $x \"q\"  "
        );
        assert_eq!(one("A='line one\nline two'\n"), "line one\nline two");
        assert_eq!(one("A=  'x'  "), "x");
    }

    #[test]
    fn double_quotes_take_backslash_escapes() {
        assert_eq!(one(r#"A="say \"hi\"""#), r#"say "hi""#);
        assert_eq!(one(r#"A="back\\slash""#), r"back\slash");
        assert_eq!(one(r#"A="\$HOME \`x\`""#), "$HOME `x`");
        // As in systemd: other escapes are kept as written.
        assert_eq!(one(r#"A="a\nb\tc""#), r"a\nb\tc");
        assert_eq!(one("A=\"two\nlines\""), "two\nlines");
        assert_eq!(one("A=\"joined \\\nline\""), "joined line");
        assert_eq!(one("A=\"  kept  \"  "), "  kept  ");
    }

    #[test]
    fn quotes_only_open_a_value() {
        assert_eq!(one(r#"A=x"y""#), r#"x"y""#);
        assert_eq!(one("A=it's"), "it's");
        assert_eq!(one(r#"A="a b"c"#), "a bc");
        assert_eq!(one(r#"A="a" 'b'"#), "ab");
    }

    #[test]
    fn unquoted_backslashes_and_continuations() {
        assert_eq!(one(r"A=back\\slash"), r"back\slash");
        assert_eq!(one(r"A=\x\y"), "xy");
        assert_eq!(one("A=kept\\ \n"), "kept ");
        assert_eq!(ok("A=one \\\n  two\nB=3")[0].1, "one   two");
        let vars = ok("A=one\\\ntwo\nB=3\n");
        assert_eq!(vars[0].1, "onetwo");
        assert_eq!(vars[1], ("B".to_string(), "3".to_string()));
        assert_eq!(one("A=x\\"), "x");
    }

    #[test]
    fn the_last_of_a_repeated_name_is_listed_last() {
        let vars = ok("A=1\nA=2\n");
        let map: std::collections::BTreeMap<_, _> = vars.into_iter().collect();
        assert_eq!(map["A"], "2");
    }

    #[test]
    fn bad_lines_name_the_file_and_line_but_never_the_text() {
        let msg = err("A=1\n\nthe secret value\n");
        assert_eq!(
            msg,
            "/etc/app.env:3: expected KEY=VALUE, found a line without `=` (comments start with \
             `#` or `;`)"
        );
        let msg = err("A=1\nexport TOKEN=s3cret\n");
        assert!(
            msg.starts_with("/etc/app.env:2: the name before `=` is not an environment"),
            "{msg}"
        );
        assert!(!msg.contains("s3cret") && !msg.contains("TOKEN"), "{msg}");
        assert!(err("1A=x").starts_with("/etc/app.env:1: the name"));
        assert!(err("=x").starts_with("/etc/app.env:1: the name"));
        assert!(err("A-B=x").starts_with("/etc/app.env:1: the name"));
        // The line a quote opened on, even when the file ends lines later.
        let msg = err("A=1\nB=\"s3cret\nmore\n");
        assert_eq!(msg, "/etc/app.env:2: a double quote (\") is not closed");
        let msg = err("A='s3cret\n");
        assert_eq!(msg, "/etc/app.env:1: a single quote (') is not closed");
        assert!(err("A=\"x\\").contains(":1: a double quote"));
        // Line numbers count the lines a quoted value spans.
        assert!(err("A='a\nb'\nbad\n").starts_with("/etc/app.env:3: expected KEY=VALUE"));
        assert!(err("A=\"a\\\nb\"\nbad\n").starts_with("/etc/app.env:3: expected"));
        let msg = err("A=1\nB=s3c\0ret\n");
        assert!(msg.starts_with("/etc/app.env:2: a NUL byte"), "{msg}");
        assert!(!msg.contains("s3c"), "{msg}");
    }

    #[test]
    fn the_example_of_the_docs_parses_as_they_say() {
        let doc = include_str!("../../docs/manifest.md");
        let section = doc.split("- **Format**").nth(1).unwrap();
        let block = section.split("  ```\n").nth(1).unwrap();
        let text: String = block.lines().map(|l| format!("{}\n", &l[2..])).collect();
        let vars: std::collections::BTreeMap<_, _> = ok(&text).into_iter().collect();
        assert_eq!(vars["DATABASE_URL"], "postgres://app@db1/app");
        assert_eq!(vars["API_TOKEN"], "with spaces and a \" quote");
        assert_eq!(vars["PEM"], "-----BEGIN KEY-----\n...\n-----END KEY-----");
        assert_eq!(vars["LONG"], "first part second part");
        assert_eq!(vars.len(), 4);
    }

    fn scratch(name: &str, bytes: &[u8], mode: u32) -> (tempfile::TempDir, EnvFile) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (
            dir,
            EnvFile {
                path,
                optional: false,
            },
        )
    }

    #[test]
    fn read_reports_names_and_who_may_read_it() {
        let (_dir, file) = scratch("app.env", b"B=2\nA=1\nB=3\n", 0o640);
        let loaded = read(&file).unwrap().unwrap();
        assert_eq!(loaded.names(), ["A", "B"]);
        assert!(!loaded.readable_by_others);
        let (_dir, file) = scratch("open.env", b"A=1\n", 0o644);
        assert!(read(&file).unwrap().unwrap().readable_by_others);
    }

    #[test]
    fn a_missing_file_is_an_error_unless_optional() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = EnvFile {
            path: dir.path().join("missing.env"),
            optional: false,
        };
        let msg = read(&file).unwrap_err();
        assert!(
            msg.starts_with(&format!(
                "{}: cannot read the env_file: No such file",
                file.path.display()
            )),
            "{msg}"
        );
        assert!(msg.contains("write `-` before the path"), "{msg}");
        file.optional = true;
        assert_eq!(read(&file), Ok(None));
        // Optional means "may be missing", not "may be broken".
        let (_dir, mut file) = scratch("bad.env", b"A=1\nnot an assignment\n", 0o600);
        file.optional = true;
        assert!(read(&file).unwrap_err().ends_with("bad.env:2: expected KEY=VALUE, found a line without `=` (comments start with `#` or `;`)"));
    }

    #[test]
    fn read_refuses_what_is_not_utf8() {
        let (_dir, file) = scratch("latin1.env", b"A=1\nB=caf\xe9\n", 0o600);
        let msg = read(&file).unwrap_err();
        assert!(
            msg.ends_with("latin1.env:2: the env_file must be UTF-8 text"),
            "{msg}"
        );
    }
}
