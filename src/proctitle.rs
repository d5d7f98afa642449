//! The process title, as the seed's worker set it with `Process.setproctitle`: `ps` and
//! `systemctl status` show `consumer=myapp-price_drops:server1-price_drops-1 Working...`.
//!
//! Linux shows a process's command line from the memory that held its arguments
//! (`arg_start..arg_end` in /proc/self/stat), so the title is written there, truncated to
//! the room the original arguments had, padded with NULs.

use std::sync::Mutex;

/// The argument area: start address and length. Found once.
static AREA: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// Reads `arg_start` and `arg_end` (fields 48 and 49) from /proc/self/stat.
fn argument_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // after_name starts at field 3.
    let start: usize = fields.get(48 - 3)?.parse().ok()?;
    let end: usize = fields.get(49 - 3)?.parse().ok()?;
    (end > start).then(|| (start, end - start))
}

/// Sets the title; silently does nothing where the argument area cannot be found.
pub fn set(title: &str) {
    let mut area = AREA.lock().unwrap_or_else(|e| e.into_inner());
    if area.is_none() {
        *area = argument_area();
    }
    let Some((start, len)) = *area else {
        return;
    };
    let bytes = title.as_bytes();
    // Keep a final NUL so the kernel reads exactly the area.
    let n = bytes.len().min(len - 1);
    // SAFETY: [start, start+len) is this process's own argument strings, mapped writable on
    // the initial stack for the life of the process. The std library read them at startup
    // (clap has parsed them) and nothing else holds references into them as Rust data.
    unsafe {
        let area = std::slice::from_raw_parts_mut(start as *mut u8, len);
        area[..n].copy_from_slice(&bytes[..n]);
        area[n..].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_is_found() {
        let (start, len) = argument_area().expect("arg_start/arg_end in /proc/self/stat");
        assert!(start > 0);
        assert!(len > 0);
    }
}
