//! Host key policy: a host's key must be in the known_hosts file (OpenSSH format) before we
//! talk to it; a changed key is always refused, and a host that is not listed is refused unless
//! new keys are accepted explicitly, in which case its key is appended to the file.

use base64::Engine;
use ssh2::{CheckResult, HostKeyType, KnownHostFileKind, Session};
use std::io::Write;
use std::path::Path;

/// What the known_hosts file says about a host's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The key is the one on file.
    Known,
    /// The host is on file with a different key: refuse (possible man-in-the-middle).
    Changed,
    /// The host is not on file.
    Unknown,
    /// The key is marked `@revoked` in the file: refuse, whatever else the file says.
    Revoked,
    /// The host is vouched for only by a `@cert-authority` line: host certificates are not
    /// supported, so refuse rather than treat it as unknown (and perhaps accept a new key).
    CertificateAuthority,
}

/// The name OpenSSH writes for a host in known_hosts: `address` for port 22, else
/// `[address]:port`.
pub fn host_pattern(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// The key type name OpenSSH uses for a libssh2 host key type; `None` for an unknown type.
pub fn key_type_name(kind: HostKeyType) -> Option<&'static str> {
    Some(match kind {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => return None,
    })
}

/// One known_hosts line for a host key.
pub fn known_hosts_line(address: &str, port: u16, key_type: &str, key: &[u8]) -> String {
    format!(
        "{} {key_type} {}\n",
        host_pattern(address, port),
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The key types known_hosts `text` lists for the host, in file order, without repeats.
/// Only plain (unhashed) entries are seen; negated patterns and markers are skipped.
/// With these preferred during key exchange, a host offering several key types shows the one
/// on file, as OpenSSH does.
pub fn key_types_on_file(text: &str, address: &str, port: u16) -> Vec<String> {
    let wanted = host_pattern(address, port);
    let mut types = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(kind)) = (fields.next(), fields.next()) else {
            continue;
        };
        if hosts.split(',').any(|h| h == wanted) && !types.iter().any(|t| t == kind) {
            types.push(kind.to_string());
        }
    }
    types
}

/// The SHA256 fingerprint as OpenSSH prints it (`SHA256:` + unpadded base64).
pub fn fingerprint(sha256: &[u8]) -> String {
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha256)
    )
}

/// Checks `key` for `address:port` against known_hosts `text` (OpenSSH format, hashed entries
/// included). A file libssh2 cannot parse at all is an error.
pub fn check(text: &str, address: &str, port: u16, key: &[u8]) -> Result<Verdict, String> {
    // Markers first: libssh2 does not read them, so a revoked key also listed plainly would
    // otherwise pass. A key marked @revoked is refused for every host, as a revoked key is.
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    let mut authority = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (Some("@revoked"), Some(_hosts), Some(_kind), Some(blob)) if blob == encoded => {
                return Ok(Verdict::Revoked)
            }
            (Some("@cert-authority"), Some(hosts), Some(_), Some(_)) => {
                authority |= hosts_match(hosts, address, port);
            }
            _ => {}
        }
    }
    let session = Session::new().map_err(|e| e.to_string())?;
    let mut known = session.known_hosts().map_err(|e| e.to_string())?;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        // One bad line (an unsupported key type, say) must not hide the others.
        if let Err(err) = known.read_str(trimmed, KnownHostFileKind::OpenSSH) {
            tracing::debug!(line = trimmed, error = %err, "known_hosts line skipped");
        }
    }
    Ok(match known.check_port(address, port, key) {
        CheckResult::Match => Verdict::Known,
        CheckResult::Mismatch => Verdict::Changed,
        CheckResult::NotFound if authority => Verdict::CertificateAuthority,
        CheckResult::NotFound => Verdict::Unknown,
        CheckResult::Failure => return Err("libssh2 could not check the host key".into()),
    })
}

/// Whether a known_hosts host field (comma-separated patterns, `*` and `?` wildcards,
/// `!` negation) names `address:port`. Hashed entries (`|1|...`) are not matched here.
fn hosts_match(hosts: &str, address: &str, port: u16) -> bool {
    let name = host_pattern(address, port);
    let mut matched = false;
    for pattern in hosts.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if wildcard(pattern.as_bytes(), name.as_bytes()) {
            if negated {
                return false;
            }
            matched = true;
        }
    }
    matched
}

/// `*` matches any run, `?` one byte.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| wildcard(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard(rest, &text[1..]),
    }
}

/// Appends a line to the known_hosts file (creating it, and its directory, if needed).
pub fn record(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write per line: lines of hosts accepted in parallel do not interleave.
    file.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // An ed25519 public key blob (ssh-keygen output), and another one.
    const KEY_A: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIEagBFGgiwnfFFVG89B4kekeyIVoe0DAzru+kAzVEIDk";
    const KEY_B: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIGKaE5lt2K6lurvVqZpnCyzh8F4RGkZjC9dNDRyHHOD/";

    fn blob(b64: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    #[test]
    fn patterns_and_lines_are_openssh_style() {
        assert_eq!(host_pattern("10.0.0.5", 22), "10.0.0.5");
        assert_eq!(host_pattern("127.0.0.11", 2211), "[127.0.0.11]:2211");
        assert_eq!(
            known_hosts_line("127.0.0.11", 2211, "ssh-ed25519", &blob(KEY_A)),
            format!("[127.0.0.11]:2211 ssh-ed25519 {KEY_A}\n")
        );
        assert_eq!(key_type_name(HostKeyType::Ed25519), Some("ssh-ed25519"));
        assert_eq!(key_type_name(HostKeyType::Unknown), None);
    }

    #[test]
    fn key_types_on_file_are_per_host_and_port() {
        let text = format!(
            "# comment\n[127.0.0.11]:2211 ssh-ed25519 {KEY_A}\n\
             127.0.0.11 ecdsa-sha2-nistp256 AAAA\n\
             a,[127.0.0.11]:2211 ssh-rsa AAAA\n\
             @revoked [127.0.0.11]:2211 ssh-dss AAAA\n"
        );
        assert_eq!(
            key_types_on_file(&text, "127.0.0.11", 2211),
            ["ssh-ed25519", "ssh-rsa"]
        );
        assert_eq!(
            key_types_on_file(&text, "127.0.0.11", 22),
            ["ecdsa-sha2-nistp256"]
        );
        assert!(key_types_on_file(&text, "127.0.0.12", 2211).is_empty());
    }

    #[test]
    fn a_listed_key_matches_and_another_one_is_a_change() {
        let text = format!("[127.0.0.11]:2211 ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            check(&text, "127.0.0.11", 2211, &blob(KEY_A)),
            Ok(Verdict::Known)
        );
        assert_eq!(
            check(&text, "127.0.0.11", 2211, &blob(KEY_B)),
            Ok(Verdict::Changed)
        );
        assert_eq!(
            check(&text, "127.0.0.12", 2211, &blob(KEY_A)),
            Ok(Verdict::Unknown)
        );
        // The same address on another port is another host.
        assert_eq!(
            check(&text, "127.0.0.11", 22, &blob(KEY_A)),
            Ok(Verdict::Unknown)
        );
    }

    #[test]
    fn garbage_lines_do_not_hide_good_ones() {
        let text = format!("this is not a key\n[127.0.0.11]:2211 ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            check(&text, "127.0.0.11", 2211, &blob(KEY_A)),
            Ok(Verdict::Known)
        );
    }

    #[test]
    fn a_revoked_key_is_refused_even_when_also_listed() {
        let text =
            format!("[127.0.0.11]:2211 ssh-ed25519 {KEY_A}\n@revoked * ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            check(&text, "127.0.0.11", 2211, &blob(KEY_A)),
            Ok(Verdict::Revoked)
        );
        let other =
            format!("@revoked * ssh-ed25519 {KEY_B}\n[127.0.0.11]:2211 ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            check(&other, "127.0.0.11", 2211, &blob(KEY_A)),
            Ok(Verdict::Known)
        );
    }

    #[test]
    fn a_host_vouched_for_by_a_certificate_authority_only_is_refused_by_name() {
        let text = format!("@cert-authority *.example.com,[10.0.0.*]:2222 ssh-ed25519 {KEY_B}\n");
        for (address, port) in [("web1.example.com", 22), ("10.0.0.7", 2222)] {
            assert_eq!(
                check(&text, address, port, &blob(KEY_A)),
                Ok(Verdict::CertificateAuthority),
                "{address}:{port}"
            );
        }
        assert_eq!(check(&text, "db1", 22, &blob(KEY_A)), Ok(Verdict::Unknown));
        // Its own key on file wins: the host is known.
        let both = format!("{text}web1.example.com ssh-ed25519 {KEY_A}\n");
        assert_eq!(
            check(&both, "web1.example.com", 22, &blob(KEY_A)),
            Ok(Verdict::Known)
        );
        assert!(!hosts_match(
            "*.example.com,!web1.example.com",
            "web1.example.com",
            22
        ));
    }

    #[test]
    fn fingerprints_look_like_openssh() {
        assert_eq!(
            fingerprint(&[0u8; 32]),
            format!("SHA256:{}", "A".repeat(43))
        );
    }
}
