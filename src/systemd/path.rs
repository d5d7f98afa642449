//! systemd's D-Bus object paths for units: `/org/freedesktop/systemd1/unit/<escaped name>`.
//!
//! systemd escapes a unit name for its object path with `sd_bus_path_encode()`: every byte
//! other than `[A-Za-z0-9]` (and a digit in the first position) becomes `_` plus two lowercase
//! hex digits, so `kafka-consumer@orders:1.service` is `kafka_2dconsumer_40orders_3a1_2eservice`.
//! Computing the path locally saves a `GetUnit`/`LoadUnit` round trip per unit; systemd loads
//! a unit on demand when its path is accessed, so this works for units not loaded yet too.

use std::fmt::Write;

/// Where systemd puts unit objects.
pub const UNIT_PATH_PREFIX: &str = "/org/freedesktop/systemd1/unit/";

/// The D-Bus object path of the unit named `unit`, as systemd computes it.
pub fn unit_object_path(unit: &str) -> String {
    let mut path = String::with_capacity(UNIT_PATH_PREFIX.len() + unit.len() * 3);
    path.push_str(UNIT_PATH_PREFIX);
    if unit.is_empty() {
        path.push('_');
        return path;
    }
    for (i, b) in unit.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            path.push(b as char);
        } else {
            let _ = write!(path, "_{b:02x}");
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(unit: &str) -> String {
        unit_object_path(unit)
            .strip_prefix(UNIT_PATH_PREFIX)
            .unwrap()
            .to_string()
    }

    #[test]
    fn escapes_like_systemd() {
        // Values as `busctl --user call org.freedesktop.systemd1 /org/freedesktop/systemd1
        // org.freedesktop.systemd1.Manager LoadUnit s NAME` returns them.
        assert_eq!(esc("dbus.service"), "dbus_2eservice");
        assert_eq!(esc("-.slice"), "_2d_2eslice");
        assert_eq!(
            esc("kafka-consumer@orders:1.service"),
            "kafka_2dconsumer_40orders_3a1_2eservice"
        );
        assert_eq!(esc("user@0.service"), "user_400_2eservice");
        assert_eq!(esc("a_b\\x2d.service"), "a_5fb_5cx2d_2eservice");
    }

    #[test]
    fn a_leading_digit_is_escaped_but_not_later_ones() {
        assert_eq!(esc("1x2.service"), "_31x2_2eservice");
    }

    #[test]
    fn empty_and_non_ascii() {
        assert_eq!(esc(""), "_");
        assert_eq!(esc("é"), "_c3_a9");
    }

    #[test]
    fn every_path_is_a_valid_object_path() {
        for unit in ["x", "kafka-consumer@a.b-c:9.service", "", "1", "@", "é:ü"] {
            let p = unit_object_path(unit);
            zbus::zvariant::ObjectPath::try_from(p.as_str())
                .unwrap_or_else(|e| panic!("{unit:?} -> {p:?}: {e}"));
        }
    }
}
