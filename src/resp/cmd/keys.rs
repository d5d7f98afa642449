//! KEYS topics: — every topic in the cluster as `topics:<name>`.

use super::{reply_error, show, wrong_arity, Flow};
use crate::resp::frame::{encode_array_header, encode_bulk};
use crate::resp::session::Session;
use bytes::{Bytes, BytesMut};
use std::time::Duration;

const METADATA_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn run(params: &[Bytes], session: &mut Session, out: &mut BytesMut) -> Flow {
    let [pattern] = params else {
        return wrong_arity(out, "keys");
    };
    if pattern.as_ref() != b"topics:" {
        return reply_error(
            out,
            format!(
                "ERR KEYS supports only the pattern 'topics:', got '{}'",
                show(pattern)
            ),
        );
    }
    let shared = session.shared().clone();
    let names =
        tokio::task::spawn_blocking(move || shared.producer.topic_names(METADATA_TIMEOUT)).await;
    match names {
        Ok(Ok(names)) => {
            encode_array_header(out, names.len());
            for name in names {
                encode_bulk(out, format!("topics:{name}").as_bytes());
            }
            Flow::Continue
        }
        Ok(Err(err)) => reply_error(out, format!("ERR cannot list topics: {err}")),
        Err(err) => reply_error(out, format!("ERR cannot list topics: {err}")),
    }
}
